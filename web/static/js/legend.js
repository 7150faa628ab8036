/**
 * The legend (for the heatmap view in use), the view switch (density / LOS /
 * risk, remembered), the resolution badge and the layer switches.
 */

import { state, on } from "./store.js";
import { t, onLangChange } from "./i18n.js";
import { DENSITY_MAX, DENSITY_STOPS, LOS, LOS_LETTERS, RISK_STOPS, SEVERITY_RGB, WORKER_RGB, getLosLimits, rgbCss } from "./colors.js";
import { heatmapInfo, setView } from "./heatmap.js";
import { layerListAvailable, outlineLayers, setLayerOn } from "./outlines.js";
import { setWorkersOn, workersLayer } from "./workers.js";
import { el } from "./util.js";
import { getPref, setPref } from "./prefs.js";

const VIEWS = ["density", "los", "risk"];
const ui = {};

export function initLegend() {
  Object.assign(ui, {
    views: document.getElementById("view-switch"),
    scale: document.getElementById("legend-scale"),
    title: document.getElementById("legend-title"),
    layers: document.getElementById("legend-layers"),
    res: document.getElementById("res-badge"),
    markers: document.getElementById("legend-markers"),
  });
  setView(getPref("view", "los", (v) => VIEWS.includes(v)));
  ui.views.addEventListener("click", (ev) => {
    const b = ev.target.closest("button[data-view]");
    if (!b) return;
    setView(b.dataset.view);
    setPref("view", b.dataset.view);
    render();
  });
  ui.layers.addEventListener("change", (ev) => {
    const box = ev.target.closest("input[data-layer]");
    if (!box) return;
    if (box.dataset.layer === "workers") setWorkersOn(box.checked); else setLayerOn(box.dataset.layer, box.checked);
  });
  on("outlines", renderLayers);
  on("workers", renderLayers);
  on("heatmap", renderRes);
  on("history", renderRes);
  onLangChange(render);
  render();
}

function render() {
  for (const b of ui.views.querySelectorAll("button[data-view]")) {
    b.setAttribute("aria-pressed", b.dataset.view === state.view ? "true" : "false");
  }
  ui.title.textContent = t(`legend.${state.view}`);
  ui.scale.replaceChildren(...(state.view === "los" ? losScale() : rampScale(state.view)));
  const marks = ["critical", "warning", "info"].map((k) => {
    const m = el("span", `marker marker-${k}`);
    m.style.borderColor = rgbCss(SEVERITY_RGB[k]);
    const wrap = el("span", "legend-item");
    wrap.append(m, el("span", null, t(`sev.${k}`)));
    return wrap;
  });
  const online = el("span", "legend-item");
  const dot = el("span", "dot dot-online");
  dot.style.background = rgbCss(WORKER_RGB.online);
  online.append(dot, el("span", null, `${t("legend.workers")} ${t("worker.online")}`));
  ui.markers.replaceChildren(...marks, online);
  renderLayers();
  renderRes();
}

function losScale() {
  const limits = getLosLimits();
  const list = el("ol", "legend-los");
  for (const [i, letter] of LOS_LETTERS.entries()) {
    const li = el("li");
    const sw = el("span", "swatch");
    sw.style.background = rgbCss(LOS[letter].fill);
    if (LOS[letter].line) sw.style.boxShadow = `inset 0 0 0 2px ${rgbCss(LOS[letter].line)}`;
    const range = i < limits.length ? `≤${limits[i]}` : `>${limits[limits.length - 1]}`;
    li.append(sw, el("span", "letter", letter), el("span", "range", range));
    li.title = `${t(`los.${letter}`)} · ${range} ${t("unit.ppm2")}`;
    list.append(li);
  }
  const risk = el("div", "legend-row");
  risk.append(el("span", "swatch swatch-risk"), el("span", null, t("legend.nocamera")));
  return [list, risk];
}

function rampScale(view) {
  const stops = view === "density" ? DENSITY_STOPS : RISK_STOPS;
  const max = view === "density" ? DENSITY_MAX : 1;
  const bar = el("div", "legend-ramp");
  bar.style.background = `linear-gradient(90deg, ${stops.map(([x, c]) => `${rgbCss(c)} ${Math.round((x / max) * 100)}%`).join(", ")})`;
  const ticks = el("div", "legend-ticks");
  const values = view === "density" ? [0, 1, 2, 3, "4+"] : [0, 0.25, 0.5, 0.75, 1];
  ticks.append(...values.map((v) => el("span", null, String(v))));
  return [bar, ticks];
}

function toggle(id, label, checked) {
  const wrap = el("label", "layer-toggle");
  const box = el("input");
  box.type = "checkbox";
  box.dataset.layer = id;
  box.checked = checked;
  wrap.append(box, el("span", null, label));
  return wrap;
}

function renderLayers() {
  const items = [];
  for (const entry of outlineLayers.values()) {
    const label = entry.title || t(`layer.${entry.kind === "basemap" ? "basemap" : entry.id}`);
    items.push(toggle(entry.id, label, entry.on));
  }
  if (workersLayer.available !== false) items.push(toggle("workers", t("layer.workers"), workersLayer.on));
  if (!layerListAvailable()) {
    const note = el("span", "note", t("layer.unavailable"));
    items.push(note);
  }
  // Rebuild only when something changed, so a checkbox never loses focus mid-use.
  const key = items.map((n) => n.textContent + (n.querySelector("input")?.checked ? "1" : "0")).join("|");
  if (ui.layers.dataset.key === key) return;
  ui.layers.dataset.key = key;
  ui.layers.replaceChildren(...items);
}

function renderRes() {
  const info = heatmapInfo();
  ui.res.textContent = t(info.coarse ? "res.coarse" : "res.fine", { res: info.res });
  ui.res.dataset.coarse = info.coarse ? "true" : "false";
}
