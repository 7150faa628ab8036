/**
 * Alert markers on the map: one ring per live alert in the desk filter,
 * coloured by severity, a pulse around critical ones nobody acknowledged yet,
 * and the selected alert (even ended) outlined in white.
 */

import { state, on } from "./store.js";
import { addAnimation, addClick, addLayers, addTooltip } from "./map.js";
import { t } from "./i18n.js";
import { alertText, ruleLabel } from "./labels.js";
import { isLive } from "./alert-model.js";
import { visibleOnMap, stateText } from "./alert-panel.js";
import { ENDED_RGB, SEVERITY_RGB } from "./colors.js";
import { el, isNum } from "./util.js";
import { selectAlert } from "./selection.js";

const PULSE_PERIOD_MS = 1600;
const RADIUS = { critical: 13, warning: 11, info: 9 };

let markers = [];
let pulsing = [];

function colour(a, alpha) {
  const rgb = isLive(a) ? SEVERITY_RGB[a.severity] : ENDED_RGB;
  return [rgb[0], rgb[1], rgb[2], alpha];
}

function rebuild() {
  markers = [...state.alerts.values()].filter((a) => isNum(a.lat) && isNum(a.lon)
    && ((isLive(a) && visibleOnMap(a)) || a.id === state.selectedId));
  pulsing = markers.filter((a) => a.state === "open" && a.severity === "critical");
}

export function initMarkers() {
  on("alerts", rebuild);
  on("filter", rebuild);
  on("selection", rebuild);
  addAnimation(() => pulsing.length > 0 && !state.reducedMotion);
  addLayers(70, (now) => {
    const layers = [];
    if (pulsing.length > 0) {
      // Expanding ring, animated through uniforms only (radiusScale, opacity):
      // no attribute is recomputed per frame.
      const phase = state.reducedMotion ? 0.35 : (now % PULSE_PERIOD_MS) / PULSE_PERIOD_MS;
      layers.push(new deck.ScatterplotLayer({
        id: "alert-pulse",
        data: pulsing,
        getPosition: (a) => [a.lon, a.lat],
        getRadius: (a) => RADIUS[a.severity],
        radiusUnits: "pixels",
        radiusScale: 1 + 1.8 * phase,
        opacity: 0.9 * (1 - phase),
        filled: false,
        stroked: true,
        getLineColor: (a) => colour(a, 255),
        lineWidthUnits: "pixels",
        getLineWidth: 3,
      }));
    }
    layers.push(new deck.ScatterplotLayer({
      id: "alert-markers",
      data: markers,
      getPosition: (a) => [a.lon, a.lat],
      getRadius: (a) => RADIUS[a.severity] + (a.id === state.selectedId ? 4 : 0),
      radiusUnits: "pixels",
      filled: true,
      stroked: true,
      // Acknowledged alerts are drawn hollow: someone is on it.
      getFillColor: (a) => colour(a, a.state === "open" ? 110 : 30),
      getLineColor: (a) => (a.id === state.selectedId ? [255, 255, 255, 255] : colour(a, 255)),
      lineWidthUnits: "pixels",
      getLineWidth: 3,
      pickable: true,
      updateTriggers: { getRadius: state.selectedId, getLineColor: state.selectedId },
    }));
    return layers;
  });
  addClick("alert-markers", (a) => selectAlert(a.id, false));
  addTooltip("alert-markers", (a) => {
    const box = el("div");
    const head = el("div", "tt-head");
    head.append(el("b", null, t(`sev.${a.severity}`)), el("span", null, `· ${ruleLabel(a.rule)} · ${stateText(a)}`));
    box.append(head, el("div", "tt-text", alertText(a)));
    return box;
  });
}
