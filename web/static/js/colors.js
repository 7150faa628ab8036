/**
 * Colours of the map, per heatmap view. Colour is always paired with text
 * elsewhere (legend, badges) so nothing depends on colour vision alone.
 *
 * Views: "los" (Fruin walkway bands A–F; cells without camera data in a muted
 * risk tint), "density" (continuous ramp over persons/m²), "risk" (0–1 ramp).
 */

import { isNum, clamp } from "./util.js";

// Fruin walkway bands (alerts/crowd/los.py FRUIN_WALKWAY): upper limits of A–E in
// persons/m²; /api/config may override them with `los_limits`.
let losLimits = [0.31, 0.43, 0.72, 1.08, 2.15];
export const getLosLimits = () => losLimits;
export function setLosLimits(limits) {
  losLimits = limits.slice();
}

// Green to dark red; alpha rises with crowding so the busy cells dominate the
// wall. F also gets a bright outline: dark red alone has too little luminance.
export const LOS = {
  A: { fill: [46, 158, 90, 150] },
  B: { fill: [140, 198, 80, 165] },
  C: { fill: [236, 210, 70, 185] },
  D: { fill: [246, 148, 48, 205] },
  E: { fill: [230, 70, 45, 222] },
  F: { fill: [165, 8, 40, 238], line: [255, 110, 130, 255] },
};
export const LOS_LETTERS = Object.keys(LOS);

const RISK_LOW = [70, 86, 112];
const RISK_HIGH = [156, 122, 214];

// Density ramp (persons/m²): deep blue through teal, yellow and orange to
// magenta at Still's 4/m² and beyond. Stops chosen for luminance steps.
export const DENSITY_MAX = 4;
export const DENSITY_STOPS = [
  [0, [36, 60, 130]], [0.5, [30, 140, 160]], [1.08, [90, 190, 110]], [2.15, [245, 205, 60]],
  [3, [245, 120, 40]], [4, [220, 30, 120]],
];
// Risk ramp 0..1: green, amber, red.
export const RISK_STOPS = [[0, [60, 150, 100]], [0.4, [200, 200, 70]], [0.7, [245, 130, 40]], [1, [235, 40, 50]]];

export const SEVERITY_RGB = { critical: [255, 77, 79], warning: [255, 176, 32], info: [61, 155, 255] };
export const ENDED_RGB = [120, 132, 146];
export const WORKER_RGB = { online: [52, 210, 123], offline: [120, 132, 146] };
export const CAMERA_RGB = [90, 220, 255];

export function ramp(stops, v) {
  if (!isNum(v)) return stops[0][1];
  if (v <= stops[0][0]) return stops[0][1];
  for (let i = 1; i < stops.length; i += 1) {
    const [x1, c1] = stops[i];
    if (v <= x1) {
      const [x0, c0] = stops[i - 1];
      const f = (v - x0) / (x1 - x0);
      return [0, 1, 2].map((k) => Math.round(c0[k] + (c1[k] - c0[k]) * f));
    }
  }
  return stops[stops.length - 1][1];
}

function losFromDensity(density) {
  const i = losLimits.findIndex((limit) => density <= limit);
  return LOS_LETTERS[i === -1 ? 5 : i];
}

/** LOS letter of a cell with camera data, or null for sensor/hotline-only cells. */
export function cellLos(c) {
  if (!isNum(c.density)) return null;
  return LOS[c.los] ? c.los : losFromDensity(c.density);
}

function riskTint(risk, alpha) {
  const t = isNum(risk) ? clamp(risk, 0, 1) : 0;
  return [0, 1, 2].map((k) => Math.round(RISK_LOW[k] + (RISK_HIGH[k] - RISK_LOW[k]) * t)).concat(alpha);
}

/** Fill, line colour and line width (px) of a cell in ``view``. */
export function cellStyle(c, view) {
  if (view === "density") {
    if (!isNum(c.density)) return { fill: [0, 0, 0, 0], line: [110, 125, 145, 120], width: 1 };
    const d = clamp(c.density, 0, DENSITY_MAX);
    return { fill: [...ramp(DENSITY_STOPS, d), Math.round(130 + 110 * (d / DENSITY_MAX))], line: [0, 0, 0, 0], width: 0 };
  }
  if (view === "risk") {
    if (!isNum(c.risk)) return { fill: [0, 0, 0, 0], line: [110, 125, 145, 120], width: 1 };
    const r = clamp(c.risk, 0, 1);
    return {
      fill: [...ramp(RISK_STOPS, r), Math.round(90 + 150 * r)],
      line: r >= 0.7 ? [255, 200, 200, 255] : [0, 0, 0, 0],
      width: r >= 0.7 ? 2 : 0,
    };
  }
  const los = cellLos(c);
  if (los) return { fill: LOS[los].fill, line: LOS[los].line || [0, 0, 0, 0], width: LOS[los].line ? 2 : 0 };
  return { fill: riskTint(c.risk, 95), line: riskTint(c.risk, 235), width: 1.5 };
}

export const rgbCss = (rgb) => `rgb(${rgb[0]},${rgb[1]},${rgb[2]})`;
