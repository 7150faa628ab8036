/**
 * The deck.gl map: one Deck instance, its layers assembled from providers,
 * a DOM tooltip, click routing and camera moves.
 *
 * Modules register layer providers (``addLayers(order, fn)``) and, per layer
 * id, a tooltip builder and a click handler. The layer list is rebuilt at
 * most once per frame, only when a topic that feeds it was invalidated or an
 * animation asks for it; deck.gl only recomputes attributes of layers whose
 * data changed, so unchanged layers cost nothing.
 */

import { state, onFrame, requestFrame } from "./store.js";
import { t } from "./i18n.js";
import { throttle } from "./util.js";

const REDRAW_TOPICS = new Set(["heatmap", "outlines", "alerts", "selection", "filter", "workers", "nearby", "draw", "history", "focus", "view"]);
const FLY_MS = 1200;
const ANIMATION_FRAME_MS = 33;  // ~30 fps is smooth enough for a pulsing ring

const providers = [];        // [order, fn(now) -> layer[]]
const tooltips = new Map();  // layer id -> fn(object, layer) -> Node | null
const clicks = new Map();    // layer id -> fn(object, info)
const animations = [];       // fn() -> bool: wants frames
const viewListeners = [];

let deckgl = null;
let container = null;
let tooltipEl = null;
let config = null;
let viewState = null;
let lastAnimationAt = 0;
let controller = { dragRotate: false, touchRotate: false, keyboard: true };
let clicksEnabled = true;  // off while the draw tool owns clicks

export function addLayers(order, fn) {
  providers.push([order, fn]);
  providers.sort((x, y) => x[0] - y[0]);
}

/** ``layerId`` may end in "-*": every layer id with that prefix. */
export function addTooltip(layerId, fn) {
  tooltips.set(layerId, fn);
}

export function addClick(layerId, fn) {
  clicks.set(layerId, fn);
}

export function addAnimation(fn) {
  animations.push(fn);
}

/** ``fn(viewState)`` after the camera moved (throttled). */
export function onViewChange(fn) {
  viewListeners.push(fn);
}

export const getDeck = () => deckgl;
export const getViewState = () => viewState || initialView();

function initialView() {
  const [lon, lat] = config.center;
  return { longitude: lon, latitude: lat, zoom: config.zoom, pitch: 0, bearing: 0 };
}

function buildLayers(now) {
  const layers = [];
  for (const [, fn] of providers) {
    try {
      layers.push(...fn(now));
    } catch (err) {
      console.warn("citybrain: a map layer failed to build:", err);
    }
  }
  return layers;
}

function redraw(now) {
  if (!deckgl) return;
  try {
    deckgl.setProps({ layers: buildLayers(now) });
  } catch (err) {
    console.warn("citybrain: layer update failed:", err);
  }
}

function frameHook(now, topics) {
  const animating = animations.some((fn) => fn());
  const due = animating && now - lastAnimationAt >= ANIMATION_FRAME_MS;
  if ([...topics].some((topic) => REDRAW_TOPICS.has(topic)) || due) {
    if (animating) lastAnimationAt = now;
    redraw(now);
  }
  if (animating) requestFrame();
}

const notifyView = throttle(() => {
  for (const fn of viewListeners) fn(getViewState());
}, 150);

function showTooltip(info) {
  const { object, layer, x, y } = info;
  const fn = object && layer ? tooltips.get(layer.id) || tooltips.get(`${layer.id.split("-")[0]}-*`) : null;
  const node = fn ? fn(object, layer) : null;
  if (!node) { tooltipEl.hidden = true; return; }
  tooltipEl.replaceChildren(node);
  tooltipEl.hidden = false;
  // Keep it inside the map, on the side of the cursor with more room.
  const w = tooltipEl.offsetWidth;
  const h = tooltipEl.offsetHeight;
  const left = x + 16 + w > container.clientWidth ? Math.max(4, x - 16 - w) : x + 16;
  const top = y + 16 + h > container.clientHeight ? Math.max(4, y - 16 - h) : y + 16;
  tooltipEl.style.transform = `translate(${Math.round(left)}px, ${Math.round(top)}px)`;
}

function showError(text) {
  const node = document.getElementById("map-error");
  node.textContent = text;
  node.hidden = false;
}

/** Creates the map in #map; without WebGL or the vendored libraries the alert board still works. */
export function createMap(cfg) {
  config = cfg;
  container = document.getElementById("map");
  tooltipEl = document.getElementById("map-tooltip");
  onFrame(frameHook);
  if (typeof deck === "undefined" || typeof h3 === "undefined") {
    showError(t("map.libs"));
    return false;
  }
  try {
    deckgl = new deck.DeckGL({
      container,
      views: new deck.MapView({ repeat: false }),
      initialViewState: initialView(),
      // 2D only: a tilted wall display is harder to read and easy to bump into.
      controller,
      layers: [],
      onViewStateChange: ({ viewState: vs }) => {
        viewState = vs;
        notifyView();
      },
      onHover: showTooltip,
      onClick: (info) => {
        if (!clicksEnabled) return;
        const fn = info.object && info.layer ? clicks.get(info.layer.id) : null;
        if (fn) fn(info.object, info);
      },
      getCursor: ({ isDragging, isHovering }) => (container.dataset.cursor || (isDragging ? "grabbing" : isHovering ? "pointer" : "grab")),
      onError: (err) => console.warn("citybrain: map error:", err),
    });
  } catch (err) {
    console.warn("citybrain: cannot start the map:", err);
    showError(t("map.webgl"));
    return false;
  }
  container.addEventListener("pointerleave", () => { tooltipEl.hidden = true; });
  return true;
}

/** Whether clicks on map objects select them (the draw tool turns this off). */
export function setClicksEnabled(value) {
  clicksEnabled = value;
}

/** Changes controller options (the draw tool turns dragging and double-click zoom off). */
export function setController(options) {
  controller = { ...controller, ...options };
  if (deckgl) deckgl.setProps({ controller });
}

export function flyTo(lon, lat, zoom) {
  if (!deckgl) return;
  const from = getViewState();
  // A new initialViewState is how standalone deck.gl takes a programmatic
  // camera move; the user keeps full control afterwards.
  deckgl.setProps({
    initialViewState: {
      ...from, longitude: lon, latitude: lat, zoom,
      transitionDuration: state.reducedMotion ? 0 : FLY_MS,
      transitionInterpolator: new deck.FlyToInterpolator(),
    },
  });
}

/** Jumps without animation (tests, and the scrubber's "back to view"). */
export function jumpTo(lon, lat, zoom) {
  if (!deckgl) return;
  viewState = { ...getViewState(), longitude: lon, latitude: lat, zoom };
  deckgl.setProps({ initialViewState: { ...viewState } });
  notifyView();
}

export const resetView = () => flyTo(config.center[0], config.center[1], config.zoom);

function viewport() {
  if (!deckgl) return null;
  const vps = deckgl.getViewports();
  return vps && vps.length ? vps[0] : null;
}

/** [lon, lat] under the map-relative pixel [x, y], or null before the map exists. */
export function unproject(xy) {
  const vp = viewport();
  return vp ? vp.unproject(xy) : null;
}

/** Map-relative pixel [x, y] of [lon, lat]. */
export function project(lonLat) {
  const vp = viewport();
  return vp ? vp.project(lonLat) : null;
}

/** The map container (the draw tool listens on it). */
export const mapContainer = () => container;
