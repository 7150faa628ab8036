/**
 * Applies websocket messages (docs/protocol.md: snapshot, cells, alert,
 * workers, pong, error) to the state. Malformed input is dropped and
 * counted, never thrown: one bad frame must not blank a wall display.
 */

import { state, invalidate, malformed } from "./store.js";
import * as valid from "./validate.js";
import { isEnded, supersedes, wantsTone } from "./alert-model.js";

const MAX_ENDED_ALERTS = 300;  // bounds memory and DOM over a long shift
const NEW_HIGHLIGHT_MS = 4000;

const hooks = { tone: () => {}, noWorkersInSnapshot: () => {}, snapshot: () => {} };
let snapshots = 0;

/** tone(alert): a critical alert needs attention; noWorkersInSnapshot(): fetch them over HTTP. */
export function setFeedHooks(h) {
  Object.assign(hooks, h);
}

export function handleMessage(raw) {
  state.stats.messages += 1;
  if (typeof raw !== "string") { malformed("binary frame", raw); return; }
  let msg;
  try {
    msg = JSON.parse(raw);
  } catch (err) {
    malformed("not JSON", raw.slice(0, 200));
    return;
  }
  if (msg === null || typeof msg !== "object" || Array.isArray(msg)) { malformed("not a JSON object", msg); return; }
  try {
    switch (msg.type) {
      case "snapshot": onSnapshot(msg); break;
      case "cells": onCells(msg); break;
      case "alert": onAlert(msg.alert, true); break;
      case "workers": onWorkers(msg); break;
      case "pong": break;
      case "error": console.warn("citybrain: server reported an error:", msg.error); break;
      default: malformed(`unknown type ${JSON.stringify(msg.type)}`, msg);
    }
  } catch (err) {
    malformed(`handler failed: ${err && err.message}`, msg);
  }
}

function upsertCells(list) {
  if (!Array.isArray(list)) {
    if (list !== undefined && list !== null) malformed("cells is not an array", list);
    return false;
  }
  let changed = false;
  for (const c of list) {
    if (valid.cell(c)) { state.cells.set(c.cell, c); changed = true; } else malformed("bad cell view", c);
  }
  return changed;
}

function onSnapshot(msg) {
  snapshots += 1;
  state.cells.clear();
  upsertCells(msg.cells);
  // The server's list is authoritative after a (re)connect, but ended alerts
  // the operator already saw stay as history if the server no longer sends them.
  const before = new Map(state.alerts);
  state.alerts.clear();
  if (Array.isArray(msg.alerts)) {
    for (const raw of msg.alerts) {
      const a = valid.alert(raw);
      if (!a) { malformed("bad alert", raw); continue; }
      const held = before.get(a.id);
      // An alert message newer than the snapshot read may already be here.
      state.alerts.set(a.id, held && !supersedes(a, held) ? held : a);
      // Only after a reconnect: what appeared while the feed was down.
      if (snapshots > 1 && wantsTone(a, held)) hooks.tone(a);
    }
  } else if (msg.alerts !== undefined) {
    malformed("snapshot alerts is not an array", msg.alerts);
  }
  for (const [id, a] of before) if (isEnded(a) && !state.alerts.has(id)) state.alerts.set(id, a);
  pruneEnded();
  if (Array.isArray(msg.workers)) {
    state.workers.clear();
    upsertWorkers(msg.workers);
  } else {
    hooks.noWorkersInSnapshot();
  }
  hooks.snapshot();
  invalidate("cells", "alerts", "workers");
}

function onCells(msg) {
  let changed = upsertCells(msg.cells);
  if (Array.isArray(msg.removed)) {
    for (const id of msg.removed) changed = state.cells.delete(id) || changed;
  } else if (msg.removed !== undefined && msg.removed !== null) {
    malformed("removed is not an array", msg.removed);
  }
  if (changed) invalidate("cells");
}

/** Applies one alert (from the websocket, or an HTTP read); returns whether it was taken. */
export function onAlert(raw, live) {
  const a = valid.alert(raw);
  if (!a) { malformed("bad alert", raw); return false; }
  const held = state.alerts.get(a.id);
  if (!supersedes(a, held)) return false;  // a late, older version never overwrites a newer one
  if (!held && live) {
    state.newAlertIds.add(a.id);
    setTimeout(() => { state.newAlertIds.delete(a.id); invalidate("alerts"); }, NEW_HIGHLIGHT_MS);
  }
  if (live && wantsTone(a, held)) hooks.tone(a);
  state.alerts.set(a.id, a);
  pruneEnded();
  invalidate("alerts");
  return true;
}

function upsertWorkers(list) {
  let changed = false;
  for (const raw of list) {
    const w = valid.worker(raw);
    if (w) { state.workers.set(w.id, w); changed = true; } else malformed("bad worker view", raw);
  }
  return changed;
}

/** ``workers`` message, or the GET /api/workers answer (``replace``). */
export function onWorkers(msg, replace = false) {
  if (!Array.isArray(msg.workers)) { malformed("workers is not an array", msg); return; }
  if (replace) state.workers.clear();
  let changed = upsertWorkers(msg.workers) || replace;
  if (Array.isArray(msg.removed)) {
    for (const id of msg.removed) changed = state.workers.delete(id) || changed;
  }
  if (changed) invalidate("workers");
}

function pruneEnded() {
  const ended = [...state.alerts.values()].filter(isEnded);
  if (ended.length <= MAX_ENDED_ALERTS) return;
  ended.sort((x, y) => (y.closed_at || y.updated_at || 0) - (x.closed_at || x.updated_at || 0));
  for (const a of ended.slice(MAX_ENDED_ALERTS)) {
    if (a.id !== state.selectedId) state.alerts.delete(a.id);
  }
}
