/**
 * The alert list: desk queue and state filters, lifecycle badges, severity
 * summary. Items are keyed by alert id and reused, refilled only when their
 * alert object (or the language) changed, and moved only when the order
 * changed, so scroll position and keyboard focus survive every update.
 */

import { state, on, invalidate } from "./store.js";
import { t, has, getLang, onLangChange } from "./i18n.js";
import { alertText, builtinDeskIds, deskLabel, peakText, ruleLabel } from "./labels.js";
import { ORDERS, awaitingReview, compareAlerts, conditionActive, filterDesks, isLive, matchesDesks, matchesState } from "./alert-model.js";
import { el, fmtLatLon, fmtWhen, isStr } from "./util.js";
import { getPref, setPref } from "./prefs.js";
import { selectAlert } from "./selection.js";
import { fold, placeLabel, placeWords } from "./places.js";

const STATE_FILTERS = ["all", "active", "open", "acknowledged", "closed"];
const items = new Map();  // alert id -> <li>
let langEpoch = 0;
let deskPrefSet = false;
const ui = {};

/** Alerts that pass the desk filter (the map shows the same set). */
export function deskSet() {
  return filterDesks(state.deskFilter, state.me.desks);
}

export function visibleOnMap(a) {
  return matchesDesks(a, deskSet());
}

export function initAlertPanel() {
  Object.assign(ui, {
    list: document.getElementById("alert-list"),
    empty: document.getElementById("alert-empty"),
    summary: document.getElementById("severity-summary"),
    count: document.getElementById("open-alert-count"),
    desk: document.getElementById("desk-filter"),
    state: document.getElementById("state-filter"),
    order: document.getElementById("order-filter"),
  });
  const storedDesk = getPref("desk", null);
  deskPrefSet = storedDesk !== null;
  state.deskFilter = storedDesk || "all";
  state.stateFilter = getPref("state", "all", (v) => STATE_FILTERS.includes(v));
  state.alertOrder = getPref("order", ORDERS[0], (v) => ORDERS.includes(v));
  state.placeQuery = "";

  ui.list.addEventListener("click", (ev) => {
    const li = ev.target.closest("li.alert");
    if (li) selectAlert(li.dataset.id);
  });
  ui.list.addEventListener("keydown", (ev) => {
    const li = ev.target.closest("li.alert");
    if (!li) return;
    if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); selectAlert(li.dataset.id); }
    if (ev.key === "ArrowDown" || ev.key === "ArrowUp") {  // walk the queue from the keyboard
      ev.preventDefault();
      const next = ev.key === "ArrowDown" ? li.nextElementSibling : li.previousElementSibling;
      if (next) next.focus();
    }
  });
  ui.desk.addEventListener("change", () => {
    state.deskFilter = ui.desk.value;
    deskPrefSet = true;
    setPref("desk", ui.desk.value);
    invalidate("filter", "alerts");
  });
  ui.order.addEventListener("change", () => {
    state.alertOrder = ui.order.value;
    setPref("order", ui.order.value);
    invalidate("filter");
  });
  ui.state.addEventListener("change", () => {
    state.stateFilter = ui.state.value;
    setPref("state", ui.state.value);
    invalidate("filter", "alerts");
  });
  on("alerts", render);
  on("filter", render);
  on("me", () => {
    // A liaison's screen starts on its own desks unless the user chose otherwise.
    if (!deskPrefSet && state.me.role === "liaison" && state.me.desks.length) state.deskFilter = "mine";
    if (state.deskFilter === "mine" && !state.me.desks.length) state.deskFilter = "all";
    renderDeskOptions();
    invalidate("filter");
  });
  on("desks", renderDeskOptions);
  onLangChange(() => {
    langEpoch += 1;
    renderDeskOptions();
    renderStateOptions();
    renderOrderOptions();
    invalidate("alerts");
  });
  renderDeskOptions();
  renderStateOptions();
  renderOrderOptions();
}

function option(value, text, selected) {
  const o = el("option", null, text);
  o.value = value;
  o.selected = selected;
  return o;
}

function renderDeskOptions() {
  const ids = state.desks.length ? state.desks.map((d) => d.id) : builtinDeskIds();
  const seen = new Set(ids);
  for (const a of state.alerts.values()) for (const d of a.desks) if (!seen.has(d)) { seen.add(d); ids.push(d); }
  if (!["all", "mine"].includes(state.deskFilter) && !seen.has(state.deskFilter)) ids.push(state.deskFilter);
  const opts = [option("all", t("filter.desk.all"), state.deskFilter === "all")];
  if (state.me.desks.length) {
    const mine = state.me.desks.map(deskLabel).join(" · ");
    opts.push(option("mine", `${t("filter.desk.mine")} (${mine})`, state.deskFilter === "mine"));
  }
  for (const id of ids) opts.push(option(id, deskLabel(id), state.deskFilter === id));
  ui.desk.replaceChildren(...opts);
  ui.desk.title = state.desks.length ? "" : t("filter.desk.fallback");
}

function renderStateOptions() {
  ui.state.replaceChildren(...STATE_FILTERS.map((f) => option(f, t(`filter.state.${f}`), state.stateFilter === f)));
}

