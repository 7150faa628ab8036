/**
 * Which alert is selected (shown in the detail, highlighted on the map), and
 * moving the camera to it.
 */

import { state, invalidate } from "./store.js";
import { flyTo, getViewState } from "./map.js";
import { isNum } from "./util.js";

const FLY_ZOOM = 14;  // a hotspot and its surroundings

export function selectAlert(id, fly = true) {
  const a = state.alerts.get(id);
  if (!a) return;
  if (state.selectedId !== id) {
    state.selectedId = id;
    state.nearby = null;
    state.focus = null;
    invalidate("selection", "nearby");
  }
  if (fly && isNum(a.lat) && isNum(a.lon)) flyTo(a.lon, a.lat, Math.max(FLY_ZOOM, getViewState().zoom));
  invalidate("alerts");
}

export function clearSelection() {
  if (state.selectedId === null) return;
  state.selectedId = null;
  state.nearby = null;
  state.focus = null;
  invalidate("selection", "alerts", "nearby");
}
