/**
 * Time scrubber over the last hour: a slider along the bottom of the map
 * (GET /api/history/index gives the range and frame interval). Dragging shows
 * the historical heatmap at the current resolution (GET /api/history?at=&res=)
 * under a clear "历史 HISTORY hh:mm:ss" banner; "Live" returns to the live
 * picture. Alerts, the panel and sound stay live throughout.
 */

import { state, invalidate, malformed } from "./store.js";
import { t, onLangChange } from "./i18n.js";
import { getJson } from "./api.js";
import * as valid from "./validate.js";
import { currentResolution, onResolutionChange } from "./heatmap.js";
import { fmtTime } from "./util.js";

const FETCH_DEBOUNCE_MS = 120;   // while dragging: one request per pause, the previous one aborted
const INDEX_REFRESH_MS = 30000;

const ui = {};
let index = null;
let wanted = null;      // ms the user asked for, while in history mode
let loading = false;
let failure = null;
let timer = 0;
let controller = null;

export function initScrubber() {
  Object.assign(ui, {
    root: document.getElementById("scrubber"),
    slider: document.getElementById("history-slider"),
    time: document.getElementById("history-time"),
    live: document.getElementById("history-live"),
    note: document.getElementById("history-note"),
    banner: document.getElementById("history-banner"),
  });
  ui.slider.addEventListener("input", () => seek(Number(ui.slider.value)));
  ui.live.addEventListener("click", goLive);
  onResolutionChange(() => { if (wanted !== null) load(wanted); });
  onLangChange(render);
  loadIndex();
  setInterval(loadIndex, INDEX_REFRESH_MS);
}

async function loadIndex() {
  try {
    const next = valid.historyIndex(await getJson("/api/history/index"));
    if (!next) throw new Error("bad answer");
    index = next;
    failure = null;
  } catch (err) {
    if (err.missing) index = "missing";
    else console.warn("citybrain: history index unavailable:", err.message || err);
  }
  render();
}

/** Shows the frame at ``at`` (epoch ms). */
export function seek(at) {
  if (!index || index === "missing") return;
  wanted = Math.min(index.to, Math.max(index.from, at));
  clearTimeout(timer);
  timer = setTimeout(() => load(wanted), FETCH_DEBOUNCE_MS);
  render();
}

export function goLive() {
  wanted = null;
  clearTimeout(timer);
  if (controller) controller.abort();
  loading = false;
  failure = null;
  state.history = null;
  invalidate("history");
  render();
}

async function load(at) {
  if (controller) controller.abort();
  controller = new AbortController();
  loading = true;
  render();
  const res = currentResolution();
  try {
    const body = await getJson(`/api/history?at=${Math.round(at)}&res=${res}`, { signal: controller.signal });
    if (wanted !== at) return;
    const frame = valid.historyFrame(body, (c) => malformed("bad history cell", c));
    if (!frame) throw new Error("bad answer");
    state.history = { at: frame.at ?? at, resolution: frame.resolution ?? res, cells: frame.cells };
    failure = null;
    invalidate("history");
  } catch (err) {
    if (err.name === "AbortError") return;
    failure = err.message || String(err);
  } finally {
    if (wanted === at) loading = false;
    render();
  }
}

function render() {
  const missing = index === "missing";
  ui.slider.hidden = missing || !index;
  ui.live.hidden = missing || !index;
  ui.note.hidden = !missing && !failure && !loading;
  ui.note.textContent = missing ? t("history.unavailable") : failure ? t("history.failed", { msg: failure }) : loading ? t("history.loading") : "";
  ui.note.dataset.kind = failure ? "error" : "";
  if (index && !missing) {
    ui.slider.min = String(index.from);
    ui.slider.max = String(index.to);
    ui.slider.step = String(index.interval_s * 1000);
    if (wanted === null) ui.slider.value = String(index.to);
    ui.slider.setAttribute("aria-valuetext", wanted === null ? t("status.live") : fmtTime(wanted));
  }
  const historic = wanted !== null;
  ui.root.dataset.mode = historic ? "history" : "live";
  ui.live.disabled = !historic;
  ui.time.textContent = historic ? fmtTime(wanted) : index && !missing ? `${fmtTime(index.from)} – ${fmtTime(index.to)}` : "";
  ui.banner.hidden = !historic;
  const shownAt = state.history ? state.history.at : wanted;
  ui.banner.textContent = historic ? t("history.banner", { time: fmtTime(shownAt) }) : "";
  document.body.classList.toggle("is-history", historic);
}
