/**
 * Acknowledge / Assign / Resolve in the alert detail.
 *
 * POST /api/alerts/{id}/ack|assign|resolve with the signed-in token (202:
 * the change then arrives as a normal websocket ``alert`` message). Buttons
 * are disabled, with the reason shown, when the role, the desks or the state
 * do not allow the action; 401/403/404/409 answers are shown as they are.
 */

import { state, on } from "./store.js";
import { t, onLangChange } from "./i18n.js";
import { alertPath, getJson, postJson } from "./api.js";
import { onAlert } from "./feed.js";
import { permissions } from "./alert-model.js";
import { button, el } from "./util.js";

const ACTIONS = [
  { id: "ack", path: "ack", label: "actions.ack", cls: "act-ack" },
  { id: "assign", path: "assign", label: "actions.assign", cls: "act-assign" },
  { id: "resolve", path: "resolve", label: "actions.resolve", cls: "act-resolve" },
];
const available = { ack: true, assign: true, resolve: true };  // false once the server says it has no such endpoint

const ui = {};
let busy = false;
let pending = null;  // {alertId, version, updated_at} after a 202, until the change arrives
let message = null;  // {kind: "error"|"ok"|"info", text}
let shownFor = null;

export function initActions() {
  ui.root = document.getElementById("detail-actions");
  ui.title = el("h4", null);
  ui.assignee = el("input", "action-input");
  ui.assignee.id = "action-assignee";
  ui.assignee.autocomplete = "off";
  ui.assignee.maxLength = 100;
  ui.assignee.setAttribute("list", "assignee-options");
  ui.note = el("input", "action-input");
  ui.note.id = "action-note";
  ui.note.maxLength = 500;
  ui.assigneeLabel = el("label", "action-field");
  ui.assigneeLabel.htmlFor = "action-assignee";
  ui.noteLabel = el("label", "action-field");
  ui.noteLabel.htmlFor = "action-note";
  ui.options = el("datalist");
  ui.options.id = "assignee-options";
  ui.buttons = {};
  const row = el("div", "action-buttons");
  for (const a of ACTIONS) {
    const b = button(`action ${a.cls}`, "");
    b.dataset.action = a.id;
    b.addEventListener("click", () => submit(a));
    ui.buttons[a.id] = b;
    row.append(b);
  }
  ui.reasons = el("ul", "action-reasons");
  ui.reasons.id = "action-reasons";
  ui.result = el("p", "action-result");
  ui.result.setAttribute("role", "status");
  ui.result.setAttribute("aria-live", "assertive");
  const fields = el("div", "action-fields");
  const f1 = el("div");
  f1.append(ui.assigneeLabel, ui.assignee);
  const f2 = el("div");
  f2.append(ui.noteLabel, ui.note);
  fields.append(f1, f2);
  ui.root.append(ui.title, fields, row, ui.reasons, ui.result, ui.options);
  ui.assignee.addEventListener("input", update);
  for (const input of [ui.assignee, ui.note]) {
    input.addEventListener("keydown", (ev) => { if (ev.key === "Escape") ev.stopPropagation(); });
  }
  on("alerts", update);
  on("me", update);
  on("selection", () => {
    if (state.selectedId !== shownFor) {
      shownFor = state.selectedId;
      ui.assignee.value = "";
      ui.note.value = "";
      message = null;
      pending = null;
    }
    update();
  });
  on("workers", fillAssigneeOptions);
  onLangChange(update);
}

function fillAssigneeOptions() {
  const names = [...state.workers.values()].filter((w) => w.status === "online").map((w) => w.name).sort();
  ui.options.replaceChildren(...[...new Set(names)].slice(0, 200).map((n) => { const o = el("option"); o.value = n; return o; }));
}

function update() {
  const a = state.alerts.get(state.selectedId);
  if (!a) return;
  ui.title.textContent = t("actions.title");
  ui.assigneeLabel.textContent = t("actions.assignee");
  ui.noteLabel.textContent = t("actions.note");
  if (pending && pending.alertId === a.id
      && (a.version !== pending.version || (a.version === null && a.updated_at !== pending.updated_at))) {
    pending = null;
    message = { kind: "ok", text: t("actions.done") };
  }
  const perms = permissions(a, state.me, available);
  const reasons = new Map();
  for (const action of ACTIONS) {
    const b = ui.buttons[action.id];
    let { allowed, reason } = perms[action.id];
    if (allowed && busy) { allowed = false; reason = "reason.busy"; }
    if (allowed && action.id === "assign" && !ui.assignee.value.trim()) { allowed = false; reason = "reason.assignee"; }
    b.textContent = t(action.label);
    b.disabled = !allowed;
    const why = reason ? t(reason, { role: state.me.role }) : "";
    b.title = why;
    if (why) {
      if (!reasons.has(why)) reasons.set(why, []);
      reasons.get(why).push(t(action.label));
    }
  }
  ui.reasons.replaceChildren(...[...reasons].map(([why, names]) => el("li", null, `${names.join(" / ")}: ${why}`)));
  ui.result.textContent = message ? message.text : "";
  ui.result.dataset.kind = message ? message.kind : "";
  ui.root.dataset.alert = a.id;
}

function errorText(err) {
  const msg = err.message || "";
  if (err.missing) return t("reason.unavailable");
  if (err.status === 0) return t("error.network", { msg });
  if ([401, 403, 404, 409].includes(err.status)) return t(`error.${err.status}`, { msg });
  return t("error.other", { status: err.status, msg });
}

async function submit(action) {
  const a = state.alerts.get(state.selectedId);
  if (!a || busy) return;
  const body = {};
  const note = ui.note.value.trim();
  if (note) body.note = note;
  if (action.id === "assign") body.assignee = ui.assignee.value.trim();
  busy = true;
  message = { kind: "info", text: t("reason.busy") };
  update();
  try {
    await postJson(alertPath(a.id, action.path), body);
    pending = { alertId: a.id, version: a.version, updated_at: a.updated_at };
    message = { kind: "info", text: t("actions.sent") };
    ui.note.value = "";
    refetch(a.id);
  } catch (err) {
    if (err.missing) available[action.id] = false;
    message = { kind: "error", text: errorText(err) };
    console.warn(`citybrain: ${action.id} of ${a.id} refused:`, err.status, err.message);
  } finally {
    busy = false;
    update();
  }
}

/** The websocket normally brings the change; reading it back covers a feed that is down. */
function refetch(id) {
  setTimeout(() => {
    if (!pending || pending.alertId !== id) return;
    getJson(alertPath(id))
      .then((body) => { if (body && body.alert) onAlert(body.alert, false); })
      .catch((err) => console.warn("citybrain: reading the alert back failed:", err.message || err));
  }, 1500);
}