function renderOrderOptions() {
  ui.order.replaceChildren(...ORDERS.map((o) => option(o, t(`filter.order.${o}`), state.alertOrder === o)));
}

/** Whether the alert's place or title holds the search box's text. */
function matchesPlace(a, query) {
  return !query || fold(`${placeWords(a.place)} ${alertText(a)}`).includes(query);
}

function render() {
  const desks = deskSet();
  const all = [...state.alerts.values()];
  const query = fold(state.placeQuery);
  const shown = all
    .filter((a) => matchesDesks(a, desks) && matchesState(a, state.stateFilter) && matchesPlace(a, query))
    .sort((x, y) => compareAlerts(x, y, state.alertOrder));
  const keep = new Set(shown.map((a) => a.id));
  for (const [id, li] of items) {
    if (!keep.has(id)) { li.remove(); items.delete(id); }
  }
  let prev = null;
  for (const a of shown) {
    let li = items.get(a.id);
    if (!li) {
      li = el("li", "alert");
      li.tabIndex = 0;
      li.setAttribute("role", "button");
      items.set(a.id, li);
    }
    if (li.cbAlert !== a || li.cbLang !== langEpoch) fillItem(li, a);
    li.classList.toggle("selected", a.id === state.selectedId);
    li.setAttribute("aria-pressed", a.id === state.selectedId ? "true" : "false");
    li.classList.toggle("is-new", state.newAlertIds.has(a.id));
    const want = prev ? prev.nextSibling : ui.list.firstChild;
    if (li !== want) ui.list.insertBefore(li, want);
    prev = li;
  }
  ui.empty.hidden = shown.length > 0;
  ui.empty.textContent = all.length ? t("panel.filtered", { n: all.length }) : t("panel.empty");

  const counts = { critical: 0, warning: 0, info: 0 };
  for (const a of shown) if (isLive(a)) counts[a.severity] += 1;
  ui.summary.replaceChildren(...Object.keys(counts).map((k) => el("span", k, `${t(`sev.${k}`)} ${counts[k]}`)));

  let live = 0;
  let critical = 0;
  for (const a of all) {
    if (!isLive(a)) continue;
    live += 1;
    if (a.severity === "critical" && a.state === "open") critical += 1;
  }
  ui.count.textContent = String(live);
  ui.count.classList.toggle("has-critical", critical > 0);
  ui.count.classList.toggle("has-open", critical === 0 && live > 0);
}

function fillItem(li, a) {
  li.cbAlert = a;
  li.cbLang = langEpoch;
  li.dataset.id = a.id;
  li.dataset.rule = String(a.rule ?? "");
  li.dataset.severity = a.severity;
  li.dataset.state = a.state;
  li.dataset.live = isLive(a) ? "true" : "false";
  li.dataset.active = conditionActive(a) ? "true" : "false";

  const top = el("div", "alert-row");
  top.append(
    el("span", "sev-badge", t(`sev.${a.severity}`)),
    stateBadge(a),
    conditionBadge(a),
    el("time", "alert-time", fmtWhen(a.opened_at)),
  );
  const title = el("div", "alert-title", alertText(a));
  const meta = el("div", "alert-row alert-meta");
  meta.append(el("span", "alert-rule", ruleLabel(a.rule)), desksNode(a.desks));
  if (a.escalated === true) meta.append(el("span", "badge badge-escalated", t("badge.escalated")));
  if (Number.isInteger(a.reopened) && a.reopened > 0) meta.append(el("span", "badge", t("badge.reopened", { n: a.reopened })));
  if (isStr(a.assignee)) meta.append(el("span", "alert-assignee", t("badge.assignee", { name: a.assignee })));
  const where = placeLabel(a.place);
  const loc = el("span", "alert-loc", where || fmtLatLon(a.lat, a.lon));
  loc.title = [where ? fmtLatLon(a.lat, a.lon) : "", isStr(a.cell) ? `H3 ${a.cell}` : ""].filter(Boolean).join(" · ");
  meta.append(loc);
  const peak = peakText(a);
  li.replaceChildren(top, title, ...(peak ? [el("div", "alert-peak", peak)] : []), meta);
  li.lang = getLang() === "en" ? "en" : "zh-CN";
  li.setAttribute("aria-label", `${t(`sev.${a.severity}`)} · ${stateText(a)} · ${alertText(a)}`);
}

export function stateText(a) {
  return has(`state.${a.state}`) ? t(`state.${a.state}`) : a.state;
}

export function stateBadge(a) {
  const badge = el("span", "state-badge alert-state", stateText(a));
  badge.dataset.state = a.state;
  return badge;
}

export function conditionBadge(a) {
  const active = conditionActive(a);
  if (!active && awaitingReview(a)) return el("span", "cond-badge cond-review", t("cond.review"));
  const badge = el("span", `cond-badge ${active ? "cond-active" : "cond-cleared"}`, t(active ? "cond.active" : "cond.cleared"));
  return badge;
}

export function desksNode(desks) {
  const wrap = el("span", "desks");
  for (const d of desks) {
    const chip = el("span", "desk", deskLabel(d));
    chip.title = d;
    wrap.append(chip);
  }
  return wrap;
}
