/**
 * The alert detail: header, lifecycle badges and timing, then the sections
 * (handling, trend, video linkage, evidence, audit trail, location). The
 * summary, evidence and location are redrawn when the alert object changes;
 * the fetched sections (trend, nearby, audit) live in their own modules and
 * keep their content until they have something newer.
 */

import { state, on } from "./store.js";
import { t, onLangChange } from "./i18n.js";
import { alertPeopleText, alertText, peakText, ruleLabel } from "./labels.js";
import { isLive } from "./alert-model.js";
import { conditionBadge, desksNode, stateBadge } from "./alert-panel.js";
import { evidenceBlock, forgetRevealed } from "./evidence.js";
import { clearSelection } from "./selection.js";
import { nameText, placeLabel } from "./places.js";
import { el, fmtLatLon, fmtWhen, isNum, isStr, kvTable } from "./util.js";

const ui = {};
let shown = null;
let epoch = 0;  // bumped when the language or the signed-in person changes: draw again
let shownEpoch = -1;

export function initAlertDetail() {
  for (const id of ["alert-detail", "detail-title", "detail-close", "detail-summary", "detail-evidence", "detail-location"]) {
    ui[id] = document.getElementById(id);
  }
  ui["detail-close"].addEventListener("click", () => clearSelection());
  on("selection", render);
  on("alerts", render);
  onLangChange(() => { epoch += 1; render(); });
  on("me", () => { forgetRevealed(); epoch += 1; render(); });
}

function render() {
  const root = ui["alert-detail"];
  const a = state.selectedId !== null ? state.alerts.get(state.selectedId) : null;
  if (!a) {
    if (state.selectedId !== null) clearSelection();  // pruned or gone: nothing to show
    root.hidden = true;
    shown = null;
    return;
  }
  const wasHidden = root.hidden;
  if (root.dataset.id !== a.id) document.getElementById("detail-body").scrollTop = 0;  // a new alert starts at its top
  root.hidden = false;
  root.dataset.severity = isLive(a) ? a.severity : "ended";
  root.dataset.state = a.state;
  root.dataset.id = a.id;
  if (shown === a && shownEpoch === epoch) return;
  shown = a;
  shownEpoch = epoch;
  ui["detail-title"].textContent = `${t(`sev.${a.severity}`)} · ${ruleLabel(a.rule)}`;
  ui["detail-summary"].replaceChildren(...summaryNodes(a));
  ui["detail-evidence"].replaceChildren(evidenceBlock(a));
  ui["detail-location"].replaceChildren(...locationNodes(a));
  if (wasHidden) ui["detail-close"].focus({ preventScroll: true });
}

function summaryNodes(a) {
  const nodes = [el("p", "detail-summary-text", alertText(a))];
  const peak = peakText(a);
  if (peak) nodes.push(el("p", "detail-peak", peak));
  const people = alertPeopleText(a);
  if (people) nodes.push(el("p", "detail-people", people));
  const where = placeLabel(a.place);
  if (where) nodes.push(el("p", "detail-place", where));
  const badges = el("div", "detail-badges");
  badges.append(el("span", "sev-badge", t(`sev.${a.severity}`)), stateBadge(a), conditionBadge(a));
  if (a.escalated === true) badges.append(el("span", "badge badge-escalated", t("badge.escalated")));
  if (Number.isInteger(a.reopened) && a.reopened > 0) badges.append(el("span", "badge", t("badge.reopened", { n: a.reopened })));
  nodes.push(badges);
  const timing = [`${t("detail.opened")} ${fmtWhen(a.opened_at)}`, `${t("detail.updated")} ${fmtWhen(a.updated_at)}`];
  if (isNum(a.cleared_at)) timing.push(`${t("detail.cleared")} ${fmtWhen(a.cleared_at)}`);
  if (isNum(a.closed_at)) timing.push(`${t("detail.closed")} ${fmtWhen(a.closed_at)}`);
  nodes.push(el("p", "detail-timing", timing.join(" · ")));
  const who = [];
  if (isStr(a.acked_by)) who.push([t("detail.acked"), `${a.acked_by} · ${fmtWhen(a.acked_at)}`]);
  if (isStr(a.assignee)) {
    who.push([t("detail.assignee"), `${a.assignee}${isStr(a.assigned_by) ? ` (${a.assigned_by})` : ""} · ${fmtWhen(a.assigned_at)}`]);
  }
  if (isStr(a.resolved_by)) who.push([t("state.resolved"), `${a.resolved_by} · ${fmtWhen(a.resolved_at)}`]);
  if (isStr(a.resolution)) who.push([t("detail.resolution"), a.resolution]);
  if (who.length) nodes.push(kvTable(who));
  return nodes;
}

function placeRows(place) {
  if (!place) return [];
  const rows = [];
  if (place.zones.length) rows.push([t("detail.zones"), place.zones.map(nameText).join("、")]);
  const area = [place.street, place.district].filter(Boolean).map(nameText).join(" · ");
  if (area) rows.push([t("detail.area"), area]);
  if (place.nearest) {
    rows.push([t("detail.nearest"), t("detail.nearest.value", { name: nameText(place.nearest), m: Math.round(place.nearest.distance_m) })]);
  }
  return rows;
}

function locationNodes(a) {
  const desks = a.desks.length ? desksNode(a.desks) : "—";
  return [el("h4", null, t("detail.location")), kvTable([
    ...placeRows(a.place),
    [t("detail.loc"), fmtLatLon(a.lat, a.lon)],
    [t("detail.cell"), isStr(a.cell) ? a.cell : "—", "mono"],
    [t("detail.desks"), desks],
    [t("detail.id"), a.id, "mono"],
    [t("detail.rule_version"), isStr(a.rule_version) ? a.rule_version : "—", "mono"],
  ])];
}
