/**
 * Grid workers (网格员) on the map: the websocket snapshot's ``workers`` and
 * ``workers`` messages keep them current; a server whose snapshot has none
 * is asked once over GET /api/workers (404: the layer stays hidden).
 */

import { state, on, invalidate } from "./store.js";
import { addLayers, addTooltip } from "./map.js";
import { getJson } from "./api.js";
import { onWorkers } from "./feed.js";
import { t } from "./i18n.js";
import { WORKER_RGB } from "./colors.js";
import { el, fmtWhen } from "./util.js";
import { getBool, setBool } from "./prefs.js";

export const workersLayer = { on: getBool("layer.workers", true), available: null };
let data = [];
let fetching = null;

export function setWorkersOn(value) {
  workersLayer.on = value;
  setBool("layer.workers", value);
  invalidate("workers");
}

/** The snapshot had no workers: read them once over HTTP (a server without them answers 404). */
export function fetchWorkers() {
  if (fetching || workersLayer.available === false) return;
  fetching = getJson("/api/workers")
    .then((body) => {
      workersLayer.available = true;
      onWorkers(body || {}, true);
    })
    .catch((err) => {
      if (err.missing || err.status === 404) workersLayer.available = false;
      else console.warn("citybrain: /api/workers failed:", err.message || err);
      invalidate("workers", "outlines");
    })
    .finally(() => { fetching = null; });
}

export function workerTooltip(w) {
  const box = el("div");
  const head = el("div", "tt-head");
  const status = el("span", `tt-status tt-${w.status}`, t(`worker.${w.status}`));
  head.append(el("b", null, w.name), status);
  const table = el("table");
  const body = el("tbody");
  for (const [k, v] of [["worker.grid", w.grid || "—"], ["worker.updated", fmtWhen(w.updated_at)]]) {
    const tr = el("tr");
    tr.append(el("th", null, t(k)), el("td", null, v));
    body.append(tr);
  }
  table.append(body);
  box.append(head, table, el("div", "tt-foot", w.id));
  return box;
}

export function initWorkers() {
  on("workers", () => {
    data = [...state.workers.values()];
    if (data.length) workersLayer.available = true;
  });
  addLayers(60, () => {
    if (!workersLayer.on || !data.length) return [];
    return [new deck.ScatterplotLayer({
      id: "workers",
      data,
      getPosition: (w) => [w.lon, w.lat],
      getRadius: 6,
      radiusUnits: "pixels",
      filled: true,
      stroked: true,
      getFillColor: (w) => [...WORKER_RGB[w.status], w.status === "online" ? 230 : 140],
      getLineColor: [10, 14, 19, 255],
      lineWidthUnits: "pixels",
      getLineWidth: 2,
      pickable: true,
    })];
  });
  addTooltip("workers", workerTooltip);
}
