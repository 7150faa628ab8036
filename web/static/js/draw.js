/**
 * Drawing an area on the map: a circle (press on the centre, drag out the
 * radius, release) or a polygon (click the vertices; double-click or Enter
 * finishes; Backspace removes the last point). Esc cancels. The finished
 * shape stays drawn until cleared and is handed to ``onShape`` (the query).
 */

import { state, invalidate } from "./store.js";
import { t, onLangChange } from "./i18n.js";
import { addLayers, mapContainer, setClicksEnabled, setController, unproject } from "./map.js";
import { circleRing, haversine } from "./util.js";

const CLICK_SLOP_PX = 5;       // a press that moved less is a click, not a drag
const DOUBLE_CLICK_MS = 400;
const DOUBLE_CLICK_PX = 10;
const MIN_RADIUS_M = 20;
const FILL = [95, 179, 255, 40];
const LINE = [95, 179, 255, 255];

export const draw = {
  mode: null,     // null | "circle" | "polygon": the tool in use
  circle: null,   // {center, radius_m} while dragging
  vertices: [],   // polygon points placed so far
  cursor: null,   // [lon, lat] under the pointer (polygon rubber band)
  shape: null,    // finished: {type: "circle", center, radius_m} | {type: "polygon", ring}
};

const ui = {};
let onShape = () => {};
let onClear = () => {};
let press = null;      // {x, y, id} of the pointer down
let lastClick = null;  // {x, y, at}

/** ``handlers.shape(shape)`` when one is finished, ``handlers.clear()`` when cleared. */
export function initDraw(handlers) {
  onShape = handlers.shape;
  onClear = handlers.clear;
  Object.assign(ui, {
    circle: document.getElementById("draw-circle"),
    polygon: document.getElementById("draw-polygon"),
    clear: document.getElementById("draw-clear"),
    hint: document.getElementById("draw-hint"),
  });
  ui.circle.addEventListener("click", () => setMode(draw.mode === "circle" ? null : "circle"));
  ui.polygon.addEventListener("click", () => setMode(draw.mode === "polygon" ? null : "polygon"));
  ui.clear.addEventListener("click", clearShape);
  const box = mapContainer();
  box.addEventListener("pointerdown", onDown, true);
  box.addEventListener("pointermove", onMove, true);
  box.addEventListener("pointerup", onUp, true);
  box.addEventListener("pointercancel", () => { press = null; }, true);
  addLayers(80, drawLayers);
  onLangChange(renderButtons);
  renderButtons();
}

function renderButtons() {
  ui.circle.setAttribute("aria-pressed", draw.mode === "circle" ? "true" : "false");
  ui.polygon.setAttribute("aria-pressed", draw.mode === "polygon" ? "true" : "false");
  ui.clear.disabled = !draw.shape && !draw.mode;
  ui.hint.hidden = draw.mode === null;
  ui.hint.textContent = draw.mode ? t(`draw.hint.${draw.mode}`) : "";
  mapContainer().dataset.cursor = draw.mode ? "crosshair" : "";
  if (!draw.mode) delete mapContainer().dataset.cursor;
}

export function setMode(mode) {
  draw.mode = mode;
  draw.circle = null;
  draw.vertices = [];
  draw.cursor = null;
  press = null;
  lastClick = null;
  // Circles are dragged out, so the map must not pan meanwhile; neither tool
  // may zoom on the double-click that finishes a polygon.
  setController({ dragPan: mode !== "circle", doubleClickZoom: mode === null });
  setClicksEnabled(mode === null);
  renderButtons();
  invalidate("draw");
}

export function clearShape() {
  const had = draw.shape !== null;
  draw.shape = null;
  setMode(null);
  if (had) onClear();
}

function finish(shape) {
  draw.shape = shape;
  setMode(null);
  onShape(shape);
}

function local(ev) {
  const rect = mapContainer().getBoundingClientRect();
  return [ev.clientX - rect.left, ev.clientY - rect.top];
}

function onDown(ev) {
  if (!draw.mode || ev.button !== 0) return;
  const xy = local(ev);
  press = { x: xy[0], y: xy[1], id: ev.pointerId };
  if (draw.mode === "circle") {
    const center = unproject(xy);
    if (!center) return;
    draw.circle = { center, radius_m: 0 };
    mapContainer().setPointerCapture(ev.pointerId);
    ev.stopPropagation();
    invalidate("draw");
  }
}

