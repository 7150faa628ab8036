/**
 * Checks of everything the page reads from the network (docs/protocol.md and
 * the issue-5 API). Each function returns a cleaned value, or null for an
 * unusable one (the caller counts it with ``malformed``). Fields that are
 * rendered are type-checked here so views can rely on their types; strings
 * are still only ever rendered as text.
 */

import { isNum, isObj, isStr } from "./util.js";
import { validPlace } from "./places.js";

const str = (v, max = 500) => (typeof v === "string" ? v.slice(0, max) : null);
const num = (v) => (isNum(v) ? v : null);
const strList = (v) => (Array.isArray(v) ? v.filter((x) => typeof x === "string").map((x) => x.slice(0, 100)) : []);
const list = (v, fn) => (Array.isArray(v) ? v.map(fn).filter((x) => x !== null) : []);

export const SEVERITIES = ["critical", "warning", "info"];

export function validCellId(id) {
  return isStr(id) && id.length <= 20 && (typeof h3 === "undefined" || h3.isValidCell(id));
}

/** A cell view (fine or roll-up): needs a valid H3 id; other fields are read with type checks. */
export function cell(c) {
  return isObj(c) && validCellId(c.cell) ? c : null;
}

/** An alert: needs an id; the fields views rely on are normalised. */
export function alert(a) {
  if (!isObj(a) || !isStr(a.id) || a.id.length > 200) return null;
  return {
    ...a,
    severity: SEVERITIES.includes(a.severity) ? a.severity : "info",
    state: isStr(a.state) ? a.state.toLowerCase() : "open",
    desks: strList(a.desks),
    lat: num(a.lat),
    lon: num(a.lon),
    version: Number.isInteger(a.version) ? a.version : null,
    updated_at: num(a.updated_at),
    opened_at: num(a.opened_at),
    evidence: isObj(a.evidence) ? a.evidence : {},
    place: validPlace(a.place),
  };
}

/** A grid worker view; status is "online" or "offline". */
export function worker(w) {
  if (!isObj(w) || !isStr(w.id) || !isNum(w.lat) || !isNum(w.lon)) return null;
  return {
    id: w.id.slice(0, 200),
    name: str(w.name, 100) || w.id,
    grid: str(w.grid, 100),
    lat: w.lat,
    lon: w.lon,
    status: w.status === "online" ? "online" : "offline",
    distance_m: num(w.distance_m),
    updated_at: num(w.updated_at),
  };
}

export function camera(c) {
  if (!isObj(c) || !isStr(c.id) || !isNum(c.lat) || !isNum(c.lon)) return null;
  return {
    id: c.id.slice(0, 200),
    name: str(c.name, 200),
    lat: c.lat,
    lon: c.lon,
    distance_m: num(c.distance_m),
    stream_url: str(c.stream_url, 2048),
  };
}

export function nearby(body) {
  if (!isObj(body)) return null;
  const center = Array.isArray(body.center) && isNum(body.center[0]) && isNum(body.center[1]) ? body.center : null;
  return {
    center,
    radius_m: isNum(body.radius_m) ? body.radius_m : 500,
    cameras: list(body.cameras, camera).sort((x, y) => (x.distance_m ?? Infinity) - (y.distance_m ?? Infinity)),
    workers: list(body.workers, worker),
  };
}

export function auditEntry(e) {
  if (!isObj(e) || !isStr(e.action)) return null;
  return {
    id: str(e.id, 200),
    at: num(e.at),
    by: str(e.by, 100),
    role: str(e.role, 40),
    action: e.action.slice(0, 40),
    from: str(e.from, 40),
    to: str(e.to, 40),
    note: str(e.note, 2000),
    severity: str(e.severity, 20),
    desks: strList(e.desks),
    accepted: e.accepted !== false,
    reason: str(e.reason, 500),
  };
}

export function audit(body) {
  if (!isObj(body) || !Array.isArray(body.audit)) return null;
  return list(body.audit, auditEntry).sort((x, y) => (x.at ?? 0) - (y.at ?? 0));
}

export function cellHistory(body) {
  if (!isObj(body) || !Array.isArray(body.points)) return null;
  return list(body.points, (p) => (isObj(p) && isNum(p.t)
    ? { t: p.t, people: num(p.people), density: num(p.density), risk: num(p.risk), los: str(p.los, 2) }
    : null)).sort((x, y) => x.t - y.t);
}

