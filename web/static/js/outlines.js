/**
 * The offline basemap: thin outlines instead of raster tiles. The district
 * (GET /api/district), the zone layer (GET /api/zones) and every outline
 * layer the server lists (GET /api/layers: grid areas, user layers; each
 * GET /api/layers/{id}.geojson), plus the optional self-hosted raster tiles
 * when /api/config has a tile_url. Point layers (buildings, enterprises,
 * cameras) are offered too, off by default and only fetched when switched
 * on. Each layer can be switched in the legend; the choice is remembered.
 */

import { state, invalidate, malformed } from "./store.js";
import { getJson } from "./api.js";
import * as valid from "./validate.js";
import { getBool, setBool } from "./prefs.js";

// Kinds drawn by their own endpoints above; /api/layers may list them too.
const OWN_KINDS = new Set(["district", "zone", "zones"]);
// Line colours per kind: grid areas faint, user layers distinct; point colours per kind.
const KIND_RGBA = { grid: [150, 170, 200, 90], default: [200, 170, 110, 150] };
const POINT_RGBA = { building: [150, 160, 175, 120], enterprise: [230, 190, 90, 200], camera: [90, 220, 255, 200], default: [200, 200, 200, 160] };

/** id -> {id, title, kind, data (GeoJSON or null), on} in drawing order. */
export const outlineLayers = new Map();
let layerListMissing = false;

function addLayer(id, title, kind, defaultOn, geometry = "outline", url = null) {
  const entry = { id, title, kind, geometry, url, data: null, loading: false, on: getBool(`layer.${id}`, defaultOn) };
  outlineLayers.set(id, entry);
  return entry;
}

export function setLayerOn(id, on) {
  const entry = outlineLayers.get(id);
  if (!entry) return;
  entry.on = on;
  setBool(`layer.${id}`, on);
  if (on && entry.url && !entry.data) loadGeojson(entry);  // lazy layers load on first use
  invalidate("outlines");
}

export const layerListAvailable = () => !layerListMissing;

async function loadGeojson(entry) {
  if (entry.loading) return;
  entry.loading = true;
  try {
    const data = valid.geojson(await getJson(entry.url));
    if (!data) { malformed(`layer ${entry.id} is not GeoJSON`, entry.url); return; }
    entry.data = data;
    invalidate("outlines");
  } catch (err) {
    console.warn(`citybrain: layer ${entry.id} unavailable:`, err.message || err);
  } finally {
    entry.loading = false;
  }
}

/** Fetches every outline layer; the map shows each as it arrives. */
export async function loadOutlines(config) {
  if (config.tile_url) addLayer("basemap", null, "basemap", true).data = true;
  const district = addLayer("district", null, "district", true, "outline", config.district);
  const zones = addLayer("zones", null, "zones", true, "outline", config.zones || "/api/zones");
  invalidate("outlines");
  const jobs = [loadGeojson(district), loadGeojson(zones)];
  try {
    const list = valid.layers(await getJson("/api/layers"));
    if (!list) throw new Error("answer has no layers array");
    for (const l of list) {
      if (OWN_KINDS.has(l.kind) || outlineLayers.has(l.id)) continue;
      const url = `/api/layers/${encodeURIComponent(l.id)}.geojson`;
      const entry = addLayer(l.id, l.title, l.kind, l.geometry === "outline", l.geometry, url);
      if (entry.on) jobs.push(loadGeojson(entry));
    }
  } catch (err) {
    layerListMissing = true;
    if (!err.missing) console.warn("citybrain: /api/layers unavailable:", err.message || err);
  }
  invalidate("outlines");
  await Promise.all(jobs);
}

function basemapLayer(config) {
  return new deck.TileLayer({
    id: "basemap",
    data: config.tile_url,
    minZoom: 0,
    maxZoom: 19,
    tileSize: 256,
    onTileError: (err) => {
      // A missing tile is cosmetic; say so once, not for every tile.
      if (state.stats.tileErrors++ === 0) console.warn("citybrain: basemap tile failed:", err);
    },
    renderSubLayers: (props) => {
      const [[west, south], [east, north]] = props.tile.boundingBox;
      return new deck.BitmapLayer(props, { data: null, image: props.data, bounds: [west, south, east, north] });
    },
  });
}

/** Layers under the heatmap: raster tiles, district tint. */
export function underLayers(config) {
  const layers = [];
  const base = outlineLayers.get("basemap");
  if (base && base.on && config.tile_url) layers.push(basemapLayer(config));
  const district = outlineLayers.get("district");
  if (district && district.on && district.data) {
    layers.push(new deck.GeoJsonLayer({
      id: "district-fill", data: district.data, filled: true, stroked: false, getFillColor: [110, 150, 200, 16],
    }));
  }
  return layers;
}

/** Thin outlines drawn above the heatmap so boundaries stay visible where cells touch them. */
export function overLayers() {
  const layers = [];
  for (const entry of outlineLayers.values()) {
    if (!entry.on || !entry.data || entry.kind === "basemap") continue;
    if (entry.geometry === "point") {
      layers.push(new deck.GeoJsonLayer({
        id: `points-${entry.id}`,
        data: entry.data,
        filled: true,
        stroked: false,
        pointType: "circle",
        getFillColor: POINT_RGBA[entry.kind] || POINT_RGBA.default,
        getPointRadius: 3,
        pointRadiusUnits: "pixels",
        pickable: true,
      }));
      continue;
    }
    const colour = entry.kind === "district" ? [120, 180, 240, 210]
      : entry.kind === "zones" ? [230, 230, 240, 150]
        : KIND_RGBA[entry.kind] || KIND_RGBA.default;
    layers.push(new deck.GeoJsonLayer({
      id: `outline-${entry.id}`,
      data: entry.data,
      filled: false,
      stroked: true,
      getLineColor: colour,
      getLineWidth: entry.kind === "district" ? 2 : 1,
      lineWidthUnits: "pixels",
      pickable: entry.kind === "zones" || entry.kind === "grid",
    }));
  }
  return layers;
}
