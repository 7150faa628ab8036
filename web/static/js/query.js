/**
 * What is inside a drawn area: POST /api/query with the circle or polygon,
 * and the counts in a panel on the map (buildings and residents, enterprises
 * with the largest few, cameras, grid workers online/total, live people and
 * density). The live figures are re-read while the shape stays drawn.
 */

import { state } from "./store.js";
import { t, onLangChange } from "./i18n.js";
import { postJson } from "./api.js";
import * as valid from "./validate.js";
import { clearShape } from "./draw.js";
import { button, el, fmtArea, fmtCount, fmtDistance, fmtFixed, isNum } from "./util.js";

const REFRESH_MS = 15000;
const TOP_ENTERPRISES = 5;

const ui = {};
let shape = null;
let result = null;   // validated answer
let status = null;   // "running" | "missing" | {error}
let seq = 0;
let timer = 0;
let startedAt = 0;
let elapsed = null;

export function initQuery() {
  ui.panel = document.getElementById("query-panel");
  onLangChange(render);
}

function body(s) {
  if (s.type === "circle") return { center: s.center, radius_m: s.radius_m };
  return { geometry: { type: "Polygon", coordinates: [s.ring] } };
}

async function run(quiet) {
  if (!shape) return;
  const mine = ++seq;
  if (!quiet) { status = "running"; render(); }
  startedAt = performance.now();
  try {
    const answer = valid.queryResult(await postJson("/api/query", body(shape)));
    if (mine !== seq) return;  // a newer shape or refresh superseded this answer
    elapsed = Math.round(performance.now() - startedAt);
    if (!answer) throw new Error("bad answer");
    result = answer;
    status = null;
    state.lastQuery = { shape, result: answer, elapsed_ms: elapsed };  // read by the browser tests
  } catch (err) {
    if (mine !== seq) return;
    status = err.missing ? "missing" : { error: err.message || String(err) };
    if (err.missing) clearInterval(timer);
  }
  render();
}

/** A shape was finished: count what is inside it now, and keep the live figures fresh. */
export function queryShape(s) {
  shape = s;
  result = null;
  clearInterval(timer);
  timer = setInterval(() => run(true), REFRESH_MS);
  run(false);
}

export function clearQuery() {
  shape = null;
  result = null;
  status = null;
  seq += 1;
  clearInterval(timer);
  render();
}

function stat(key, value, sub, name) {
  const box = el("div", "q-stat");
  box.dataset.stat = name;
  box.append(el("div", "q-label", t(key)), el("div", "q-value", value));
  if (sub) box.append(el("div", "q-sub", sub));
  return box;
}

function render() {
  if (!ui.panel) return;
  ui.panel.hidden = shape === null;
  if (!shape) { ui.panel.replaceChildren(); return; }
  const head = el("div", "q-head");
  const close = button("detail-close", "×", t("query.close"));
  close.setAttribute("aria-label", t("query.close"));
  close.addEventListener("click", () => clearShape());
  const what = shape.type === "circle" ? `${t("draw.circle")} · ${t("query.radius")} ${fmtDistance(shape.radius_m)}` : t("draw.polygon");
  head.append(el("h3", null, t("query.title")), el("span", "q-shape", what), close);
  const parts = [head];
  if (status === "missing") parts.push(el("p", "note", t("query.unavailable")));
  else if (status && status.error) parts.push(el("p", "note note-error", t("query.failed", { msg: status.error })));
  else if (status === "running" || !result) parts.push(el("p", "note", t("query.running")));
  if (result && status !== "missing") {
    const r = result;
    const grid = el("div", "q-grid");
    grid.append(
      stat("query.buildings", fmtCount(r.buildings.count), `${t("query.residents")} ${fmtCount(r.buildings.residents)}`, "buildings"),
      stat("query.enterprises", fmtCount(r.enterprises.count), `${t("query.employees")} ${fmtCount(r.enterprises.employees)}`, "enterprises"),
      stat("query.cameras", fmtCount(r.cameras.count), null, "cameras"),
      stat("query.workers", `${fmtCount(r.workers.online)} / ${fmtCount(r.workers.count)}`, null, "workers"),
      stat("query.people", fmtCount(r.live.people), isNum(r.live.cells) ? `${t("query.cells")} ${r.live.cells}` : null, "people"),
      stat("query.density", fmtFixed(r.live.density), r.live.los ? `LOS ${r.live.los}` : null, "density"),
    );
    parts.push(grid);
    const top = [...r.enterprises.items].sort((x, y) => (y.employees ?? 0) - (x.employees ?? 0)).slice(0, TOP_ENTERPRISES);
    if (top.length) {
      parts.push(el("h4", null, t("query.top")));
      const list = el("ol", "q-enterprises");
      for (const e of top) {
        const li = el("li");
        li.append(el("span", "q-ent-name", e.name), el("span", "q-ent-industry", e.industry || ""),
          el("span", "q-ent-emp", isNum(e.employees) ? fmtCount(e.employees) : "—"));
        list.append(li);
      }
      parts.push(list);
    }
    const foot = [`${t("query.area")} ${fmtArea(r.area_m2)}`];
    if (isNum(r.took_ms)) foot.push(t("query.took", { ms: Math.round(r.took_ms) }));
    if (elapsed !== null) foot.push(`⇄ ${elapsed} ms`);
    parts.push(el("p", "q-foot", foot.join(" · ")));
  }
  ui.panel.replaceChildren(...parts);
  ui.panel.dataset.ready = result && !status ? "true" : "false";
}
