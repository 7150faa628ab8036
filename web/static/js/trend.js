/**
 * Mini trend of the selected alert's cell over the last 60 minutes
 * (GET /api/cells/{cell}/history?minutes=60): two small inline SVG line
 * charts, density (persons/m²) and people, with first/last times and the
 * range of each series. Refreshed every minute while the alert is shown.
 */

import { state, on } from "./store.js";
import { t, onLangChange } from "./i18n.js";
import { getJson } from "./api.js";
import * as valid from "./validate.js";
import { el, fmtCount, fmtFixed, fmtTime, isNum, isStr } from "./util.js";

const MINUTES = 60;
const REFRESH_MS = 60000;
const W = 300;
const H = 56;
const SVG = "http://www.w3.org/2000/svg";

const ui = {};
let cell = null;
let points = null;  // validated list, or "missing" / {error}
let timer = 0;
let controller = null;

export function initTrend() {
  ui.root = document.getElementById("detail-trend");
  ui.summary = ui.root.querySelector("summary");
  ui.body = ui.root.querySelector(".section-body");
  on("selection", check);
  on("alerts", check);
  onLangChange(render);
}

function check() {
  const a = state.alerts.get(state.selectedId);
  const next = a && isStr(a.cell) ? a.cell : null;
  if (next === cell) return;
  cell = next;
  points = null;
  clearInterval(timer);
  render();
  if (cell) {
    load(cell);
    timer = setInterval(() => load(cell), REFRESH_MS);
  }
}

async function load(id) {
  if (controller) controller.abort();
  controller = new AbortController();
  try {
    const body = await getJson(`/api/cells/${encodeURIComponent(id)}/history?minutes=${MINUTES}`, { signal: controller.signal });
    if (cell !== id) return;
    points = valid.cellHistory(body) ?? { error: "bad answer" };
  } catch (err) {
    if (err.name === "AbortError" || cell !== id) return;
    points = err.missing ? "missing" : { error: err.message || String(err) };
    if (err.missing) clearInterval(timer);
  }
  render();
}

function svgEl(tag, attrs) {
  const node = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, String(v));
  return node;
}

/** One sparkline of ``key`` over ``pts`` (time axis shared by both charts). */
function chart(pts, key, label, fmt, cls, t0, t1) {
  const series = pts.filter((p) => isNum(p[key]));
  const box = el("figure", `trend ${cls}`);
  box.dataset.series = key;
  const caption = el("figcaption");
  if (!series.length) {
    caption.append(el("span", "trend-label", label), el("span", "trend-last", "—"));
    box.append(caption);
    return box;
  }
  const values = series.map((p) => p[key]);
  const lo = Math.min(0, ...values);
  const hi = Math.max(...values, lo + 1e-9);
  const x = (tm) => (t1 > t0 ? ((tm - t0) / (t1 - t0)) * W : W);
  const y = (v) => H - 4 - ((v - lo) / (hi - lo)) * (H - 8);
  const d = series.map((p, i) => `${i ? "L" : "M"}${x(p.t).toFixed(1)},${y(p[key]).toFixed(1)}`).join("");
  const svg = svgEl("svg", { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: "none", role: "img", class: "trend-svg" });
  svg.setAttribute("aria-label", `${label}: ${fmt(values[0])} → ${fmt(values[values.length - 1])}`);
  svg.append(svgEl("line", { x1: 0, x2: W, y1: y(hi), y2: y(hi), class: "trend-grid" }));
  svg.append(svgEl("line", { x1: 0, x2: W, y1: y(lo), y2: y(lo), class: "trend-grid" }));
  const area = `${d}L${x(series[series.length - 1].t).toFixed(1)},${H}L${x(series[0].t).toFixed(1)},${H}Z`;
  svg.append(svgEl("path", { d: area, class: "trend-area" }), svgEl("path", { d, class: "trend-line" }));
  const last = series[series.length - 1];
  svg.append(svgEl("circle", { cx: x(last.t), cy: y(last[key]), r: 3, class: "trend-dot" }));
  caption.append(el("span", "trend-label", label), el("span", "trend-last", fmt(last[key])),
    el("span", "trend-range", `${fmt(Math.min(...values))} – ${fmt(Math.max(...values))}`));
  box.append(caption, svg);
  return box;
}

function render() {
  ui.summary.textContent = t("trend.title");
  ui.root.hidden = cell === null;
  if (points === "missing") { ui.body.replaceChildren(el("p", "note", t("trend.unavailable"))); return; }
  if (points && points.error) { ui.body.replaceChildren(el("p", "note note-error", t("trend.failed", { msg: points.error }))); return; }
  if (points === null) { ui.body.replaceChildren(el("p", "note", "…")); return; }
  if (!points.length) { ui.body.replaceChildren(el("p", "note", t("trend.empty"))); return; }
  const t1 = Math.max(Date.now(), points[points.length - 1].t);
  const t0 = t1 - MINUTES * 60000;
  const inRange = points.filter((p) => p.t >= t0);
  const axis = el("div", "trend-axis");
  axis.append(el("span", null, fmtTime(t0)), el("span", null, fmtTime(t1)));
  ui.body.replaceChildren(
    chart(inRange, "density", t("trend.density"), (v) => fmtFixed(v), "trend-density", t0, t1),
    chart(inRange, "people", t("trend.people"), fmtCount, "trend-people", t0, t1),
    axis,
  );
}
