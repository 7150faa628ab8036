/**
 * The alert's audit trail in the detail (GET /api/alerts/{id}/audit, oldest
 * first): who did what when, state changes, refused attempts with their
 * reason. Re-read when the alert's lifecycle version changes.
 */

import { state, on } from "./store.js";
import { t, has, onLangChange } from "./i18n.js";
import { alertPath, getJson } from "./api.js";
import * as valid from "./validate.js";
import { roleLabel } from "./labels.js";
import { el, fmtWhen } from "./util.js";

const REFETCH_DELAY_MS = 400;  // the store writes the audit entry around the alert message
// Roles that may read audit trails (names and notes of staff): others are not asked to.
const STAFF = new Set(["dispatcher", "liaison", "engineer", "admin"]);

const ui = {};
let shown = { id: null, key: null };
let entries = null;  // validated list, or "missing" / "forbidden" / {error: message}
let timer = 0;
let controller = null;

export function initAudit() {
  ui.root = document.getElementById("detail-audit");
  ui.summary = ui.root.querySelector("summary");
  ui.body = ui.root.querySelector(".section-body");
  on("selection", check);
  on("alerts", check);
  on("me", () => { shown = { id: null, key: null }; check(); });  // signing in may open the trail
  onLangChange(render);
}

const lifecycleKey = (a) => `${a.version ?? ""}|${a.state}|${a.severity}|${a.assignee ?? ""}|${a.active}`;

function check() {
  const a = state.alerts.get(state.selectedId);
  if (!a) { shown = { id: null, key: null }; return; }
  const key = lifecycleKey(a);
  if (shown.id === a.id && shown.key === key) return;
  const fresh = shown.id !== a.id;
  shown = { id: a.id, key };
  if (fresh) { entries = null; render(); }
  clearTimeout(timer);
  if (!STAFF.has(state.me.role)) {
    entries = "forbidden";
    render();
    return;
  }
  timer = setTimeout(() => load(a.id), fresh ? 0 : REFETCH_DELAY_MS);
}

async function load(id) {
  if (controller) controller.abort();
  controller = new AbortController();
  try {
    const list = valid.audit(await getJson(alertPath(id, "audit"), { signal: controller.signal }));
    if (state.selectedId !== id) return;
    entries = list === null ? { error: "bad answer" } : list;
  } catch (err) {
    if (err.name === "AbortError" || state.selectedId !== id) return;
    entries = err.missing ? "missing" : err.status === 401 || err.status === 403 ? "forbidden" : { error: err.message || String(err) };
    if (!err.missing && entries !== "forbidden") console.warn("citybrain: audit trail failed:", err.message || err);
  }
  render();
}

function actionText(action) {
  return has(`audit.${action}`) ? t(`audit.${action}`) : action;
}

function stateText(s) {
  return s && has(`state.${s}`) ? t(`state.${s}`) : s || "";
}

function render() {
  ui.summary.textContent = t("audit.title");
  if (entries === "missing") {
    ui.body.replaceChildren(el("p", "note", t("audit.unavailable")));
    return;
  }
  if (entries === "forbidden") {
    ui.body.replaceChildren(el("p", "note", t("audit.signin")));
    return;
  }
  if (entries && entries.error) {
    ui.body.replaceChildren(el("p", "note note-error", t("audit.failed", { msg: entries.error })));
    return;
  }
  if (entries === null) { ui.body.replaceChildren(el("p", "note", "…")); return; }
  if (!entries.length) { ui.body.replaceChildren(el("p", "note", t("audit.empty"))); return; }
  const list = el("ol", "audit");
  for (const e of entries) {
    const li = el("li", e.accepted ? "audit-entry" : "audit-entry audit-refused");
    li.dataset.action = e.action;
    const head = el("div", "audit-head");
    head.append(el("time", "audit-time", fmtWhen(e.at)), el("span", "audit-action", actionText(e.action)));
    if (e.to && e.from !== e.to) head.append(el("span", "audit-states", `${stateText(e.from)} → ${stateText(e.to)}`));
    if (!e.accepted) head.append(el("span", "badge badge-refused", t("audit.rejected")));
    li.append(head);
    if (e.by) li.append(el("div", "audit-by", e.role ? t("detail.by", { who: e.by, role: roleLabel(e.role) }) : e.by));
    if (e.note) li.append(el("div", "audit-note", e.note));
    if (!e.accepted && e.reason) li.append(el("div", "audit-reason", e.reason));
    list.append(li);
  }
  ui.body.replaceChildren(list);
}
