/*
 * citybrain command map: live crowd heatmap and alert board.
 *
 * Classic script (no build step, no module MIME requirements), loaded after the
 * locally served UMD bundles that define the globals `h3` and `deck`.
 * Message contract: docs/protocol.md (websocket `snapshot`, `cells`, `alert`).
 *
 * Data flow: websocket messages only mutate the two Maps and mark them dirty;
 * one requestAnimationFrame pass then rebuilds the layer list and the alert
 * panel. However fast messages arrive, the page redraws at most once a frame,
 * and deck.gl only recomputes the cell attributes when the cell array changes.
 */
(function () {
  "use strict";

  // ---- settings ----------------------------------------------------------

  const DEFAULT_CONFIG = {
    center: [113.10, 23.02], zoom: 12, h3_resolution: 9, tile_url: null, district: "/api/district",
  };
  const BACKOFF_MIN_MS = 500;
  const BACKOFF_MAX_MS = 10000;
  const PING_INTERVAL_MS = 15000;
  // No frame at all (not even a pong) for this long means a half-open socket:
  // browsers can take minutes to notice a dead TCP link on their own.
  const SILENCE_LIMIT_MS = 2 * PING_INTERVAL_MS + 5000;
  const STALE_BANNER_AFTER_MS = 3000;  // brief reconnects do not flash the banner
  const MAX_CLOSED_ALERTS = 200;       // bounds memory and DOM over a long shift
  const FLY_ZOOM = 14;       // a hotspot and its surroundings
  const PULSE_PERIOD_MS = 1600;
  const PULSE_FRAME_MS = 33;           // ~30 fps is smooth enough for a ring

  // Fruin walkway bands (alerts/los.py FRUIN_WALKWAY): upper limits of A–E in
  // persons/m². Only used for the legend and when a cell lacks `los`;
  // /api/config may override them with `los_limits`.
  let losLimits = [0.31, 0.43, 0.72, 1.08, 2.15];

  // Green to dark red. Alpha rises with crowding so the busy cells dominate
  // the wall; F also gets a bright outline because dark red alone has too
  // little luminance against the dark background.
  const LOS = {
    A: { fill: [46, 158, 90, 150], label: "畅通 Free" },
    B: { fill: [140, 198, 80, 165], label: "较畅 Light" },
    C: { fill: [236, 210, 70, 185], label: "一般 Moderate" },
    D: { fill: [246, 148, 48, 205], label: "较挤 Dense" },
    E: { fill: [230, 70, 45, 222], label: "拥挤 Crowded" },
    F: { fill: [165, 8, 40, 238], label: "严重 Jammed", line: [255, 110, 130, 255] },
  };
  const LOS_LETTERS = Object.keys(LOS);

  // Muted slate-to-violet for cells with sensor or hotline data only: clearly
  // a different kind of information from camera density, drawn outlined.
  const RISK_LOW = [70, 86, 112];
  const RISK_HIGH = [156, 122, 214];

  const SEVERITY = {
    critical: { rgb: [255, 77, 79], label: "紧急", en: "Critical", rank: 0, radius: 13 },
    warning: { rgb: [255, 176, 32], label: "警告", en: "Warning", rank: 1, radius: 11 },
    info: { rgb: [61, 155, 255], label: "提示", en: "Info", rank: 2, radius: 9 },
  };
  const CLOSED_RGB = [120, 132, 146];

  const RULES = {
    "crowd.density": "人群密度 Crowd density",
    "sensor.alarm": "传感器报警 Sensor alarm",
    "hotline.cluster": "热线聚集 Hotline cluster",
    "crowd.rise": "密度快速上升 Fast rise",
  };
  const DESKS = {
    "110": "110 公安", "119": "119 消防", "120": "120 急救", "122": "122 交警",
    "12345": "12345 热线", chengguan: "城管", traffic: "交通", metro: "地铁",
  };
  const STATES = { open: "进行中 Open", closed: "已关闭 Closed" };
  const EVIDENCE_LABELS = {
    density: "密度 Density (p/m²)", people: "人数 People", area_m2: "面积 Area (m²)",
    enter_threshold: "触发阈值 Enter threshold", exit_threshold: "解除阈值 Exit threshold",
    dwell_s: "持续 Dwell (s)", count: "工单数 Tickets", category: "类别 Category",
    radius_m: "半径 Radius (m)", window_s: "时间窗 Window (s)", type: "类型 Type",
    value: "读数 Value", unit: "单位 Unit", alarm: "报警 Alarm", sensor: "传感器 Sensor",
    los: "服务水平 LOS", risk: "风险 Risk", density_max: "最高密度 Peak camera density",
    los_queuing: "排队服务水平 Queuing LOS", still: "Still 等级 Still level",
    trend_per_min: "上升速率 Rise (p/m²/min)", walkable_m2: "可通行面积 Walkable (m²)",
    cameras: "摄像头 Cameras", stale_cameras: "失效摄像头 Stale cameras", peak: "峰值 Peak",
    channels: "渠道 Channels", zones: "区域 Zones", flow_per_m_min: "流率 Flow (p/m/min)",
    rules: "规则 Rules", first_ts: "首单 First ticket", last_ts: "末单 Last ticket",
    radius_k: "半径 Radius (H3 steps)", geocoded: "地址定位 Geocoded",
  };

  // ---- state -------------------------------------------------------------

  const cells = new Map();   // cell id -> cell view
  const alerts = new Map();  // alert id -> alert
  const stats = { messages: 0, malformed: 0, reconnects: 0, tileErrors: 0 };
  // Public debugging / test handle. The Maps are never replaced, only mutated.
  const citybrain = { cells, alerts, deck: null, stats };
  window.citybrain = citybrain;

  let config = DEFAULT_CONFIG;
  let districtData = null;
  let cellData = [];         // array handed to deck; new identity only when cells change
  let markerData = [];
  let pulseData = [];
  let selectedId = null;
  let viewState = null;
  const dirty = { cells: false, alerts: false, layers: false };
  let rafId = 0;
  let lastPulseAt = 0;
  const newAlertIds = new Set();  // arrived live in the last seconds: briefly highlighted

  // Websocket connection state.
  let socket = null;
  let backoffMs = BACKOFF_MIN_MS;
  let reconnectAt = 0;
  let reconnectTimer = 0;
  let pingTimer = 0;
  let lastFrameAt = 0;
  let disconnectedSince = Date.now();  // 0 while connected
  const reducedMotion = window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  const $ = (id) => document.getElementById(id);
  const ui = {
    status: $("status"), statusText: document.querySelector("#status .status-text"),
    clock: $("clock"), cellCount: $("cell-count"), crowdedCount: $("crowded-count"),
    openAlertCount: $("open-alert-count"), severitySummary: $("severity-summary"),
    list: $("alert-list"), empty: $("alert-empty"), detail: $("alert-detail"),
    detailTitle: $("detail-title"), detailBody: $("detail-body"), detailClose: $("detail-close"),
    resetView: $("reset-view"), staleBanner: $("stale-banner"), mapError: $("map-error"),
    legendLos: $("legend-los"), map: $("map"),
  };
  const alertItems = new Map();  // alert id -> <li>, reused so the list never rebuilds

  // ---- small helpers -----------------------------------------------------

  const pad2 = (n) => String(n).padStart(2, "0");
  const isNum = (v) => typeof v === "number" && Number.isFinite(v);

  function fmtTime(ms) {
    if (!isNum(ms)) return "—";
    const d = new Date(ms);
    return `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())}`;
  }

  /** HH:MM:SS today, "MM-DD HH:MM:SS" on other days (night-shift handover). */
  function fmtWhen(ms) {
    if (!isNum(ms)) return "—";
    const d = new Date(ms);
    const today = new Date();
    const sameDay = d.toDateString() === today.toDateString();
    return sameDay ? fmtTime(ms) : `${pad2(d.getMonth() + 1)}-${pad2(d.getDate())} ${fmtTime(ms)}`;
  }

  function fmtNum(v, digits = 3) {
    if (!isNum(v)) return "—";
    return Number.isInteger(v) ? String(v) : String(Number(v.toFixed(digits)));
  }

  function fmtLatLon(lat, lon) {
    return isNum(lat) && isNum(lon) ? `${lat.toFixed(4)}, ${lon.toFixed(4)}` : "—";
  }

  function escapeHtml(value) {
    return String(value).replace(/[&<>"']/g, (c) => (
      { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" }[c]));
  }

  /** Creates an element; text is always set as textContent (server strings are untrusted). */
  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function ruleLabel(rule) {
    if (RULES[rule]) return RULES[rule];
    // Unknown rule from a newer server: "foo.bar_baz" -> "Foo bar baz".
    const words = String(rule || "unknown").replace(/[._-]+/g, " ").trim();
    return words.charAt(0).toUpperCase() + words.slice(1);
  }

  const severityOf = (a) => SEVERITY[a.severity] || SEVERITY.info;
  const isOpen = (a) => a.state !== "closed";

  function losFromDensity(density) {
    const i = losLimits.findIndex((limit) => density <= limit);
    return LOS_LETTERS[i === -1 ? 5 : i];
  }

  /** LOS letter of a cell with camera data, or null for sensor/hotline-only cells. */
  function cellLos(c) {
    if (!isNum(c.density)) return null;
    return LOS[c.los] ? c.los : losFromDensity(c.density);
  }

  function riskColor(risk, alpha) {
    const t = isNum(risk) ? Math.min(1, Math.max(0, risk)) : 0;
    return [
      Math.round(RISK_LOW[0] + (RISK_HIGH[0] - RISK_LOW[0]) * t),
      Math.round(RISK_LOW[1] + (RISK_HIGH[1] - RISK_LOW[1]) * t),
      Math.round(RISK_LOW[2] + (RISK_HIGH[2] - RISK_LOW[2]) * t),
      alpha,
    ];
  }

  // ---- message validation ------------------------------------------------

  // Malformed input is dropped and counted, never thrown: one bad frame must
  // not blank a wall display. Warnings are rate limited so a misbehaving
  // producer cannot flood the console.
  function malformed(reason, sample) {
    stats.malformed += 1;
    const n = stats.malformed;
    if (n <= 20 || n % 100 === 0) {
      console.warn(`citybrain: ignored malformed message (${n} so far): ${reason}`, sample);
    }
  }

  const validCellId = (id) => typeof id === "string" && id.length > 0
    && (typeof h3 === "undefined" || h3.isValidCell(id));

  function validCell(c) {
    return c !== null && typeof c === "object" && validCellId(c.cell);
  }

  function validAlert(a) {
    return a !== null && typeof a === "object" && typeof a.id === "string" && a.id.length > 0;
  }

  /** Upserts valid cell views, counting bad ones; returns whether anything changed. */
  function upsertCells(list) {
    if (!Array.isArray(list)) {
      if (list !== undefined && list !== null) malformed("cells is not an array", list);
      return false;
    }
    let changed = false;
    for (const c of list) {
      if (validCell(c)) { cells.set(c.cell, c); changed = true; } else malformed("bad cell view", c);
    }
    return changed;
  }

  // ---- websocket messages ------------------------------------------------

  function onSnapshot(msg) {
    cells.clear();
    upsertCells(msg.cells);
    // The server's list is authoritative after a (re)connect, but closed alerts
    // the operator already saw stay as history if the server no longer sends them.
    const keepClosed = [...alerts.values()].filter((a) => !isOpen(a));
    alerts.clear();
    if (Array.isArray(msg.alerts)) {
      for (const a of msg.alerts) {
        if (validAlert(a)) alerts.set(a.id, a); else malformed("bad alert", a);
      }
    } else if (msg.alerts !== undefined) {
      malformed("snapshot alerts is not an array", msg.alerts);
    }
    for (const a of keepClosed) if (!alerts.has(a.id)) alerts.set(a.id, a);
    pruneClosedAlerts();
    backoffMs = BACKOFF_MIN_MS;  // only a working feed resets the backoff
    invalidate("cells");
    invalidate("alerts");
  }

  function onCells(msg) {
    let changed = upsertCells(msg.cells);
    if (Array.isArray(msg.removed)) {
      for (const id of msg.removed) changed = cells.delete(id) || changed;
    } else if (msg.removed !== undefined && msg.removed !== null) {
      malformed("removed is not an array", msg.removed);
    }
    if (changed) invalidate("cells");
  }

  function onAlert(msg) {
    const a = msg.alert;
    if (!validAlert(a)) { malformed("bad alert", a); return; }
    const held = alerts.get(a.id);
    // Never let a late, older version overwrite a newer one.
    if (held && isNum(held.updated_at) && isNum(a.updated_at) && a.updated_at < held.updated_at) return;
    if (!held) {
      newAlertIds.add(a.id);
      setTimeout(() => { newAlertIds.delete(a.id); invalidate("alerts"); }, 4000);
    }
    alerts.set(a.id, a);
    pruneClosedAlerts();
    invalidate("alerts");
  }

  function pruneClosedAlerts() {
    const closed = [...alerts.values()].filter((a) => !isOpen(a));
    if (closed.length <= MAX_CLOSED_ALERTS) return;
    closed.sort((x, y) => (y.closed_at || y.updated_at || 0) - (x.closed_at || x.updated_at || 0));
    for (const a of closed.slice(MAX_CLOSED_ALERTS)) {
      if (a.id !== selectedId) alerts.delete(a.id);
    }
  }

  function handleMessage(raw) {
    stats.messages += 1;
    lastFrameAt = Date.now();
    if (typeof raw !== "string") { malformed("binary frame", raw); return; }
    let msg;
    try {
      msg = JSON.parse(raw);
    } catch (err) {
      malformed("not JSON", raw.slice(0, 200));
      return;
    }
    if (msg === null || typeof msg !== "object" || Array.isArray(msg)) {
      malformed("not a JSON object", msg);
      return;
    }
    try {
      switch (msg.type) {
        case "snapshot": onSnapshot(msg); break;
        case "cells": onCells(msg); break;
        case "alert": onAlert(msg); break;
        case "pong": break;
        case "error": console.warn("citybrain: server reported an error:", msg.error); break;
        default: malformed(`unknown type ${JSON.stringify(msg.type)}`, msg);
      }
    } catch (err) {
      malformed(`handler failed: ${err && err.message}`, msg);
    }
  }

  // ---- websocket connection ----------------------------------------------

  function wsUrl() {
    return `${location.protocol === "https:" ? "wss:" : "ws:"}//${location.host}/ws`;
  }

  function connect() {
    reconnectTimer = 0;
    setStatus("connecting");
    let ws;
    try {
      ws = new WebSocket(wsUrl());
    } catch (err) {
      console.warn("citybrain: cannot open websocket:", err);
      scheduleReconnect();
      return;
    }
    socket = ws;
    ws.onopen = () => {
      if (socket !== ws) return;
      lastFrameAt = Date.now();
      disconnectedSince = 0;
      setStatus("open");
      pingTimer = setInterval(() => keepAlive(ws), PING_INTERVAL_MS);
    };
    ws.onmessage = (ev) => { if (socket === ws) handleMessage(ev.data); };
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
    try { ws.send(JSON.stringify({ type: "ping" })); } catch (err) { /* close follows */ }
  }

  function dropSocket() {
    clearInterval(pingTimer);
    socket = null;
    if (!disconnectedSince) disconnectedSince = Date.now();
    scheduleReconnect();
  }

  function scheduleReconnect() {
    if (reconnectTimer) return;
    const delay = backoffMs;
    backoffMs = Math.min(backoffMs * 2, BACKOFF_MAX_MS);
    reconnectAt = Date.now() + delay;
    stats.reconnects += 1;
    reconnectTimer = setTimeout(connect, delay);
    setStatus("closed");
  }

  function setStatus(state) {
    ui.status.dataset.state = state;
    ui.status.dataset.connected = state === "open" ? "true" : "false";
    updateStatusText();
  }

  function updateStatusText() {
    const state = ui.status.dataset.state;
    let text;
    if (state === "open") text = "实时 Live";
    else if (state === "connecting") text = "连接中 Connecting…";
    else {
      const secs = Math.max(0, Math.ceil((reconnectAt - Date.now()) / 1000));
      text = `断开 Offline · 重连 ${secs} s`;
    }
    if (ui.statusText.textContent !== text) ui.statusText.textContent = text;
    const stale = state !== "open" && disconnectedSince > 0
      && Date.now() - disconnectedSince > STALE_BANNER_AFTER_MS;
    ui.staleBanner.hidden = !stale;
  }

  // ---- clock -------------------------------------------------------------

  function tick() {
    const now = new Date();
    ui.clock.textContent = fmtTime(now.getTime());
    ui.clock.dateTime = now.toISOString();
    ui.clock.title = `${now.getFullYear()}-${pad2(now.getMonth() + 1)}-${pad2(now.getDate())}`;
    updateStatusText();
    // Align to the next second so the clock never skips or lags visibly.
    setTimeout(tick, 1000 - (Date.now() % 1000) + 5);
  }

  // ---- map layers --------------------------------------------------------

  let deckgl = null;

  function cellFill(c) {
    const los = cellLos(c);
    return los ? LOS[los].fill : riskColor(c.risk, 95);
  }

  function cellLine(c) {
    const los = cellLos(c);
    if (los) return LOS[los].line || [0, 0, 0, 0];
    return riskColor(c.risk, 235);
  }

  function cellLineWidth(c) {
    const los = cellLos(c);
    if (los) return LOS[los].line ? 2 : 0;
    return 1.5;
  }

  function markerColor(a, alpha) {
    const rgb = isOpen(a) ? severityOf(a).rgb : CLOSED_RGB;
    return [rgb[0], rgb[1], rgb[2], alpha];
  }

  function buildLayers(now) {
    const layers = [];
    if (config.tile_url) {
      // Optional offline raster basemap (XYZ template from /api/config).
      layers.push(new deck.TileLayer({
        id: "basemap",
        data: config.tile_url,
        minZoom: 0,
        maxZoom: 19,
        tileSize: 256,
        onTileError: (err) => {
          // A missing tile is cosmetic; say so once, not for every tile.
          if (stats.tileErrors++ === 0) console.warn("citybrain: basemap tile failed:", err);
        },
        renderSubLayers: (props) => {
          const [[west, south], [east, north]] = props.tile.boundingBox;
          return new deck.BitmapLayer(props, {
            data: null, image: props.data, bounds: [west, south, east, north],
          });
        },
      }));
    }
    if (districtData) {
      layers.push(new deck.GeoJsonLayer({
        id: "district-fill",
        data: districtData,
        filled: true,
        stroked: false,
        getFillColor: [110, 150, 200, 16],
      }));
    }
    layers.push(new deck.H3HexagonLayer({
      id: "cells",
      data: cellData,
      getHexagon: (c) => c.cell,
      extruded: false,
      filled: true,
      stroked: true,
      coverage: 0.94,  // hairline gaps keep neighbouring cells distinguishable
      lineWidthUnits: "pixels",
      getFillColor: cellFill,
      getLineColor: cellLine,
      getLineWidth: cellLineWidth,
      pickable: true,
      autoHighlight: true,
      highlightColor: [255, 255, 255, 80],
      // Colours depend on the legend bands too: recompute if config changed them.
      updateTriggers: { getFillColor: losLimits, getLineColor: losLimits, getLineWidth: losLimits },
    }));
    if (districtData) {
      // Outline drawn above the cells so the boundary stays visible where they touch it.
      layers.push(new deck.GeoJsonLayer({
        id: "district-line",
        data: districtData,
        filled: false,
        stroked: true,
        getLineColor: [120, 180, 240, 210],
        getLineWidth: 2,
        lineWidthUnits: "pixels",
      }));
    }
    if (pulseData.length > 0) {
      // Expanding ring for open critical alerts. Animated through uniforms only
      // (radiusScale, opacity), so no attribute is recomputed per frame.
      const phase = reducedMotion ? 0.35 : (now % PULSE_PERIOD_MS) / PULSE_PERIOD_MS;
      layers.push(new deck.ScatterplotLayer({
        id: "alert-pulse",
        data: pulseData,
        getPosition: (a) => [a.lon, a.lat],
        getRadius: (a) => severityOf(a).radius,
        radiusUnits: "pixels",
        radiusScale: 1 + 1.8 * phase,
        opacity: 0.9 * (1 - phase),
        filled: false,
        stroked: true,
        getLineColor: (a) => markerColor(a, 255),
        lineWidthUnits: "pixels",
        getLineWidth: 3,
      }));
    }
    layers.push(new deck.ScatterplotLayer({
      id: "alert-markers",
      data: markerData,
      getPosition: (a) => [a.lon, a.lat],
      getRadius: (a) => severityOf(a).radius + (a.id === selectedId ? 4 : 0),
      radiusUnits: "pixels",
      filled: true,
      stroked: true,
      getFillColor: (a) => markerColor(a, 80),
      getLineColor: (a) => (a.id === selectedId ? [255, 255, 255, 255] : markerColor(a, 255)),
      lineWidthUnits: "pixels",
      getLineWidth: 3,
      pickable: true,
      updateTriggers: { getRadius: selectedId, getLineColor: selectedId },
    }));
    return layers;
  }

  function cellTooltip(c) {
    const los = cellLos(c);
    const rows = [];
    const row = (k, v) => rows.push(`<tr><th>${k}</th><td>${v}</td></tr>`);
    row("人数 People", isNum(c.people) ? escapeHtml(c.people) : "—");
    row("风险 Risk", isNum(c.risk) ? c.risk.toFixed(2) : "—");
    const sensors = c.sensors && typeof c.sensors === "object" ? Object.entries(c.sensors) : [];
    row("传感器 Sensors", sensors.length === 0 ? "—" : sensors.map(([type, s]) => {
      const text = `${escapeHtml(type)} ${escapeHtml(fmtNum(s && s.value))}`;
      return s && s.alarm ? `<span class="tt-alarm">${text} ⚠ 报警</span>` : text;
    }).join("<br>"));
    const tickets = c.tickets && typeof c.tickets === "object" ? Object.entries(c.tickets) : [];
    row("工单 Tickets", tickets.length === 0 ? "—"
      : `${escapeHtml(isNum(c.tickets_total) ? c.tickets_total : "")} · `
        + tickets.map(([cat, n]) => `${escapeHtml(cat)} ${escapeHtml(n)}`).join(", "));
    const head = los
      ? `<span class="tt-los" style="background:rgb(${LOS[los].fill.slice(0, 3).join(",")})">LOS ${los}</span>`
        + `<span>密度 Density <b>${c.density.toFixed(2)}</b> 人/m²</span>`
      : `<span>无客流数据 <span class="en">No camera data</span></span>`;
    return `<div class="tt-head">${head}</div><table>${rows.join("")}</table>`
      + `<div class="tt-foot">${escapeHtml(c.cell)} · ${fmtTime(c.updated_at)}</div>`;
  }

  const TOOLTIP_STYLE = {
    backgroundColor: "rgba(13, 18, 25, 0.96)", color: "#e8eef4", padding: "10px 12px",
    border: "1px solid #2e3f52", borderRadius: "6px", fontSize: "14px", maxWidth: "360px",
    fontFamily: "inherit", boxShadow: "0 6px 20px rgba(0,0,0,0.5)",
  };

  function getTooltip({ object, layer }) {
    if (!object || !layer) return null;
    if (layer.id === "cells") return { html: cellTooltip(object), className: "cb-tooltip", style: TOOLTIP_STYLE };
    if (layer.id === "alert-markers") {
      const sev = severityOf(object);
      return {
        html: `<div class="tt-head"><b>${sev.label} ${sev.en}</b> · ${escapeHtml(ruleLabel(object.rule))}</div>`
          + `<div>${escapeHtml(object.title || "")}</div>`,
        className: "cb-tooltip", style: TOOLTIP_STYLE,
      };
    }
    return null;
  }

  function initialView() {
    const [lon, lat] = config.center;
    return { longitude: lon, latitude: lat, zoom: config.zoom, pitch: 0, bearing: 0 };
  }

  function flyTo(lon, lat, zoom) {
    if (!deckgl) return;
    const from = viewState || initialView();
    // A new initialViewState object is how standalone deck.gl accepts a
    // programmatic camera move; the user keeps full control afterwards.
    deckgl.setProps({
      initialViewState: {
        ...from, longitude: lon, latitude: lat, zoom,
        transitionDuration: 1200,
        transitionInterpolator: new deck.FlyToInterpolator(),
      },
    });
  }

  function createMap() {
    if (typeof deck === "undefined" || typeof h3 === "undefined") {
      showMapError("地图库未加载 Map libraries missing — run `npm ci` in web/frontend.");
      return;
    }
    try {
      deckgl = new deck.DeckGL({
        container: ui.map,
        views: new deck.MapView({ repeat: false }),
        initialViewState: initialView(),
        // 2D only: a tilted wall display is harder to read and easy to bump into.
        controller: { dragRotate: false, touchRotate: false, keyboard: true },
        layers: [],
        getTooltip,
        onViewStateChange: ({ viewState: vs }) => { viewState = vs; },
        onClick: ({ object, layer }) => {
          if (object && layer && layer.id === "alert-markers") selectAlert(object.id, false);
        },
        getCursor: ({ isDragging, isHovering }) => (isDragging ? "grabbing" : isHovering ? "pointer" : "grab"),
        onError: (err) => console.warn("citybrain: map error:", err),
      });
      citybrain.deck = deckgl;
    } catch (err) {
      console.warn("citybrain: cannot start the map:", err);
      showMapError("无法启动地图 (WebGL) Map could not start — alerts still update.");
    }
  }

  function showMapError(text) {
    ui.mapError.textContent = text;
    ui.mapError.hidden = false;
  }

  // ---- render loop -------------------------------------------------------

  function invalidate(what) {
    dirty[what] = true;
    if (!rafId) rafId = requestAnimationFrame(frame);
  }

  function frame(now) {
    rafId = 0;
    const changed = dirty.cells || dirty.alerts || dirty.layers;
    if (dirty.cells) {
      cellData = Array.from(cells.values());
      renderCellCounts();
    }
    if (dirty.alerts) {
      renderAlerts();
      markerData = [...alerts.values()].filter((a) => isNum(a.lat) && isNum(a.lon)
        && (isOpen(a) || a.id === selectedId));
      pulseData = markerData.filter((a) => isOpen(a) && a.severity === "critical");
    }
    dirty.cells = dirty.alerts = dirty.layers = false;

    const pulsing = pulseData.length > 0 && !reducedMotion;
    if (deckgl && (changed || (pulsing && now - lastPulseAt >= PULSE_FRAME_MS))) {
      if (pulsing) lastPulseAt = now;
      try {
        deckgl.setProps({ layers: buildLayers(now) });
      } catch (err) {
        console.warn("citybrain: layer update failed:", err);
      }
    }
    if (pulsing) rafId = requestAnimationFrame(frame);
  }

  function renderCellCounts() {
    let crowded = 0;
    for (const c of cellData) {
      const los = cellLos(c);
      if (los === "E" || los === "F") crowded += 1;
    }
    ui.cellCount.textContent = String(cells.size);
    ui.crowdedCount.textContent = String(crowded);
  }

  // ---- alert panel -------------------------------------------------------

  /** Open before closed, then newest first. */
  function compareAlerts(x, y) {
    const open = Number(isOpen(y)) - Number(isOpen(x));
    if (open !== 0) return open;
    const t = (y.opened_at || y.updated_at || 0) - (x.opened_at || x.updated_at || 0);
    return t !== 0 ? t : String(x.id).localeCompare(String(y.id));
  }

  function renderAlerts() {
    const sorted = [...alerts.values()].sort(compareAlerts);
    for (const [id, li] of alertItems) {
      if (!alerts.has(id)) { li.remove(); alertItems.delete(id); }
    }
    // Keyed update: reuse each <li>, refill it only when its alert object was
    // replaced, and move nodes only when the order changed (keeps scroll and focus).
    let prev = null;
    for (const a of sorted) {
      let li = alertItems.get(a.id);
      if (!li) {
        li = el("li", "alert");
        li.tabIndex = 0;
        li.setAttribute("role", "button");
        alertItems.set(a.id, li);
      }
      if (li.cbAlert !== a) fillAlertItem(li, a);
      li.classList.toggle("selected", a.id === selectedId);
      li.classList.toggle("is-new", newAlertIds.has(a.id));
      const want = prev ? prev.nextSibling : ui.list.firstChild;
      if (li !== want) ui.list.insertBefore(li, want);
      prev = li;
    }
    ui.empty.hidden = sorted.length > 0;

    const open = { critical: 0, warning: 0, info: 0 };
    let openTotal = 0;
    for (const a of sorted) {
      if (!isOpen(a)) continue;
      openTotal += 1;
      const key = SEVERITY[a.severity] ? a.severity : "info";
      open[key] += 1;
    }
    ui.openAlertCount.textContent = String(openTotal);
    ui.openAlertCount.classList.toggle("has-critical", open.critical > 0);
    ui.openAlertCount.classList.toggle("has-open", open.critical === 0 && openTotal > 0);
    ui.severitySummary.replaceChildren(...Object.keys(open).map(
      (k) => el("span", k, `${SEVERITY[k].label} ${open[k]}`)));

    if (selectedId !== null) {
      const a = alerts.get(selectedId);
      if (!a) closeDetail();
      else if (ui.detail.cbAlert !== a) renderDetail(a);
    }
  }

  function fillAlertItem(li, a) {
    li.cbAlert = a;
    const sev = severityOf(a);
    li.dataset.id = a.id;
    li.dataset.rule = String(a.rule ?? "");
    li.dataset.severity = String(a.severity ?? "");
    li.dataset.state = String(a.state ?? "");

    const top = el("div", "alert-row");
    top.append(
      el("span", "sev-badge", `${sev.label} ${sev.en}`),
      el("span", "alert-rule", ruleLabel(a.rule)),
      el("time", "alert-time", fmtWhen(a.opened_at)),
    );
    const title = el("div", "alert-title", a.title || ruleLabel(a.rule));
    const meta = el("div", "alert-row alert-meta");
    const loc = el("span", "alert-loc", fmtLatLon(a.lat, a.lon));
    if (a.cell) loc.title = `H3 ${a.cell}`;
    meta.append(loc, desksNode(a.desks), el("span", "alert-state", STATES[a.state] || a.state || ""));
    li.replaceChildren(top, title, meta);
    li.setAttribute("aria-label", `${sev.label} ${ruleLabel(a.rule)}: ${a.title || ""}`);
  }

  function desksNode(desks) {
    const wrap = el("span", "desks");
    if (Array.isArray(desks)) {
      for (const d of desks) {
        const chip = el("span", "desk", DESKS[d] || d);
        chip.title = String(d);
        wrap.append(chip);
      }
    }
    return wrap;
  }

  function selectAlert(id, fly = true) {
    const a = alerts.get(id);
    if (!a) return;
    selectedId = id;
    renderDetail(a);
    if (fly && isNum(a.lat) && isNum(a.lon)) {
      const zoom = Math.max(FLY_ZOOM, viewState ? viewState.zoom : 0);
      flyTo(a.lon, a.lat, zoom);
    }
    invalidate("alerts");
  }

  function closeDetail() {
    selectedId = null;
    ui.detail.hidden = true;
    ui.detail.cbAlert = null;
    invalidate("alerts");
  }

  function renderDetail(a) {
    ui.detail.cbAlert = a;
    ui.detail.hidden = false;
    const sev = severityOf(a);
    ui.detailTitle.textContent = `${sev.label} ${sev.en} · ${ruleLabel(a.rule)}`;
    ui.detail.dataset.severity = isOpen(a) ? String(a.severity) : "closed";

    // What the operator acts on comes first: title, timing, evidence, tickets;
    // identifiers last.
    const parts = [el("p", "detail-summary", a.title || ruleLabel(a.rule))];
    const timing = [`${STATES[a.state] || a.state || "—"}`, `开始 Opened ${fmtWhen(a.opened_at)}`,
      `更新 Updated ${fmtWhen(a.updated_at)}`];
    if (isNum(a.closed_at)) timing.push(`关闭 Closed ${fmtWhen(a.closed_at)}`);
    parts.push(el("p", "detail-timing", timing.join(" · ")));

    const ev = a.evidence && typeof a.evidence === "object" && !Array.isArray(a.evidence) ? a.evidence : {};
    // An incident lists its signals (crowd, sensors, hotline cluster), each with its numbers.
    const signals = Array.isArray(ev.signals) ? ev.signals.filter((x) => x && typeof x === "object") : [];
    if (signals.length) {
      parts.push(el("h4", null, `融合信号 Fused signals (${signals.length})`));
      for (const sig of signals) parts.push(...signalNodes(sig));
    } else {
      parts.push(...evidenceNodes(ev, "证据 Evidence"));
    }

    parts.push(el("h4", null, "位置与处置 Location & desks"), kvTable([
      ["位置 Location", fmtLatLon(a.lat, a.lon)],
      ["网格 Cell", a.cell || "—", "mono"],
      ["部门 Desks", Array.isArray(a.desks) && a.desks.length
        ? a.desks.map((d) => DESKS[d] || d).join(" · ") : "—"],
      ["编号 ID", a.id, "mono"],
    ]));
    ui.detailBody.replaceChildren(...parts);
  }

  const SIGNAL_META = new Set(["id", "rule", "state", "severity", "cell", "opened_at", "updated_at",
    "desks", "title", "shadow", "signals", "tickets", "risk"]);

  function evidenceNodes(ev, heading) {
    const rows = Object.entries(ev).filter(([k]) => !SIGNAL_META.has(k))
      .map(([k, v]) => [EVIDENCE_LABELS[k] || k, formatEvidence(k, v)]);
    const risk = ev.risk && typeof ev.risk === "object" ? ev.risk : null;
    if (risk && isNum(risk.score)) {
      const factors = risk.factors && typeof risk.factors === "object"
        ? Object.entries(risk.factors).filter(([, f]) => isNum(f) && f > 0)
          .map(([k, f]) => `${k} ${f.toFixed(2)}`).join(" · ") : "";
      rows.unshift(["风险 Risk", `${risk.score.toFixed(2)}${factors ? ` (${factors})` : ""}`]);
    }
    const nodes = rows.length ? [el("h4", null, heading), kvTable(rows)] : [];
    if (Array.isArray(ev.tickets)) nodes.push(...ticketsNodes(ev.tickets));
    return nodes;
  }

  function signalNodes(sig) {
    const sev = severityOf(sig);
    const state = STATES[sig.state] || sig.state || "";
    const heading = `${ruleLabel(sig.rule)} · ${sev.label} ${sev.en} · ${state}`;
    const box = el("section", "signal");
    box.dataset.rule = String(sig.rule || "");
    box.append(el("p", "signal-title", sig.title || ""), ...evidenceNodes(sig, heading));
    return [box];
  }

  function formatEvidence(key, v) {
    if (v === null || v === undefined) return "—";
    if (typeof v === "number") {
      // Epoch-ms timestamps: keys `ts` / `*_at` (protocol convention).
      if ((key === "ts" || key.endsWith("_at") || key.endsWith("_ts")) && v > 1e11) return fmtWhen(v);
      // Densities and risk read best with the same 2 decimals as the tooltip.
      return key === "density" || key === "risk" || key.endsWith("_threshold") ? v.toFixed(2) : fmtNum(v);
    }
    if (typeof v === "boolean") return v ? "是 yes" : "否 no";
    if (Array.isArray(v) && v.every((x) => x === null || typeof x !== "object")) return v.join(", ");
    if (typeof v === "object" && !Array.isArray(v)
        && Object.values(v).every((x) => typeof x === "number" || typeof x === "string")) {
      return Object.entries(v).map(([k, x]) => `${k} ${typeof x === "number" ? fmtNum(x) : x}`).join(" · ");
    }
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }

  function kvTable(rows) {
    const table = el("table", "kv");
    const body = el("tbody");
    for (const [k, v, cls] of rows) {
      const tr = el("tr");
      tr.append(el("th", null, k), el("td", cls || null, v ?? "—"));
      body.append(tr);
    }
    table.append(body);
    return table;
  }

  /** hotline.cluster evidence: one compact row per ticket (caller already masked). */
  function ticketsNodes(tickets) {
    const LIMIT = 50;
    const shown = [...tickets].filter((t) => t && typeof t === "object")
      .sort((x, y) => (y.ts || 0) - (x.ts || 0)).slice(0, LIMIT);
    const withCaller = shown.some((t) => t.caller);
    const table = el("table", "tickets");
    const head = el("tr");
    const columns = ["时间 Time", "渠道 Ch.", "类别 Category", "工单 Ticket"];
    if (withCaller) columns.push("来电 Caller");
    for (const h of columns) head.append(el("th", null, h));
    const thead = el("thead");
    thead.append(head);
    const body = el("tbody");
    for (const t of shown) {
      const tr = el("tr");
      tr.append(el("td", null, fmtWhen(t.ts)), el("td", null, t.channel ?? "—"),
        el("td", null, t.category ?? "—"), el("td", "mono", t.id ?? "—"));
      if (withCaller) tr.append(el("td", "mono", t.caller ?? "—"));
      body.append(tr);
    }
    table.append(thead, body);
    const nodes = [el("h4", null, `热线工单 Tickets (${tickets.length})`), table];
    if (tickets.length > LIMIT) nodes.push(el("p", "tickets-more", `+${tickets.length - LIMIT} 更多 more`));
    return nodes;
  }

  // ---- legend ------------------------------------------------------------

  function renderLegend() {
    const items = LOS_LETTERS.map((letter, i) => {
      const li = el("li");
      const sw = el("span", "swatch");
      const [r, g, b] = LOS[letter].fill;
      sw.style.background = `rgb(${r},${g},${b})`;
      if (LOS[letter].line) sw.style.boxShadow = `inset 0 0 0 2px rgb(${LOS[letter].line.slice(0, 3).join(",")})`;
      const range = i < losLimits.length ? `≤${losLimits[i]}` : `>${losLimits[losLimits.length - 1]}`;
      li.append(sw, el("span", "letter", letter), el("span", "range", range));
      li.title = `${LOS[letter].label} · ${range} 人/m² persons/m²`;
      return li;
    });
    ui.legendLos.replaceChildren(...items);
  }

  // ---- start-up ----------------------------------------------------------

  async function fetchJson(url) {
    const res = await fetch(url, { cache: "no-store", headers: { Accept: "application/json" } });
    if (!res.ok) throw new Error(`${url}: HTTP ${res.status}`);
    return res.json();
  }

  function applyConfig(raw) {
    const c = { ...DEFAULT_CONFIG };
    if (raw && typeof raw === "object") {
      if (Array.isArray(raw.center) && isNum(raw.center[0]) && isNum(raw.center[1])) c.center = raw.center;
      if (isNum(raw.zoom)) c.zoom = raw.zoom;
      if (isNum(raw.h3_resolution)) c.h3_resolution = raw.h3_resolution;
      if (typeof raw.tile_url === "string" && raw.tile_url) c.tile_url = raw.tile_url;
      if (typeof raw.district === "string" && raw.district) c.district = raw.district;
      if (Array.isArray(raw.los_limits) && raw.los_limits.length === 5 && raw.los_limits.every(isNum)) {
        losLimits = raw.los_limits.slice();
      }
    }
    return c;
  }

  async function start() {
    tick();
    ui.list.addEventListener("click", (ev) => {
      const li = ev.target.closest("li.alert");
      if (li) selectAlert(li.dataset.id);
    });
    ui.list.addEventListener("keydown", (ev) => {
      if (ev.key !== "Enter" && ev.key !== " ") return;
      const li = ev.target.closest("li.alert");
      if (li) { ev.preventDefault(); selectAlert(li.dataset.id); }
    });
    ui.detailClose.addEventListener("click", closeDetail);
    document.addEventListener("keydown", (ev) => { if (ev.key === "Escape" && selectedId !== null) closeDetail(); });
    ui.resetView.addEventListener("click", () => flyTo(config.center[0], config.center[1], config.zoom));

    // The feed does not depend on the config: connect at once, in parallel.
    connect();

    try {
      config = applyConfig(await fetchJson("/api/config"));
    } catch (err) {
      console.warn("citybrain: /api/config unavailable, using defaults:", err);
      config = applyConfig(null);
    }
    renderLegend();
    createMap();
    invalidate("layers");

    try {
      districtData = await fetchJson(config.district);
      invalidate("layers");
    } catch (err) {
      console.warn("citybrain: district outline unavailable:", err);
    }
  }

  start();
})();
