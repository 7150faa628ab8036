/**
 * The websocket to /ws: connect, keep alive, reconnect with backoff.
 *
 * Browsers cannot set an Authorization header on a websocket, so a signed-in
 * page offers its token as the subprotocol "citybrain.bearer.<token>" next to
 * "citybrain" (the one the server selects); a server that lets nobody in
 * without a token (auth.anonymous_role "none") then serves the feed to the
 * signed-in page. A socket silent for too
 * long (not even a pong) is treated as dead: browsers can take minutes to
 * notice a dead TCP link on their own.
 */

import { state } from "./store.js";
import { currentToken } from "./api.js";

const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10000;
const PING_INTERVAL_MS = 15000;
const SILENCE_LIMIT_MS = 2 * PING_INTERVAL_MS + 5000;

export const link = {
  state: "connecting",       // "connecting" | "open" | "closed"
  reconnectAt: 0,            // ms, while closed
  disconnectedSince: Date.now(),  // 0 while connected
};

let socket = null;
let backoffMs = BACKOFF_MIN_MS;
let reconnectTimer = 0;
let pingTimer = 0;
let lastFrameAt = 0;
let onMessage = () => {};
let onStatus = () => {};
let offered = null;  // the token the current socket was opened with

function wsUrl() {
  return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws`;
}

/** Starts the connection; ``handlers.message(text)`` per frame, ``handlers.status()`` on changes. */
export function connect(handlers) {
  onMessage = handlers.message;
  onStatus = handlers.status;
  open();
}

/**
 * Opens the feed anew when the page signed in or out since it was opened: what the
 * server sends depends on who asks (anonymous viewers get no grid workers).
 */
export function reopenIfSignedInChanged() {
  if (!socket || offered === currentToken()) return;
  const ws = socket;
  socket = null;
  clearInterval(pingTimer);
  ws.close();
  open();
}

/** A snapshot arrived: the feed works, so the next outage starts from the shortest delay. */
export function feedWorks() {
  backoffMs = BACKOFF_MIN_MS;
}

function setState(next) {
  link.state = next;
  onStatus();
}

function open() {
  reconnectTimer = 0;
  setState("connecting");
  let ws;
  try {
    const token = currentToken();
    offered = token;
    ws = new WebSocket(wsUrl(), token ? ["citybrain", `citybrain.bearer.${token}`] : []);
  } catch (err) {
    console.warn("citybrain: cannot open websocket:", err);
    scheduleReconnect();
    return;
  }
  socket = ws;
  ws.onopen = () => {
    if (socket !== ws) return;
    lastFrameAt = Date.now();
    link.disconnectedSince = 0;
    setState("open");
    pingTimer = setInterval(() => keepAlive(ws), PING_INTERVAL_MS);
  };
  ws.onmessage = (ev) => {
    if (socket !== ws) return;
    lastFrameAt = Date.now();
    onMessage(ev.data);
  };
  ws.onerror = () => {};  // always followed by close, which handles it
  ws.onclose = () => { if (socket === ws) dropSocket(); };
}

function keepAlive(ws) {
  if (Date.now() - lastFrameAt > SILENCE_LIMIT_MS) {
    console.warn("citybrain: no data from the server for too long, reconnecting");
    ws.close();
    dropSocket();  // do not wait for a close handshake that may never finish
    return;
  }
  try {
    ws.send(JSON.stringify({ type: "ping" }));
  } catch (err) {
    console.warn("citybrain: ping failed (close follows):", err);
  }
}

function dropSocket() {
  clearInterval(pingTimer);
  socket = null;
  if (!link.disconnectedSince) link.disconnectedSince = Date.now();
  scheduleReconnect();
}

function scheduleReconnect() {
  if (reconnectTimer) return;
  const delay = backoffMs;
  backoffMs = Math.min(backoffMs * 2, BACKOFF_MAX_MS);
  link.reconnectAt = Date.now() + delay;
  state.stats.reconnects += 1;
  reconnectTimer = setTimeout(open, delay);
  setState("closed");
}
