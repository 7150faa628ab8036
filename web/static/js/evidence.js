/**
 * An alert's evidence in the detail: the fused signals, each with its own
 * numbers and risk factors, and hotline tickets (callers arrive masked).
 */

import { getLang, has, t } from "./i18n.js";
import { evidenceLabel, ruleLabel } from "./labels.js";
import { el, fmtNum, fmtWhen, isNum, isObj, kvTable } from "./util.js";

// Fields shown elsewhere (header, badges, location) or as their own block.
const META = new Set(["id", "rule", "state", "severity", "cell", "opened_at", "updated_at", "desks", "title",
  "shadow", "signals", "tickets", "risk", "message", "lead", "anchor", "closed_at", "rule_version", "dedupe"]);
const TICKET_LIMIT = 50;

function formatValue(key, v) {
  if (v === null || v === undefined) return "—";
  if (typeof v === "number") {
    // Epoch-ms timestamps: keys `ts` / `*_at` / `*_ts` (protocol convention).
    if ((key === "ts" || key.endsWith("_at") || key.endsWith("_ts")) && v > 1e11) return fmtWhen(v);
    return key === "density" || key === "risk" || key.endsWith("_threshold") ? v.toFixed(2) : fmtNum(v);
  }
  if (typeof v === "boolean") return t(v ? "yes" : "no");
  if (Array.isArray(v) && v.every((x) => x === null || typeof x !== "object")) return v.join(", ");
  if (Array.isArray(v)) {
    return v.filter(isObj).map((x) => Object.entries(x)
      .filter(([, y]) => y === null || typeof y !== "object").map(([k, y]) => `${k} ${formatValue(k, y)}`).join(" ")).join(" · ");
  }
  if (isObj(v) && Object.values(v).every((x) => typeof x === "number" || typeof x === "string")) {
    return Object.entries(v).map(([k, x]) => `${k} ${typeof x === "number" ? fmtNum(x) : x}`).join(" · ");
  }
  if (isObj(v)) return JSON.stringify(v);
  return String(v);
}

function evidenceNodes(ev, heading) {
  const rows = Object.entries(ev).filter(([k]) => !META.has(k)).map(([k, v]) => [evidenceLabel(k), formatValue(k, v)]);
  const risk = isObj(ev.risk) ? ev.risk : null;
  if (risk && isNum(risk.score)) {
    const factors = isObj(risk.factors)
      ? Object.entries(risk.factors).filter(([, f]) => isNum(f) && f > 0).map(([k, f]) => `${k} ${f.toFixed(2)}`).join(" · ")
      : "";
    rows.unshift([evidenceLabel("risk"), `${risk.score.toFixed(2)}${factors ? ` (${factors})` : ""}`]);
  } else if (isNum(ev.risk)) {
    rows.unshift([evidenceLabel("risk"), ev.risk.toFixed(2)]);
  }
  const nodes = rows.length ? [el("h4", null, heading), kvTable(rows)] : [];
  if (Array.isArray(ev.tickets)) nodes.push(...ticketNodes(ev.tickets));
  return nodes;
}

function signalNode(sig) {
  const sev = ["critical", "warning", "info"].includes(sig.severity) ? sig.severity : "info";
  const state = typeof sig.state === "string" ? (has(`state.${sig.state}`) ? t(`state.${sig.state}`) : sig.state) : "";
  const box = el("section", "signal");
  box.dataset.rule = String(sig.rule || "");
  box.dataset.severity = sev;
  const message = isObj(sig.message) ? sig.message : {};
  const title = (getLang() === "en" ? message.en : message.zh) || sig.title || "";
  box.append(el("p", "signal-title", title),
    ...evidenceNodes(sig, `${ruleLabel(sig.rule)} · ${t(`sev.${sev}`)} · ${state}`));
  return box;
}

/** hotline.cluster evidence: one compact row per ticket, newest first. */
function ticketNodes(tickets) {
  const shown = tickets.filter(isObj).sort((x, y) => (y.ts || 0) - (x.ts || 0)).slice(0, TICKET_LIMIT);
  const withCaller = shown.some((x) => x.caller);
  const table = el("table", "tickets");
  const head = el("tr");
  const columns = ["tickets.time", "tickets.channel", "tickets.category", "tickets.id"];
  if (withCaller) columns.push("tickets.caller");
  for (const key of columns) head.append(el("th", null, t(key)));
  const thead = el("thead");
  thead.append(head);
  const body = el("tbody");
  for (const x of shown) {
    const tr = el("tr");
    tr.append(el("td", null, fmtWhen(x.ts)), el("td", null, x.channel ?? "—"),
      el("td", null, x.category ?? "—"), el("td", "mono", x.id ?? "—"));
    if (withCaller) tr.append(el("td", "mono", x.caller ?? "—"));
    if (typeof x.text === "string") tr.title = x.text;
    body.append(tr);
  }
  table.append(thead, body);
  const nodes = [el("h4", null, t("tickets.title", { n: tickets.length })), table];
  if (tickets.length > TICKET_LIMIT) nodes.push(el("p", "tickets-more", t("more", { n: tickets.length - TICKET_LIMIT })));
  return nodes;
}

/** The evidence block of alert ``a``. */
export function evidenceBlock(a) {
  const ev = a.evidence;
  const signals = Array.isArray(ev.signals) ? ev.signals.filter(isObj) : [];
  const box = el("div", "evidence");
  if (signals.length) {
    box.append(el("h4", null, t("detail.fused", { n: signals.length })));
    for (const sig of signals) box.append(signalNode(sig));
  } else {
    box.append(...evidenceNodes(ev, t("detail.evidence")));
  }
  return box;
}
