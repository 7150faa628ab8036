/**
 * Video linkage: the cameras within 500 m of the selected alert, nearest
 * first, with their stream URLs (copy / open), and the nearest online grid
 * workers (GET /api/alerts/{id}/nearby). Both are highlighted on the map;
 * pointing at a row highlights its marker.
 */

import { state, on, invalidate } from "./store.js";
import { t, onLangChange } from "./i18n.js";
import { alertPath, getJson } from "./api.js";
import * as valid from "./validate.js";
import { addLayers, addTooltip } from "./map.js";
import { CAMERA_RGB, WORKER_RGB } from "./colors.js";
import { workerTooltip } from "./workers.js";
import { button, circleRing, copyText, el, fmtDistance, safeHttpUrl } from "./util.js";

const RADIUS_M = 500;
const ui = {};
let loadedFor = null;
let status = null;  // null (loading) | "missing" | {error}
let controller = null;

export function initNearby() {
  ui.root = document.getElementById("detail-nearby");
  ui.summary = ui.root.querySelector("summary");
  ui.body = ui.root.querySelector(".section-body");
  on("selection", check);
  on("alerts", check);
  on("nearby", render);
  onLangChange(render);
  addLayers(65, nearbyLayers);
  addTooltip("nearby-cameras", cameraTooltip);
  addTooltip("nearby-workers", workerTooltip);
}

function check() {
  const a = state.alerts.get(state.selectedId);
  const key = a ? `${a.id}|${a.cell}` : null;
  if (key === loadedFor) return;
  loadedFor = key;
  state.nearby = null;
  status = null;
  invalidate("nearby");
  if (a) load(a.id, key);
}

async function load(id, key) {
  if (controller) controller.abort();
  controller = new AbortController();
  try {
    const body = await getJson(`${alertPath(id, "nearby")}?radius_m=${RADIUS_M}`, { signal: controller.signal });
    if (loadedFor !== key) return;
    const found = valid.nearby(body);
    if (!found) { status = { error: "bad answer" }; } else { state.nearby = { alertId: id, ...found }; status = "ok"; }
  } catch (err) {
    if (err.name === "AbortError" || loadedFor !== key) return;
    status = err.missing ? "missing" : { error: err.message || String(err) };
  }
  invalidate("nearby");
}

function setFocus(kind, id) {
  const same = state.focus && state.focus.kind === kind && state.focus.id === id;
  if (same || (!state.focus && kind === null)) return;
  state.focus = kind ? { kind, id } : null;
  invalidate("focus");
}

function hoverable(row, kind, id) {
  row.addEventListener("pointerenter", () => setFocus(kind, id));
  row.addEventListener("pointerleave", () => setFocus(null, null));
  row.addEventListener("focusin", () => setFocus(kind, id));
  row.addEventListener("focusout", () => setFocus(null, null));
}

function copyButton(url) {
  const b = button("mini", t("nearby.copy"), t("nearby.copy.title"));
  b.addEventListener("click", async () => {
    try {
      await copyText(url);
      b.textContent = t("nearby.copied");
    } catch (err) {
      console.warn("citybrain: copy failed:", err);
      b.textContent = t("nearby.copy_failed");
    }
    setTimeout(() => { b.textContent = t("nearby.copy"); }, 1500);
  });
  return b;
}

function cameraRow(c, i) {
  const li = el("li", "nearby-camera");
  li.dataset.id = c.id;
  li.tabIndex = -1;
  const head = el("div", "nearby-head");
  head.append(el("span", "rank", String(i + 1)), el("span", "mono", c.id),
    el("span", "nearby-name", c.name && c.name !== c.id ? c.name : ""), el("span", "nearby-dist", fmtDistance(c.distance_m)));
  li.append(head);
  if (c.stream_url) {
    const line = el("div", "stream");
    const url = el("input", "stream-url");
    url.readOnly = true;
    url.value = c.stream_url;
    url.setAttribute("aria-label", `${t("camera.label")} ${c.id}`);
    line.append(url, copyButton(c.stream_url));
    const href = safeHttpUrl(c.stream_url);
    if (href) {
      const a = el("a", "mini", t("nearby.open"));
      a.href = href;
      a.target = "_blank";
      a.rel = "noopener noreferrer";
      line.append(a);
    }
    li.append(line);
  }
  hoverable(li, "camera", c.id);
  return li;
}

