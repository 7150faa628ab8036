/**
 * The header: clock, live cell counts, connection status and stale banner,
 * language and large-text switches.
 */

import { state, on } from "./store.js";
import { t, getLang, setLang, onLangChange } from "./i18n.js";
import { link } from "./connection.js";
import { cellLos } from "./colors.js";
import { fmtTime, pad2 } from "./util.js";
import { getBool, setBool } from "./prefs.js";

const STALE_BANNER_AFTER_MS = 3000;  // brief reconnects do not flash the banner
const ui = {};

export function initTopbar() {
  for (const id of ["clock", "cell-count", "crowded-count", "status", "stale-banner", "lang-toggle", "size-toggle", "district-name"]) {
    ui[id] = document.getElementById(id);
  }
  ui.statusText = document.querySelector("#status .status-text");
  ui["lang-toggle"].addEventListener("click", () => setLang(getLang() === "zh" ? "en" : "zh"));
  ui["size-toggle"].addEventListener("click", () => setLarge(!document.documentElement.classList.contains("large")));
  setLarge(getBool("large", false));
  on("cells", renderCounts);
  onLangChange(() => { renderStatus(); renderToggles(); });
  renderToggles();
  tick();
}

function setLarge(on) {
  document.documentElement.classList.toggle("large", on);
  ui["size-toggle"].setAttribute("aria-pressed", on ? "true" : "false");
  setBool("large", on);
  // deck.gl sizes its canvas from the container; tell it the layout changed.
  window.dispatchEvent(new Event("resize"));
}

function renderToggles() {
  ui["lang-toggle"].textContent = t("lang.toggle");
  ui["lang-toggle"].title = t("lang.title");
  ui["size-toggle"].textContent = t("size.toggle");
  ui["size-toggle"].title = t("size.title");
  if (state.config && state.config.district_name && getLang() === "zh") ui["district-name"].textContent = state.config.district_name;
}

function renderCounts() {
  let crowded = 0;
  for (const c of state.cells.values()) {
    const los = cellLos(c);
    if (los === "E" || los === "F") crowded += 1;
  }
  ui["cell-count"].textContent = String(state.cells.size);
  ui["crowded-count"].textContent = String(crowded);
}

/** Status pill text and the stale banner; called on link changes and every second. */
export function renderStatus() {
  const s = link.state;
  ui.status.dataset.state = s;
  ui.status.dataset.connected = s === "open" ? "true" : "false";
  let text;
  if (s === "open") text = t("status.live");
  else if (s === "connecting") text = t("status.connecting");
  else text = t("status.offline", { s: Math.max(0, Math.ceil((link.reconnectAt - Date.now()) / 1000)) });
  if (ui.statusText.textContent !== text) ui.statusText.textContent = text;
  ui["stale-banner"].hidden = !(s !== "open" && link.disconnectedSince > 0
    && Date.now() - link.disconnectedSince > STALE_BANNER_AFTER_MS);
}

function tick() {
  const now = new Date();
  ui.clock.textContent = fmtTime(now.getTime());
  ui.clock.dateTime = now.toISOString();
  ui.clock.title = `${now.getFullYear()}-${pad2(now.getMonth() + 1)}-${pad2(now.getDate())}`;
  renderStatus();
  // Align to the next second so the clock never skips or lags visibly.
  setTimeout(tick, 1000 - (Date.now() % 1000) + 5);
}
