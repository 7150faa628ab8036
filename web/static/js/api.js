/**
 * HTTP client of the /api endpoints: JSON in and out, the signed-in bearer
 * token when there is one, one error type.
 *
 * ``ApiError.missing`` is true when the server does not have the endpoint at
 * all (404 "no such endpoint", or 405 for a POST to a path only GET knows):
 * the caller hides that feature with a note instead of reporting a failure.
 */

import { isObj } from "./util.js";

let token = null;
let onInvalidToken = () => {};

export class ApiError extends Error {
  constructor(status, message, path) {
    super(message);
    this.status = status;  // 0: network failure or unreadable answer
    this.path = path;
  }

  get missing() {
    return (this.status === 404 && /^no such endpoint/i.test(this.message)) || this.status === 405;
  }
}

export function setToken(value) {
  token = value || null;
}

/** The signed-in token, or null (the websocket offers it as a subprotocol). */
export function currentToken() {
  return token;
}

export function hasToken() {
  return token !== null;
}

/** ``fn()`` is called when the server refuses the token itself (401 invalid_token). */
export function onTokenRefused(fn) {
  onInvalidToken = fn;
}

async function request(method, path, body, { signal, anonymous = false, tokenOverride } = {}) {
  const headers = { Accept: "application/json" };
  const bearer = tokenOverride !== undefined ? tokenOverride : anonymous ? null : token;
  if (bearer) headers.Authorization = `Bearer ${bearer}`;
  const init = { method, headers, cache: "no-store", signal };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let res;
  try {
    res = await fetch(path, init);
  } catch (err) {
    if (err && err.name === "AbortError") throw err;
    throw new ApiError(0, String(err && err.message ? err.message : err), path);
  }
  let data = null;
  const text = await res.text();
  if (text) {
    try {
      data = JSON.parse(text);
    } catch (err) {
      if (res.ok) throw new ApiError(0, `${path}: answer is not JSON`, path);
    }
  }
  if (!res.ok) {
    const message = isObj(data) && typeof data.error === "string" ? data.error : `HTTP ${res.status}`;
    if (res.status === 401 && bearer && bearer === token && /invalid_token/.test(res.headers.get("WWW-Authenticate") || "")) {
      onInvalidToken();
    }
    throw new ApiError(res.status, message, path);
  }
  return data;
}

export const getJson = (path, opts) => request("GET", path, undefined, opts);
export const postJson = (path, body, opts) => request("POST", path, body, opts);

/** ``/api/alerts/{id}/...`` with the id escaped. */
export const alertPath = (id, tail = "") => `/api/alerts/${encodeURIComponent(id)}${tail ? `/${tail}` : ""}`;
