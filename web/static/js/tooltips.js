/**
 * Map tooltips of heatmap cells (fine, roll-up or historical) and outline
 * features, built as DOM nodes from text (never HTML from the network).
 */

import { state } from "./store.js";
import { addTooltip } from "./map.js";
import { t } from "./i18n.js";
import { peopleText, sensorLabel } from "./labels.js";
import { LOS, cellLos, rgbCss } from "./colors.js";
import { el, fmtCount, fmtFixed, fmtNum, fmtTime, isNum, isObj, isStr } from "./util.js";
import { outlineLayers } from "./outlines.js";
import { cellPlace, onPlaces, placeLabel } from "./places.js";

function row(body, key, value) {
  const tr = el("tr");
  const td = el("td");
  if (value instanceof Node) td.append(value); else td.textContent = value;
  tr.append(el("th", null, t(key)), td);
  body.append(tr);
}

export function cellTooltip(c) {
  const box = el("div");
  const head = el("div", "tt-head");
  const los = cellLos(c);
  if (los) {
    const badge = el("span", "tt-los", `LOS ${los}`);
    badge.style.background = rgbCss(LOS[los].fill);
    head.append(badge, el("span", null, `${t("tip.density")} ${fmtFixed(c.density)} ${t("unit.ppm2")}`));
  } else {
    head.append(el("span", null, t("tip.nocamera")));
  }
  if (state.history) head.append(el("span", "tt-history", t("tip.history")));
  // the place line fills in when the cell's place arrives (onPlaces below)
  const place = el("div", "tt-place", placeLabel(cellPlace(c.cell)));
  place.dataset.cell = String(c.cell);
  const table = el("table");
  const body = el("tbody");
  row(body, "tip.people", isNum(c.people) ? peopleText(c) || fmtCount(c.people) : "—");
  row(body, "tip.risk", fmtFixed(c.risk));
  const sensors = isObj(c.sensors) ? Object.entries(c.sensors) : [];
  if (sensors.length) {
    const list = el("div");
    for (const [type, s] of sensors) {
      const alarm = isObj(s) && s.alarm === true;
      list.append(el("div", alarm ? "tt-alarm" : null,
        `${sensorLabel(type)} ${fmtNum(isObj(s) ? s.value : null)}${alarm ? ` ⚠ ${t("tip.alarm")}` : ""}`));
    }
    row(body, "tip.sensors", list);
  } else if (isNum(c.alarms) && c.alarms > 0) {
    row(body, "tip.sensors", `⚠ ${c.alarms}`);
  }
  const tickets = isObj(c.tickets) ? Object.entries(c.tickets).filter(([, n]) => isNum(n)) : [];
  if (tickets.length || isNum(c.tickets_total)) {
    const parts = tickets.map(([cat, n]) => `${cat} ${n}`).join(", ");
    row(body, "tip.tickets", `${isNum(c.tickets_total) ? c.tickets_total : ""}${parts ? ` · ${parts}` : ""}`);
  }
  table.append(body);
  box.append(head, place, table);
  const foot = [String(c.cell)];
  if (isNum(c.children)) foot.push(t("tip.rollup", { n: c.children }));
  else if (Array.isArray(c.children)) foot.push(t("tip.rollup", { n: c.children.length }));
  if (isNum(c.updated_at)) foot.push(fmtTime(c.updated_at));
  box.append(el("div", "tt-foot", foot.join(" · ")));
  return box;
}

function featureTooltip(f, layer) {
  const p = isObj(f.properties) ? f.properties : {};
  const name = isStr(p.name) ? p.name : isStr(p.title) ? p.title : isStr(p.id) ? p.id : null;
  if (!name) return null;
  const box = el("div");
  const entry = outlineLayers.get(layer.id.replace(/^(outline|points)-/, ""));
  box.append(el("div", "tt-head", name));
  if (entry && entry.title) box.append(el("div", "tt-foot", entry.title));
  return box;
}

function fillPlaces(cells) {
  const wanted = new Set(cells);
  for (const line of document.querySelectorAll(".tt-place[data-cell]")) {
    if (wanted.has(line.dataset.cell)) line.textContent = placeLabel(cellPlace(line.dataset.cell));
  }
}

export function initTooltips() {
  onPlaces(fillPlaces);
  addTooltip("cells", cellTooltip);
  addTooltip("outline-*", featureTooltip);  // every outline layer, including later ones
  addTooltip("points-*", featureTooltip);
}