function onMove(ev) {
  if (!draw.mode) return;
  const xy = local(ev);
  const here = unproject(xy);
  if (!here) return;
  if (draw.mode === "circle" && draw.circle && press) {
    draw.circle.radius_m = haversine(draw.circle.center, here);
    ev.stopPropagation();
    invalidate("draw");
  } else if (draw.mode === "polygon" && draw.vertices.length) {
    draw.cursor = here;
    invalidate("draw");
  }
}

function onUp(ev) {
  if (!draw.mode || !press || ev.pointerId !== press.id) return;
  const xy = local(ev);
  const moved = Math.hypot(xy[0] - press.x, xy[1] - press.y);
  press = null;
  if (draw.mode === "circle" && draw.circle) {
    ev.stopPropagation();
    const { center, radius_m: r } = draw.circle;
    if (r >= MIN_RADIUS_M) finish({ type: "circle", center, radius_m: Math.round(r) });
    else { draw.circle = null; invalidate("draw"); }  // a click, not a drag: try again
    return;
  }
  if (draw.mode !== "polygon" || moved > CLICK_SLOP_PX) return;  // a drag pans the map
  const now = performance.now();
  if (lastClick && now - lastClick.at < DOUBLE_CLICK_MS
      && Math.hypot(xy[0] - lastClick.x, xy[1] - lastClick.y) < DOUBLE_CLICK_PX) {
    lastClick = null;
    finishPolygon();
    return;
  }
  lastClick = { x: xy[0], y: xy[1], at: now };
  const point = unproject(xy);
  if (point) {
    draw.vertices.push(point);
    invalidate("draw");
  }
}

function finishPolygon() {
  if (draw.vertices.length < 3) return;
  const ring = [...draw.vertices, draw.vertices[0]];
  finish({ type: "polygon", ring });
}

/** Keyboard while drawing; returns true when the key was used (Esc, Enter, Backspace). */
export function drawKey(ev) {
  if (!draw.mode) return false;
  if (ev.key === "Escape") { setMode(null); return true; }
  if (draw.mode === "polygon" && ev.key === "Enter") { finishPolygon(); return true; }
  if (draw.mode === "polygon" && ev.key === "Backspace" && draw.vertices.length) {
    draw.vertices.pop();
    invalidate("draw");
    return true;
  }
  return false;
}

/** The outline ring of the finished shape. */
export function shapeRing(shape) {
  return shape.type === "circle" ? circleRing(shape.center, shape.radius_m) : shape.ring;
}

function drawLayers() {
  const layers = [];
  const polygons = [];
  if (draw.shape) polygons.push({ ring: shapeRing(draw.shape) });
  if (draw.circle && draw.circle.radius_m > 0) polygons.push({ ring: circleRing(draw.circle.center, draw.circle.radius_m) });
  if (polygons.length) {
    layers.push(new deck.PolygonLayer({
      id: "draw-shape",
      data: polygons,
      getPolygon: (d) => d.ring,
      filled: true,
      stroked: true,
      getFillColor: FILL,
      getLineColor: LINE,
      getLineWidth: 2,
      lineWidthUnits: "pixels",
    }));
  }
  if (draw.mode === "polygon" && draw.vertices.length) {
    const path = draw.cursor ? [...draw.vertices, draw.cursor] : draw.vertices;
    layers.push(new deck.PathLayer({
      id: "draw-path", data: [{ path }], getPath: (d) => d.path, getColor: LINE, getWidth: 2, widthUnits: "pixels",
    }));
    layers.push(new deck.ScatterplotLayer({
      id: "draw-vertices",
      data: draw.vertices,
      getPosition: (p) => p,
      getRadius: 5,
      radiusUnits: "pixels",
      getFillColor: [255, 255, 255, 255],
      getLineColor: LINE,
      stroked: true,
      lineWidthUnits: "pixels",
      getLineWidth: 2,
    }));
  }
  return layers;
}

// The test handle reads the finished shape.
state.draw = draw;
