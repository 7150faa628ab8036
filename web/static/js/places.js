/**
 * Place names (docs/protocol.md, "place"): the label of a place in the
 * current language, the places of heatmap cells (fetched from /api/places in
 * batches and kept), and place search (/api/places/search).
 *
 * A cell's place is asked for the first time its tooltip is built; callers
 * registered with ``onPlaces`` hear when a batch arrives, so a tooltip still
 * on screen fills its place line in.
 */

import { getJson } from "./api.js";
import { getLang } from "./i18n.js";
import { isNum, isObj, isStr } from "./util.js";

const BATCH_MS = 120;
const BATCH_MAX = 200;  // the server's limit per request
const cache = new Map();  // cell -> place, or null while it is being asked for
const waiting = new Set();
const listeners = new Set();
let timer = null;
let fineRes = null;  // only cells at the worker's resolution have places

const text = (v, max = 200) => (isStr(v) ? v.slice(0, max) : "");

function named(v) {
  return isObj(v) ? { id: text(v.id), zh: text(v.zh), en: text(v.en) } : null;
}

/** A place from the network with its fields type-checked (null if unusable). */
export function validPlace(p) {
  if (!isObj(p)) return null;
  const nearest = isObj(p.nearest) && isNum(p.nearest.distance_m)
    ? { zh: text(p.nearest.zh), en: text(p.nearest.en), distance_m: p.nearest.distance_m }
    : null;
  return {
    zh: text(p.zh),
    en: text(p.en),
    zones: Array.isArray(p.zones) ? p.zones.map(named).filter(Boolean).slice(0, 10) : [],
    street: named(p.street),
    district: named(p.district),
    nearest,
  };
}

/** The one-line label of a place in the current language ("" when none). */
export function placeLabel(place) {
  if (!isObj(place)) return "";
  return getLang() === "en" ? (place.en || place.zh || "") : (place.zh || place.en || "");
}

/** A name ({zh, en}) in the current language. */
export function nameText(n) {
  if (!isObj(n)) return "";
  return getLang() === "en" ? (n.en || n.zh || "") : (n.zh || n.en || "");
}

/** Every name of a place, for matching a search query against. */
export function placeWords(place) {
  if (!isObj(place)) return "";
  const parts = [place.zh, place.en];
  for (const z of place.zones || []) parts.push(z.zh, z.en);
  for (const n of [place.street, place.district, place.nearest]) if (n) parts.push(n.zh, n.en);
  return parts.filter(Boolean).join(" ");
}

/** Search form of a text: width, case and spaces ignored (as the server does). */
export function fold(s) {
  return String(s ?? "").normalize("NFKC").toLowerCase().replace(/\s+/g, "");
}

export function setPlaceResolution(res) {
  fineRes = Number.isInteger(res) ? res : null;
}

/** The place of a heatmap cell if known; otherwise asks for it and returns null. */
export function cellPlace(cell) {
  if (cache.has(cell)) return cache.get(cell);
  if (fineRes === null || typeof h3 === "undefined" || h3.getResolution(cell) !== fineRes) return null;
  cache.set(cell, null);
  waiting.add(cell);
  if (!timer) timer = setTimeout(flush, BATCH_MS);
  return null;
}

/** ``fn(cells)`` after the places of ``cells`` arrived. */
export function onPlaces(fn) {
  listeners.add(fn);
}

async function flush() {
  timer = null;
  const cells = [...waiting].slice(0, BATCH_MAX);
  for (const c of cells) waiting.delete(c);
  if (waiting.size) timer = setTimeout(flush, BATCH_MS);
  try {
    const body = await getJson(`/api/places?cells=${cells.join(",")}`);
    const places = isObj(body) && isObj(body.places) ? body.places : {};
    for (const c of cells) cache.set(c, validPlace(places[c]) || { zh: "", en: "" });
  } catch (err) {
    // an older server without the endpoint, or a refusal: no place, asked no more;
    // a network failure: asked again next time
    for (const c of cells) {
      if (err && err.status > 0) cache.set(c, { zh: "", en: "" }); else cache.delete(c);
    }
  }
  for (const fn of listeners) fn(cells);
}

/** Places whose name holds ``query``: [{kind, id, zh, en, lat, lon, bbox}]. */
export async function searchPlaces(query, limit = 8, signal = undefined) {
  const body = await getJson(`/api/places/search?q=${encodeURIComponent(query)}&limit=${limit}`, { signal });
  const matches = isObj(body) && Array.isArray(body.matches) ? body.matches : [];
  return matches.filter((m) => isObj(m) && isNum(m.lat) && isNum(m.lon)).map((m) => ({
    kind: text(m.kind, 20),
    id: text(m.id),
    zh: text(m.zh),
    en: text(m.en),
    lat: m.lat,
    lon: m.lon,
    bbox: Array.isArray(m.bbox) && m.bbox.length === 4 && m.bbox.every(isNum) ? m.bbox : null,
  }));
}
