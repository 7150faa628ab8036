/**
 * What an alert's lifecycle fields mean for the screen (pure functions).
 *
 * States (issue-5 contract): open (nobody acknowledged), acknowledged,
 * resolved (a person closed it), expired (condition cleared, nobody
 * acknowledged); "closed" is the older servers' name for an ended alert.
 * ``active`` says whether the condition holds now, independently of state.
 */

import { isNum } from "./util.js";

export const ENDED = new Set(["resolved", "expired", "closed"]);
export const STATES = ["open", "acknowledged", "resolved", "expired", "closed"];
export const SEVERITY_RANK = { critical: 0, warning: 1, info: 2 };

/** Still to be handled: open or acknowledged (an unknown state counts as live: never hide it). */
export const isLive = (a) => !ENDED.has(a.state);
export const isEnded = (a) => ENDED.has(a.state);
export const needsAck = (a) => a.state === "open";

/**
 * Cleared but not closed: waiting for a person to review and resolve it (critical and
 * escalated alerts never expire by themselves).
 */
export const awaitingReview = (a) => a.awaiting_review === true && isLive(a);

/** Whether the alert's condition holds now (``active``), defaulting to "not ended". */
export const conditionActive = (a) => (typeof a.active === "boolean" ? a.active : isLive(a));

/**
 * Whether ``incoming`` should replace ``held``: the highest ``version`` wins
 * (one per lifecycle transition); at the same version the newer
 * ``updated_at`` (evidence updates do not bump the version).
 */
export function supersedes(incoming, held) {
  if (!held) return true;
  if (incoming.version !== null && held.version !== null && incoming.version !== held.version) {
    return incoming.version > held.version;
  }
  if (isNum(held.updated_at) && isNum(incoming.updated_at)) return incoming.updated_at >= held.updated_at;
  return true;
}

/** The incident's risk score (0–1) from its evidence, or -1 when it carries none. */
export const riskOf = (a) => (isNum(a.evidence?.risk) ? a.evidence.risk : -1);

/** The list orders a user can choose; the first is the default. */
export const ORDERS = ["severity", "risk", "newest"];

/**
 * Group (open, acknowledged, ended), then within live alerts by ``order``:
 * "severity" (severity, then risk), "risk" (risk, then severity) or "newest";
 * then newest first.
 */
export function compareAlerts(x, y, order = "severity") {
  const group = (a) => (a.state === "open" ? 0 : isLive(a) ? 1 : 2);
  const g = group(x) - group(y);
  if (g !== 0) return g;
  if (isLive(x) && order !== "newest") {
    const s = (SEVERITY_RANK[x.severity] ?? 2) - (SEVERITY_RANK[y.severity] ?? 2);
    const r = riskOf(y) - riskOf(x);
    const first = order === "risk" ? r : s;
    if (first !== 0) return first;
    const second = order === "risk" ? s : r;
    if (second !== 0) return second;
  }
  const tx = isEnded(x) ? (x.closed_at || x.updated_at || 0) : (x.opened_at || x.updated_at || 0);
  const ty = isEnded(y) ? (y.closed_at || y.updated_at || 0) : (y.opened_at || y.updated_at || 0);
  return ty - tx || String(x.id).localeCompare(String(y.id));
}

/** The desks a desk filter stands for, or null for all. */
export function filterDesks(filter, myDesks) {
  if (filter === "all") return null;
  if (filter === "mine") return new Set(myDesks);
  return new Set([filter]);
}

export function matchesDesks(a, desks) {
  return desks === null || a.desks.some((d) => desks.has(d));
}

export function matchesState(a, filter) {
  switch (filter) {
    case "active": return isLive(a);
    case "open": return a.state === "open";
    case "acknowledged": return a.state === "acknowledged";
    case "closed": return isEnded(a);
    default: return true;
  }
}

/**
 * Whether a new or changed alert deserves the tone: critical, not yet
 * acknowledged, and either new to this screen, newly critical, re-opened, or
 * reminded (the worker reminds of an unacknowledged critical on a schedule).
 */
export function wantsTone(incoming, held) {
  if (incoming.severity !== "critical" || incoming.state !== "open") return false;
  if (!held) return true;
  if (held.severity !== "critical") return true;
  if (held.state !== "open") return true;
  if ((incoming.reminded || 0) > (held.reminded || 0)) return true;  // still nobody: sound again
  return (incoming.reopened || 0) > (held.reopened || 0);
}

/**
 * Whether ``me`` may read the unmasked text of a ticket that came in on ``channel``
 * (the server decides: web.auth.may_read_ticket): admins, and liaison staff whose
 * desks include the channel. Everyone else sees the masked text only.
 */
export function mayReadTicket(me, channel) {
  if (!me.signedIn) return false;
  if (me.role === "admin") return true;
  return me.role === "liaison" && Array.isArray(me.desks) && me.desks.includes(channel);
}

/** Who may press which lifecycle button: {allowed, reasonKey, params} per action. */
export function permissions(a, me, available) {
  const result = {};
  for (const action of ["ack", "assign", "resolve"]) {
    result[action] = decide(action, a, me, available[action] !== false);
  }
  return result;
}

function decide(action, a, me, available) {
  if (!available) return { allowed: false, reason: "reason.unavailable" };
  if (!me.signedIn) return { allowed: false, reason: "reason.signin" };
  if (!["dispatcher", "liaison", "admin"].includes(me.role)) return { allowed: false, reason: "reason.role" };
  if (me.role === "liaison" && !a.desks.some((d) => me.desks.includes(d))) return { allowed: false, reason: "reason.desk" };
  if (isEnded(a)) return { allowed: false, reason: "reason.closed" };
  if (action === "ack" && a.state !== "open") return { allowed: false, reason: "reason.ack" };
  return { allowed: true, reason: null };
}
