/*
 * citybrain command map: entry point (an ES module; the modules are in js/).
 *
 * Loaded after the locally served UMD bundles that define the globals `h3`
 * and `deck`. Message contract: docs/protocol.md. Data flow: websocket and
 * HTTP answers only mutate the state (js/store.js) and invalidate topics; one
 * requestAnimationFrame pass redraws what depends on them.
 */

import { state, invalidate, on } from "./js/store.js";
import { applyStatic, onLangChange } from "./js/i18n.js";
import { setDesks } from "./js/labels.js";
import { getJson } from "./js/api.js";
import * as valid from "./js/validate.js";
import { connect, feedWorks, reopenIfSignedInChanged } from "./js/connection.js";
import { handleMessage, setFeedHooks } from "./js/feed.js";
import { setLosLimits } from "./js/colors.js";
import { addLayers, createMap, getDeck, getViewState, jumpTo, mapContainer, onViewChange, project, resetView } from "./js/map.js";
import { heatmapInfo, heatmapLayer, initHeatmap, onView, resetStyles } from "./js/heatmap.js";
import { loadOutlines, overLayers, underLayers } from "./js/outlines.js";
import { initMarkers } from "./js/markers.js";
import { initTooltips } from "./js/tooltips.js";
import { fetchWorkers, initWorkers } from "./js/workers.js";
import { initLegend } from "./js/legend.js";
import { initTopbar, renderStatus } from "./js/topbar.js";
import { initAlertPanel, visibleOnMap } from "./js/alert-panel.js";
import { initAlertDetail } from "./js/alert-detail.js";
import { initActions } from "./js/actions.js";
import { initAudit } from "./js/audit.js";
import { initTrend } from "./js/trend.js";
import { initNearby } from "./js/nearby.js";
import { adoptStoredToken, initAuth } from "./js/auth.js";
import { alertTone, initSound } from "./js/sound.js";
import { drawKey, initDraw } from "./js/draw.js";
import { clearQuery, initQuery, queryShape } from "./js/query.js";
import { initScrubber } from "./js/scrubber.js";
import { setPlaceResolution } from "./js/places.js";
import { initPlaceSearch } from "./js/place-search.js";
import { clearSelection, selectAlert } from "./js/selection.js";

const DEFAULT_CONFIG = {
  center: [113.10, 23.02], zoom: 12, h3_resolution: 9, tile_url: null,
  district: "/api/district", zones: "/api/zones", district_name: null, los_limits: null,
};

/** Public handle for debugging and the browser tests. The Maps are never replaced, only mutated. */
window.citybrain = {
  cells: state.cells,
  alerts: state.alerts,
  workers: state.workers,
  stats: state.stats,
  state,
  get deck() { return getDeck(); },
  heatmap: () => heatmapInfo(),
  view: () => getViewState(),
  jumpTo,
  select: (id) => selectAlert(id),
  /** Page pixel [x, y] of [lon, lat] (to point the mouse at a place). */
  pageXY(lonLat) {
    const xy = project(lonLat);
    if (!xy) return null;
    const rect = mapContainer().getBoundingClientRect();
    return [rect.left + xy[0], rect.top + xy[1]];
  },
};

async function loadDesks() {
  try {
    const list = valid.desks(await getJson("/api/desks"));
    if (!list) throw new Error("answer has no desks array");
    state.desks = list;
    setDesks(list);
    invalidate("desks", "alerts");
  } catch (err) {
    if (!err.missing) console.warn("citybrain: /api/desks unavailable, using built-in desk names:", err.message || err);
  }
}

async function loadConfig() {
  try {
    return valid.config(await getJson("/api/config"), DEFAULT_CONFIG);
  } catch (err) {
    console.warn("citybrain: /api/config unavailable, using defaults:", err.message || err);
    return { ...DEFAULT_CONFIG };
  }
}

function onKey(ev) {
  if (document.querySelector("dialog[open]")) return;  // the dialog handles its own keys
  const typing = ev.target.closest && ev.target.closest("input, textarea, select");
  if (drawKey(ev)) { ev.preventDefault(); return; }
  if (typing) return;
  if (ev.key === "Escape" && state.selectedId !== null) clearSelection();
}

async function start() {
  state.reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;
  applyStatic(document);
  initTopbar();
  initSound();
  initAlertPanel();
  initAlertDetail();
  initActions();
  initAudit();
  initTrend();
  initNearby();
  initQuery();
  initPlaceSearch();
  // The tone follows the desk queue: a liaison's screen does not ring for other desks.
  setFeedHooks({
    tone: (a) => { if (visibleOnMap(a)) alertTone(); },
    noWorkersInSnapshot: fetchWorkers,
    snapshot: feedWorks,
  });
  document.addEventListener("keydown", onKey);
  document.getElementById("reset-view").addEventListener("click", resetView);
  onLangChange(() => invalidate("alerts", "selection", "heatmap"));
  on("me", reopenIfSignedInChanged);  // signed in or out: the feed as this caller may see it

  // The feed does not depend on the config: connect at once, in parallel (with the
  // tab's token, if it signed in before).
  adoptStoredToken();
  connect({ message: handleMessage, status: renderStatus });
  const auth = initAuth();
  loadDesks();

  const config = await loadConfig();
  state.config = config;
  if (config.los_limits) { setLosLimits(config.los_limits); resetStyles(); }
  setPlaceResolution(config.h3_resolution);
  initHeatmap(config);
  createMap(config);
  addLayers(10, () => underLayers(config));
  addLayers(20, () => [heatmapLayer()]);
  addLayers(30, () => overLayers());
  initMarkers();
  initWorkers();
  initTooltips();
  initLegend();
  initDraw({ shape: queryShape, clear: clearQuery });
  initScrubber();
  onViewChange(onView);
  onView(getViewState());
  // Everything that arrived before the views existed is drawn now.
  invalidate("cells", "alerts", "workers", "outlines", "me", "filter");
  await Promise.all([loadOutlines(config), auth]);
}

start().catch((err) => console.warn("citybrain: start-up failed:", err));
