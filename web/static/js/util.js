/**
 * Small pure helpers shared by every module: number/time formatting, DOM
 * creation (text only, never HTML), distances and shapes on the sphere.
 * Times are epoch ms; distances metres; coordinates [lon, lat] degrees.
 */

export const isNum = (v) => typeof v === "number" && Number.isFinite(v);
export const isObj = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
export const isStr = (v) => typeof v === "string" && v.length > 0;
export const pad2 = (n) => String(n).padStart(2, "0");
export const clamp = (v, lo, hi) => Math.min(hi, Math.max(lo, v));

/** HH:MM:SS local time, or "—". */
export function fmtTime(ms) {
  if (!isNum(ms)) return "—";
  const d = new Date(ms);
  return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
}

/** HH:MM:SS today, "MM-DD HH:MM:SS" on other days (night-shift handover). */
export function fmtWhen(ms) {
  if (!isNum(ms)) return "—";
  const d = new Date(ms);
  const sameDay = d.toDateString() === new Date().toDateString();
  return sameDay ? fmtTime(ms) : `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${fmtTime(ms)}`;
}

/** Integers as they are, other numbers with at most ``digits`` decimals. */
export function fmtNum(v, digits = 3) {
  if (!isNum(v)) return "—";
  return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(digits)));
}

/** Grouped integer (12,345) for counts read from across the room. */
export function fmtCount(v) {
  if (!isNum(v)) return "—";
  return Math.round(v).toLocaleString("en-US");
}

export function fmtFixed(v, digits = 2) {
  return isNum(v) ? v.toFixed(digits) : "—";
}

export function fmtLatLon(lat, lon) {
  return isNum(lat) && isNum(lon) ? `${lat.toFixed(4)}, ${lon.toFixed(4)}` : "—";
}

/** Metres as "850 m" / "1.2 km". */
export function fmtDistance(m) {
  if (!isNum(m)) return "—";
  return m < 1000 ? `${Math.round(m)} m` : `${(m / 1000).toFixed(1)} km`;
}

/** m² as "8,500 m²" / "1.25 km²". */
export function fmtArea(m2) {
  if (!isNum(m2)) return "—";
  return m2 < 1e6 ? `${fmtCount(m2)} m²` : `${(m2 / 1e6).toFixed(2)} km²`;
}

/**
 * Creates an element; ``text`` is always set as textContent because every
 * string that came from the network is untrusted.
 */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined && text !== null) node.textContent = String(text);
  return node;
}

/** A <button type=button> with text and an optional title. */
export function button(className, text, title) {
  const b = el("button", className, text);
  b.type = "button";
  if (title) b.title = title;
  return b;
}

export function kvTable(rows) {
  const table = el("table", "kv");
  const body = el("tbody");
  for (const [k, v, cls] of rows) {
    const tr = el("tr");
    const td = el("td", cls || null);
    if (v instanceof Node) td.append(v); else td.textContent = v ?? "—";
    tr.append(el("th", null, k), td);
    body.append(tr);
  }
  table.append(body);
  return table;
}

const EARTH_R = 6371008.8;  // mean Earth radius, m
const rad = (d) => (d * Math.PI) / 180;

/** Great-circle distance between two [lon, lat] points, metres. */
export function haversine([lon1, lat1], [lon2, lat2]) {
  const dLat = rad(lat2 - lat1);
  const dLon = rad(lon2 - lon1);
  const h = Math.sin(dLat / 2) ** 2 + Math.cos(rad(lat1)) * Math.cos(rad(lat2)) * Math.sin(dLon / 2) ** 2;
  return 2 * EARTH_R * Math.asin(Math.min(1, Math.sqrt(h)));
}

/**
 * A closed ring of ``n`` points approximating a circle of ``radiusM`` metres
 * around ``center`` [lon, lat]; exact enough for display up to tens of km.
 */
export function circleRing(center, radiusM, n = 72) {
  const [lon, lat] = center;
  const dLat = (radiusM / EARTH_R) * (180 / Math.PI);
  const dLon = dLat / Math.max(1e-6, Math.cos(rad(lat)));
  const ring = [];
  for (let i = 0; i <= n; i += 1) {
    const a = (2 * Math.PI * i) / n;
    ring.push([lon + dLon * Math.cos(a), lat + dLat * Math.sin(a)]);
  }
  return ring;
}

/**
 * A URL from the network that may be shown as a link: only http(s), parsed
 * and re-serialised (so no javascript: or data: URL ever reaches an href).
 */
export function safeHttpUrl(raw) {
  if (typeof raw !== "string" || raw.length > 2048) return null;
  try {
    const u = new URL(raw, location.href);
    return u.protocol === "http:" || u.protocol === "https:" ? u.href : null;
  } catch (err) {
    return null;
  }
}

/** Copies text; falls back to a hidden textarea where the Clipboard API is not allowed (plain http). */
export async function copyText(text) {
  if (navigator.clipboard && window.isSecureContext) {
    await navigator.clipboard.writeText(text);
    return;
  }
  const area = el("textarea");
  area.value = text;
  area.setAttribute("readonly", "");
  area.style.position = "fixed";
  area.style.opacity = "0";
  document.body.append(area);
  area.select();
  const ok = document.execCommand("copy");
  area.remove();
  if (!ok) throw new Error("copy refused");
}

/** Calls ``fn`` at most once per ``ms``; the last call in a burst always runs. */
export function throttle(fn, ms) {
  let last = 0;
  let timer = 0;
  return (...args) => {
    const wait = last + ms - Date.now();
    clearTimeout(timer);
    if (wait <= 0) { last = Date.now(); fn(...args); return; }
    timer = setTimeout(() => { last = Date.now(); fn(...args); }, wait);
  };
}
