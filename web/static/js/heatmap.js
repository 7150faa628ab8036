/**
 * The H3 heatmap: which cells to draw, at which resolution, in which view.
 *
 * Resolution follows the zoom: the finest resolution (the pipeline's, live
 * over the websocket) while its hexagons are at least MIN_HEX_PX wide on
 * screen; further out, server roll-ups from GET /api/cells?res=N, refreshed
 * while cell deltas arrive. The previous data stays on screen until the new
 * set has arrived, so zooming and updates never blank the map (no flicker).
 * While the time scrubber is active, its historical frame is drawn instead.
 */

import { state, invalidate, on, malformed } from "./store.js";
import { getJson } from "./api.js";
import * as valid from "./validate.js";
import { cellStyle } from "./colors.js";

const MIN_HEX_PX = 14;          // a hexagon narrower than this is noise on a wall
const COARSEST = 5;             // ~8 km hexagons: the whole district in a few cells
const COARSE_REFRESH_MS = 3000; // roll-ups are re-read at most this often while cells change
const RETRY_FAILED_MS = 30000;  // a resolution the server refused is not asked again before this
const KEEP_PREVIOUS_MS = 15000; // an older roll-up bridges the wait for a new resolution

let fineRes = 9;
let res = 9;
let liveFine = [];
const coarse = { res: null, cells: [], fetchedAt: 0, loading: null, stale: false, failedAt: new Map() };
let styles = new WeakMap();
const resListeners = [];

export function initHeatmap(config) {
  fineRes = config.h3_resolution;
  res = fineRes;
  on("cells", () => {
    liveFine = Array.from(state.cells.values());
    if (res < fineRes) {
      coarse.stale = true;
      maybeRefreshCoarse();
    }
    invalidate("heatmap");
  });
  on("history", () => invalidate("heatmap"));
  setInterval(maybeRefreshCoarse, COARSE_REFRESH_MS);
}

/** The finest resolution whose hexagons are still MIN_HEX_PX wide at ``zoom`` and ``lat``. */
export function resolutionFor(zoom, lat) {
  if (typeof h3 === "undefined") return fineRes;
  const metresPerPx = (40075016.686 * Math.cos((lat * Math.PI) / 180)) / (512 * 2 ** zoom);
  for (let r = fineRes; r > COARSEST; r -= 1) {
    if ((2 * h3.getHexagonEdgeLengthAvg(r, "m")) / metresPerPx >= MIN_HEX_PX) return r;
  }
  return Math.min(fineRes, COARSEST);
}

/** Called by the map when the view settles; switches resolution if the zoom asks for it. */
export function onView(viewState) {
  const next = resolutionFor(viewState.zoom, viewState.latitude);
  if (next === res) return;
  res = next;
  if (res < fineRes) {
    coarse.stale = true;
    maybeRefreshCoarse(true);
  }
  for (const fn of resListeners) fn(res);
  invalidate("heatmap");
}

export function onResolutionChange(fn) {
  resListeners.push(fn);
}

export const currentResolution = () => res;

/** What the resolution badge says: {res, coarse, history} of the cells on screen now. */
export function heatmapInfo() {
  const { res: shown } = choose();
  return { res: shown, coarse: shown < fineRes, history: state.history !== null };
}

function maybeRefreshCoarse(force = false) {
  if (res >= fineRes || state.history || coarse.loading) return;
  if (coarse.failedAt.has(res)) return;
  if (!force && !(coarse.stale && Date.now() - coarse.fetchedAt >= COARSE_REFRESH_MS)) return;
  const want = res;
  coarse.stale = false;
  coarse.loading = getJson(`/api/cells?res=${want}`)
    .then((body) => {
      if (!body || !Array.isArray(body.cells)) throw new Error("answer has no cells array");
      const cells = [];
      for (const c of body.cells) if (valid.cell(c)) cells.push(c); else malformed("bad roll-up cell", c);
      coarse.res = want;
      coarse.cells = cells;
      coarse.fetchedAt = Date.now();
      invalidate("heatmap");
    })
    .catch((err) => {
      coarse.failedAt.set(want, Date.now());
      setTimeout(() => coarse.failedAt.delete(want), RETRY_FAILED_MS);
      console.warn(`citybrain: roll-up r${want} unavailable, showing fine cells:`, err.message || err);
      invalidate("heatmap");
    })
    .finally(() => {
      coarse.loading = null;
      if (res !== want && res < fineRes) maybeRefreshCoarse(true);  // zoom moved on meanwhile
    });
}

/**
 * The cells the heatmap layer draws now: the historical frame while
 * scrubbing; else the roll-up of the wanted resolution; while that loads, the
 * previous roll-up if it is recent (zooming between coarse levels), else the
 * fine cells. A refused roll-up falls back to the fine cells.
 */
export function heatmapCells() {
  return choose().cells;
}

function choose() {
  if (state.history) return { cells: state.history.cells, res: state.history.resolution ?? res };
  const usable = res < fineRes && coarse.res !== null && !coarse.failedAt.has(res);
  if (usable && (coarse.res === res || Date.now() - coarse.fetchedAt < KEEP_PREVIOUS_MS)) {
    return { cells: coarse.cells, res: coarse.res };
  }
  return { cells: liveFine, res: fineRes };
}

/** Cached style of a cell in the current view (three accessors share one computation). */
export function styleOf(c) {
  let s = styles.get(c);
  if (!s) {
    s = cellStyle(c, state.view);
    styles.set(c, s);
  }
  return s;
}

/** The view switch changed (density / LOS / risk): drop cached styles. */
export function setView(view) {
  state.view = view;
  styles = new WeakMap();
  invalidate("heatmap");
}

/** The colour bands changed (config): drop cached styles. */
export function resetStyles() {
  styles = new WeakMap();
}

/** The deck.gl layer of the heatmap. */
export function heatmapLayer() {
  return new deck.H3HexagonLayer({
    id: "cells",
    data: heatmapCells(),
    getHexagon: (c) => c.cell,
    extruded: false,
    filled: true,
    stroked: true,
    coverage: 0.94,  // hairline gaps keep neighbouring cells distinguishable
    lineWidthUnits: "pixels",
    getFillColor: (c) => styleOf(c).fill,
    getLineColor: (c) => styleOf(c).line,
    getLineWidth: (c) => styleOf(c).width,
    pickable: true,
    autoHighlight: true,
    highlightColor: [255, 255, 255, 80],
    updateTriggers: { getFillColor: state.view, getLineColor: state.view, getLineWidth: state.view },
  });
}