function workerRow(w) {
  const li = el("li", "nearby-worker");
  li.dataset.id = w.id;
  li.dataset.status = w.status;
  li.tabIndex = -1;
  li.append(el("span", `dot dot-${w.status}`), el("span", "nearby-name", w.name), el("span", "nearby-grid", w.grid || ""),
    el("span", "nearby-status", t(`worker.${w.status}`)), el("span", "nearby-dist", fmtDistance(w.distance_m)));
  hoverable(li, "worker", w.id);
  return li;
}

function render() {
  ui.summary.textContent = t("nearby.title");
  if (status === "missing") { ui.body.replaceChildren(el("p", "note", t("nearby.unavailable"))); return; }
  if (status && status.error) { ui.body.replaceChildren(el("p", "note note-error", t("nearby.failed", { msg: status.error }))); return; }
  const n = state.nearby;
  if (!n) { ui.body.replaceChildren(el("p", "note", "…")); return; }
  const r = Math.round(n.radius_m);
  const parts = [el("h5", null, t("nearby.cameras", { r, n: n.cameras.length }))];
  if (n.cameras.length) {
    const list = el("ol", "nearby-list");
    list.append(...n.cameras.map(cameraRow));
    parts.push(list);
  } else {
    parts.push(el("p", "note", t("nearby.no_cameras", { r })));
  }
  parts.push(el("h5", null, t("nearby.workers")));
  if (n.workers.length) {
    const list = el("ul", "nearby-list");
    list.append(...n.workers.map(workerRow));
    parts.push(list);
  } else {
    parts.push(el("p", "note", t("nearby.no_workers")));
  }
  ui.body.replaceChildren(...parts);
}

function cameraTooltip(c) {
  const box = el("div");
  box.append(el("div", "tt-head", `${t("camera.label")} ${c.id}`));
  if (c.name) box.append(el("div", null, c.name));
  box.append(el("div", "tt-foot", `${t("camera.distance")} ${fmtDistance(c.distance_m)}`));
  return box;
}

function nearbyLayers() {
  const n = state.nearby;
  if (!n || n.alertId !== state.selectedId) return [];
  const focus = state.focus || {};
  const layers = [];
  if (n.center) {
    layers.push(new deck.PathLayer({
      id: "nearby-ring",
      data: [{ path: circleRing(n.center, n.radius_m) }],
      getPath: (d) => d.path,
      getColor: [...CAMERA_RGB, 160],
      getWidth: 1.5,
      widthUnits: "pixels",
    }));
  }
  layers.push(new deck.ScatterplotLayer({
    id: "nearby-workers",
    data: n.workers,
    getPosition: (w) => [w.lon, w.lat],
    getRadius: (w) => (focus.kind === "worker" && focus.id === w.id ? 16 : 11),
    radiusUnits: "pixels",
    filled: false,
    stroked: true,
    getLineColor: (w) => [...WORKER_RGB[w.status], 255],
    lineWidthUnits: "pixels",
    getLineWidth: 3,
    pickable: true,
    updateTriggers: { getRadius: [focus.kind, focus.id] },
  }));
  layers.push(new deck.ScatterplotLayer({
    id: "nearby-cameras",
    data: n.cameras,
    getPosition: (c) => [c.lon, c.lat],
    getRadius: (c) => (focus.kind === "camera" && focus.id === c.id ? 13 : 9),
    radiusUnits: "pixels",
    filled: true,
    stroked: true,
    getFillColor: (c) => (focus.kind === "camera" && focus.id === c.id ? [255, 255, 255, 255] : [...CAMERA_RGB, 230]),
    getLineColor: [10, 14, 19, 255],
    lineWidthUnits: "pixels",
    getLineWidth: 2,
    pickable: true,
    updateTriggers: { getRadius: [focus.kind, focus.id], getFillColor: [focus.kind, focus.id] },
  }));
  layers.push(new deck.TextLayer({
    id: "nearby-camera-rank",
    data: n.cameras,
    getPosition: (c) => [c.lon, c.lat],
    getText: (c) => String(n.cameras.indexOf(c) + 1),
    characterSet: "0123456789",
    getSize: 12,
    getColor: [10, 14, 19, 255],
    fontWeight: 700,
    getTextAnchor: "middle",
    getAlignmentBaseline: "center",
  }));
  return layers;
}