export function historyIndex(body) {
  if (!isObj(body) || !isNum(body.from) || !isNum(body.to) || body.to < body.from) return null;
  return {
    from: body.from,
    to: body.to,
    interval_s: isNum(body.interval_s) && body.interval_s > 0 ? body.interval_s : 10,
    frames: isNum(body.frames) ? body.frames : null,
  };
}

export function historyFrame(body, onBad) {
  if (!isObj(body) || !Array.isArray(body.cells)) return null;
  const cells = [];
  for (const c of body.cells) {
    if (cell(c)) cells.push(c); else onBad(c);
  }
  return { at: num(body.at), resolution: Number.isInteger(body.resolution) ? body.resolution : null, cells };
}

export function desks(body) {
  if (!isObj(body) || !Array.isArray(body.desks)) return null;
  return list(body.desks, (d) => (isObj(d) && isStr(d.id)
    ? { id: d.id.slice(0, 50), zh: str(d.zh, 100), en: str(d.en, 100) } : null));
}

export function whoami(body) {
  if (!isObj(body) || !isStr(body.name) || !isStr(body.role)) return null;
  return { name: body.name.slice(0, 100), role: body.role.slice(0, 40), desks: strList(body.desks) };
}

export function layers(body) {
  if (!isObj(body) || !Array.isArray(body.layers)) return null;
  return list(body.layers, (l) => (isObj(l) && isStr(l.id) && l.id.length <= 100
    ? {
      id: l.id,
      kind: str(l.kind, 40) || "",
      title: str(l.title, 200) || l.id,
      count: num(l.count),
      source: str(l.source, 200),
      geometry: l.geometry === "point" ? "point" : "outline",
    }
    : null));
}

/** A GeoJSON FeatureCollection or Feature (structure only; deck.gl skips bad geometries). */
export function geojson(body) {
  if (!isObj(body)) return null;
  if (body.type === "FeatureCollection" && Array.isArray(body.features)) {
    return { type: "FeatureCollection", features: body.features.filter((f) => isObj(f) && isObj(f.geometry)) };
  }
  if (body.type === "Feature" && isObj(body.geometry)) return body;
  return null;
}

export function queryResult(body) {
  if (!isObj(body)) return null;
  const part = (v) => (isObj(v) ? v : {});
  const b = part(body.buildings);
  const e = part(body.enterprises);
  const c = part(body.cameras);
  const w = part(body.workers);
  const l = part(body.live);
  return {
    area_m2: num(body.area_m2),
    took_ms: num(body.took_ms),
    buildings: { count: num(b.count), residents: num(b.residents) },
    enterprises: {
      count: num(e.count),
      employees: num(e.employees),
      items: list(e.items, (x) => (isObj(x) && (isStr(x.name) || isStr(x.id))
        ? { id: str(x.id, 200), name: str(x.name, 200) || x.id, industry: str(x.industry, 100), employees: num(x.employees) }
        : null)),
    },
    cameras: { count: num(c.count), items: list(c.items, camera) },
    workers: { count: num(w.count), online: num(w.online), items: list(w.items, worker) },
    live: { people: num(l.people), walkable_m2: num(l.walkable_m2), density: num(l.density), los: str(l.los, 2), cells: num(l.cells) },
  };
}

export function config(raw, defaults) {
  const c = { ...defaults };
  if (!isObj(raw)) return c;
  if (Array.isArray(raw.center) && isNum(raw.center[0]) && isNum(raw.center[1])) c.center = raw.center.slice(0, 2);
  if (isNum(raw.zoom)) c.zoom = raw.zoom;
  if (Number.isInteger(raw.h3_resolution) && raw.h3_resolution >= 0 && raw.h3_resolution <= 15) c.h3_resolution = raw.h3_resolution;
  if (isStr(raw.tile_url) && /^https?:\/\/|^\//.test(raw.tile_url)) c.tile_url = raw.tile_url;
  if (isStr(raw.district) && raw.district.startsWith("/")) c.district = raw.district;
  if (isStr(raw.zones) && raw.zones.startsWith("/")) c.zones = raw.zones;
  if (isStr(raw.district_name)) c.district_name = raw.district_name.slice(0, 50);
  if (Array.isArray(raw.los_limits) && raw.los_limits.length === 5 && raw.los_limits.every(isNum)) c.los_limits = raw.los_limits.slice();
  return c;
}
