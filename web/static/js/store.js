/**
 * The page's state, and the one render scheduler.
 *
 * Network handlers only mutate the state and call ``invalidate(topic)``; one
 * requestAnimationFrame pass then calls the subscribers of every dirty topic
 * once, however many messages arrived in between. Data is stored at once
 * (never lost while a frame is pending); only drawing is coalesced.
 *
 * Topics: cells, alerts, workers, heatmap, outlines, selection, filter, me,
 * nearby, draw, history, lang, prefs. ``onFrame`` hooks run after them with
 * the set of topics that were dirty (the map rebuilds its layers from it).
 */

export const state = {
  cells: new Map(),     // fine cell id -> live cell view (ws snapshot + deltas)
  alerts: new Map(),    // alert id -> newest alert object
  workers: new Map(),   // grid worker id -> view
  config: null,         // validated /api/config
  me: { name: "anonymous", role: "viewer", desks: [], signedIn: false },
  selectedId: null,     // alert shown in the detail
  desks: [],            // [{id, zh, en}] for the desk selector
  deskFilter: "all",    // "all" | "mine" | desk id
  stateFilter: "all",   // "all" | "active" | "open" | "acknowledged" | "closed"
  view: "los",          // heatmap view: "density" | "los" | "risk"
  history: null,        // {at, resolution, cells[]} while scrubbing, else null (live)
  nearby: null,         // {alertId, center, radius_m, cameras[], workers[]} of the selection
  focus: null,          // {kind: "camera"|"worker", id} hovered in the detail lists
  newAlertIds: new Set(),  // arrived live in the last seconds: briefly highlighted
  stats: { messages: 0, malformed: 0, reconnects: 0, tileErrors: 0, frames: 0 },
};

const subscribers = new Map();
const frameHooks = [];
const dirty = new Set();
let rafId = 0;

/** Calls ``fn(now)`` in the next frame after ``topic`` was invalidated. */
export function on(topic, fn) {
  if (!subscribers.has(topic)) subscribers.set(topic, []);
  subscribers.get(topic).push(fn);
}

/** Calls ``fn(now, dirtyTopics)`` at the end of every frame. */
export function onFrame(fn) {
  frameHooks.push(fn);
}

export function invalidate(...topics) {
  for (const topic of topics) dirty.add(topic);
  requestFrame();
}

/** Asks for one more frame even if nothing is dirty (animations). */
export function requestFrame() {
  if (!rafId) rafId = requestAnimationFrame(frame);
}

function frame(now) {
  rafId = 0;
  state.stats.frames += 1;
  const topics = new Set(dirty);
  dirty.clear();
  for (const topic of topics) {
    for (const fn of subscribers.get(topic) || []) {
      try {
        fn(now);
      } catch (err) {  // one failing view must not stop the others (or the next frame)
        console.warn(`citybrain: render of ${topic} failed:`, err);
      }
    }
  }
  for (const fn of frameHooks) {
    try {
      fn(now, topics);
    } catch (err) {
      console.warn("citybrain: frame hook failed:", err);
    }
  }
}

/**
 * Counts and reports a dropped network item. Rate limited so a misbehaving
 * producer cannot flood the console; never throws.
 */
export function malformed(reason, sample) {
  state.stats.malformed += 1;
  const n = state.stats.malformed;
  if (n <= 20 || n % 100 === 0) console.warn(`citybrain: ignored malformed data (${n} so far): ${reason}`, sample);
}
