/**
 * The search box above the alert list: its text filters the list (alerts whose
 * place or title holds it) and offers the places of that name; choosing one
 * flies the map there.
 */

import { state, invalidate } from "./store.js";
import { t } from "./i18n.js";
import { flyTo } from "./map.js";
import { nameText, searchPlaces } from "./places.js";
import { el } from "./util.js";

const DEBOUNCE_MS = 200;
const ui = {};
let timer = null;
let asking = null;  // AbortController of the search in flight

/** A zoom that shows ``bbox`` ([min lon, min lat, max lon, max lat]) on a ~1000 px map. */
function zoomFor(match) {
  if (!match.bbox) return 16.5;
  const span = Math.max(match.bbox[2] - match.bbox[0], match.bbox[3] - match.bbox[1], 1e-4);
  return Math.min(17, Math.max(10, Math.log2((360 * 4) / span)));
}

function choose(match) {
  ui.matches.hidden = true;
  flyTo(match.lon, match.lat, zoomFor(match));
}

function renderMatches(matches) {
  ui.matches.replaceChildren();
  if (!ui.input.value.trim()) { ui.matches.hidden = true; return; }
  if (!matches.length) {
    ui.matches.append(el("li", "place-none", t("search.none")));
  }
  for (const m of matches) {
    const li = el("li", "place-match");
    li.setAttribute("role", "option");
    li.tabIndex = 0;
    li.dataset.kind = m.kind;
    li.append(el("span", "place-name", nameText(m)), el("span", "place-kind", t(`search.kind.${m.kind}`)));
    li.addEventListener("click", () => choose(m));
    li.addEventListener("keydown", (ev) => { if (ev.key === "Enter") choose(m); });
    ui.matches.append(li);
  }
  ui.matches.hidden = false;
}

async function ask(query) {
  if (asking) asking.abort();
  asking = new AbortController();
  try {
    renderMatches(await searchPlaces(query, 8, asking.signal));
  } catch (err) {
    if (err && err.name === "AbortError") return;
    renderMatches([]);  // an older server without place search: the list still filters
  }
}

export function initPlaceSearch() {
  ui.input = document.getElementById("place-search");
  ui.matches = document.getElementById("place-matches");
  ui.input.addEventListener("input", () => {
    state.placeQuery = ui.input.value;
    invalidate("filter");
    clearTimeout(timer);
    const query = ui.input.value.trim();
    if (!query) { renderMatches([]); return; }
    timer = setTimeout(() => ask(query), DEBOUNCE_MS);
  });
  ui.input.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") ui.matches.hidden = true;
    if (ev.key === "ArrowDown" && !ui.matches.hidden) {
      const first = ui.matches.querySelector(".place-match");
      if (first) { ev.preventDefault(); first.focus(); }
    }
  });
  ui.input.addEventListener("focus", () => { if (ui.matches.childElementCount) ui.matches.hidden = false; });
  document.addEventListener("click", (ev) => {
    if (!ev.target.closest(".place-search")) ui.matches.hidden = true;
  });
}
