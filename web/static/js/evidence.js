/**
 * An alert's evidence in the detail: the fused signals, each with its own
 * numbers and risk factors, and hotline tickets (callers and text arrive masked).
 *
 * Admins, and liaison staff for the tickets of their channel, get a "show full
 * text" button per ticket: GET /api/tickets/{id}?alert={alert id} with the
 * signed-in token (the server checks the role again and audits the view). The
 * texts fetched are kept only while the same alert is shown to the same person.
 */

import { state } from "./store.js";
import { getJson } from "./api.js";
import { mayReadTicket } from "./alert-model.js";
import { getLang, has, t } from "./i18n.js";
import { evidenceLabel, ruleLabel } from "./labels.js";
import { button, el, fmtNum, fmtWhen, isNum, isObj, isStr, kvTable } from "./util.js";

// Fields shown elsewhere (header, badges, location) or as their own block.
const META = new Set(["id", "rule", "state", "severity", "cell", "opened_at", "updated_at", "desks", "title",
  "shadow", "signals", "tickets", "risk", "message", "lead", "anchor", "closed_at", "rule_version", "dedupe",
  "tickets_total"]);
const TICKET_LIMIT = 50;

// Unmasked texts fetched for the alert shown: ticket id -> text; so that an update of the
// alert (which redraws the evidence) neither hides them nor asks, and audits, again.
let revealed = { alertId: null, texts: new Map() };

/** Forget every unmasked text fetched (the signed-in person changed). */
export function forgetRevealed() {
  revealed = { alertId: null, texts: new Map() };
}

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

function evidenceNodes(ev, heading, alertId, withTickets = true) {
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
  if (withTickets && Array.isArray(ev.tickets)) nodes.push(...ticketNodes(ev.tickets, alertId));
  return nodes;
}

function signalNode(sig, alertId, withTickets) {
  const sev = ["critical", "warning", "info"].includes(sig.severity) ? sig.severity : "info";
  const state = typeof sig.state === "string" ? (has(`state.${sig.state}`) ? t(`state.${sig.state}`) : sig.state) : "";
  const box = el("section", "signal");
  box.dataset.rule = String(sig.rule || "");
  box.dataset.severity = sev;
  const message = isObj(sig.message) ? sig.message : {};
  const title = (getLang() === "en" ? message.en : message.zh) || sig.title || "";
  box.append(el("p", "signal-title", title),
    ...evidenceNodes(sig, `${ruleLabel(sig.rule)} · ${t(`sev.${sev}`)} · ${state}`, alertId, withTickets));
  return box;
}

const mayReveal = (x) => isStr(x.id) && mayReadTicket(state.me, x.channel);

function fullTextRow(text, columns) {
  const row = el("tr", "ticket-full");
  const cell = el("td", null, text);
  cell.colSpan = columns;
  row.append(cell);
  return row;
}

/** The "show full text" button of ticket ``x`` in row ``tr`` of a table ``columns`` wide. */
function revealButton(x, alertId, tr, columns) {
  const b = button("ticket-reveal", "", t("tickets.show.title"));
  b.dataset.ticket = x.id;
  let row = null;
  // ``note``: the text (expanded), a loading or error note, or null (nothing shown).
  const render = (note, expanded) => {
    row?.remove();
    row = note === null ? null : fullTextRow(note, columns);
    if (row) tr.after(row);
    b.textContent = t(expanded ? "tickets.hide" : "tickets.show");
    b.setAttribute("aria-expanded", expanded ? "true" : "false");
  };
  b.addEventListener("click", async () => {
    if (b.getAttribute("aria-expanded") === "true") {
      revealed.texts.delete(x.id);
      render(null, false);
      return;
    }
    b.disabled = true;
    render(t("tickets.loading"), false);
    try {
      const query = alertId ? `?alert=${encodeURIComponent(alertId)}` : "";
      const data = await getJson(`/api/tickets/${encodeURIComponent(x.id)}${query}`);
      const text = isObj(data) && isObj(data.ticket) ? data.ticket.text : undefined;
      if (typeof text !== "string") throw new Error("bad answer");
      if (revealed.alertId === alertId) revealed.texts.set(x.id, text);
      render(text, true);
    } catch (err) {
      render(t("tickets.failed", { error: err.message || String(err) }), false);
    } finally {
      b.disabled = false;
    }
  });
  // the row is in its table already: a text fetched before this redraw shows again
  render(revealed.texts.has(x.id) ? revealed.texts.get(x.id) : null, revealed.texts.has(x.id));
  return b;
}

/** Tickets: one compact row per ticket, newest first, its (masked) text in a row of its
 * own beneath (readable on a wall or a touch screen). ``total``: how many there were,
 * when more than the list holds. */
function ticketNodes(tickets, alertId, total = tickets.length) {
  const shown = tickets.filter(isObj).sort((x, y) => (y.ts || 0) - (x.ts || 0)).slice(0, TICKET_LIMIT);
  const withCaller = shown.some((x) => x.caller);
  const withReveal = shown.some(mayReveal);
  const table = el("table", "tickets");
  const head = el("tr");
  const columns = ["tickets.time", "tickets.channel", "tickets.category", "tickets.id"];
  if (withCaller) columns.push("tickets.caller");
  for (const key of columns) head.append(el("th", null, t(key)));
  if (withReveal) head.append(el("th"));
  const width = columns.length + (withReveal ? 1 : 0);
  const thead = el("thead");
  thead.append(head);
  const body = el("tbody");
  for (const x of shown) {
    const tr = el("tr");
    tr.append(el("td", null, fmtWhen(x.ts)), el("td", null, x.channel ?? "—"),
      el("td", null, x.category ?? "—"), el("td", "mono", x.id ?? "—"));
    if (withCaller) tr.append(el("td", "mono", x.caller ?? "—"));
    body.append(tr);
    if (typeof x.text === "string" && x.text) {
      const text = el("tr", "ticket-text");
      const cell = el("td", null, x.text);
      cell.colSpan = width;
      text.append(cell);
      body.append(text);
    }
    if (withReveal) {
      const cell = el("td");
      if (mayReveal(x)) cell.append(revealButton(x, alertId, tr, width));
      tr.append(cell);
    }
  }
  table.append(thead, body);
  const all = Math.max(total, tickets.length);
  const nodes = [el("h4", null, t("tickets.title", { n: all })), table];
  if (all > shown.length) nodes.push(el("p", "tickets-more", t("more", { n: all - shown.length })));
  return nodes;
}

/** The evidence block of alert ``a``. */
export function evidenceBlock(a) {
  if (revealed.alertId !== a.id) revealed = { alertId: a.id, texts: new Map() };
  const ev = a.evidence;
  const signals = Array.isArray(ev.signals) ? ev.signals.filter(isObj) : [];
  const box = el("div", "evidence");
  if (signals.length) {
    // every ticket that ever joined the incident, listed once (the signals' own lists
    // hold only their windows' tickets)
    const kept = Array.isArray(ev.tickets) && ev.tickets.length ? ev.tickets : null;
    box.append(el("h4", null, t("detail.fused", { n: signals.length })));
    for (const sig of signals) box.append(signalNode(sig, a.id, kept === null));
    if (kept) {
      const section = el("section", "incident-tickets");
      section.append(...ticketNodes(kept, a.id, isNum(ev.tickets_total) ? ev.tickets_total : kept.length));
      box.append(section);
    }
  } else {
    box.append(...evidenceNodes(ev, t("detail.evidence"), a.id));
  }
  return box;
}
