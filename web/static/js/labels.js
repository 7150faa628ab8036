/**
 * Names of domain things in the current language: rules, desks, evidence
 * fields, sensor types. Desk names come from GET /api/desks when the server
 * has it (``setDesks``); the built-in list covers the contract's desks.
 */

import { getLang, t, has } from "./i18n.js";
import { isNum, isStr } from "./util.js";

const pick = (pair) => pair[getLang() === "en" ? 1 : 0];

const RULES = {
  "crowd.density": ["人群密度", "Crowd density"],
  "crowd.rise": ["密度快速上升", "Fast rise"],
  "crowd.anomaly": ["人群异常", "Unusual crowd"],
  "hotline.cluster": ["热线聚集", "Hotline cluster"],
  "sensor.alarm": ["传感器报警", "Sensor alarm"],
};

const SENSORS = {
  smoke: ["烟感", "smoke"], gas: ["燃气", "gas"], ebike_charging: ["电动车充电", "e-bike charging"],
  water_level: ["水位", "water level"], temperature: ["温度", "temperature"], noise: ["噪声", "noise"],
};

const BUILTIN_DESKS = {
  "110": ["110 公安", "110 Police"],
  "12345": ["12345 热线", "12345 Hotline"],
  chengguan: ["城管", "City management"],
  fire: ["消防", "Fire"],
  traffic: ["交警", "Traffic police"],
  grid: ["网格站", "Grid stations"],
};
let serverDesks = null;  // id -> [zh, en] from /api/desks

const EVIDENCE = {
  density: ["密度 (人/m²)", "Density (p/m²)"], people: ["人数", "People"], area_m2: ["面积 (m²)", "Area (m²)"],
  enter_threshold: ["触发阈值", "Enter threshold"], exit_threshold: ["解除阈值", "Exit threshold"],
  dwell_s: ["持续 (秒)", "Dwell (s)"], count: ["工单数", "Tickets"], category: ["类别", "Category"],
  radius_m: ["半径 (m)", "Radius (m)"], window_s: ["时间窗 (秒)", "Window (s)"], type: ["类型", "Type"],
  value: ["读数", "Value"], unit: ["单位", "Unit"], alarm: ["报警", "Alarm"], sensor: ["传感器", "Sensor"],
  sensors: ["传感器", "Sensors"], limit: ["限值", "Limit"], z: ["偏离 (σ)", "Deviation (σ)"],
  los: ["服务水平", "LOS"], risk: ["风险", "Risk"], density_max: ["最高单机密度", "Peak camera density"],
  los_queuing: ["排队服务水平", "Queuing LOS"], still: ["Still 等级", "Still level"],
  trend_per_min: ["上升速率 (人/m²/分)", "Rise (p/m²/min)"], walkable_m2: ["可通行面积 (m²)", "Walkable (m²)"],
  cameras: ["摄像头", "Cameras"], stale_cameras: ["失效摄像头", "Stale cameras"], peak: ["峰值", "Peak"],
  channels: ["渠道", "Channels"], zones: ["区域", "Zones"], flow_per_m_min: ["流率 (人/m/分)", "Flow (p/m/min)"],
  rules: ["规则", "Rules"], first_ts: ["首单", "First ticket"], last_ts: ["末单", "Last ticket"],
  radius_k: ["半径 (H3 步)", "Radius (H3 steps)"], geocoded: ["地址定位", "Geocoded"],
  metric: ["指标", "Metric"], direction: ["方向", "Direction"], subjects: ["涉及对象", "Subjects"],
  escalated: ["已升级", "Escalated"], closed_reason: ["关闭原因", "Closed because"],
  rule_version: ["规则版本", "Rule version"], dedupe: ["去重键", "Dedupe key"], lead: ["主告警", "Lead"],
  anchor: ["锚点网格", "Anchor cell"],
};

/** Human name of a rule id; unknown ids from a newer server read as words. */
export function ruleLabel(rule) {
  const id = String(rule || "");
  if (RULES[id]) return pick(RULES[id]);
  if (id.startsWith("sensor.alarm.")) {
    const type = id.slice("sensor.alarm.".length);
    return `${pick(RULES["sensor.alarm"])} · ${SENSORS[type] ? pick(SENSORS[type]) : type}`;
  }
  const words = (id || "unknown").replace(/[._-]+/g, " ").trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

export function setDesks(list) {
  serverDesks = new Map(list.map((d) => [d.id, [d.zh || d.id, d.en || d.id]]));
}

export function deskLabel(id) {
  const key = String(id);
  if (serverDesks && serverDesks.has(key)) return pick(serverDesks.get(key));
  return BUILTIN_DESKS[key] ? pick(BUILTIN_DESKS[key]) : key;
}

/** Desk ids known without the server list. */
export const builtinDeskIds = () => Object.keys(BUILTIN_DESKS);

export function evidenceLabel(key) {
  return EVIDENCE[key] ? pick(EVIDENCE[key]) : key;
}

export function roleLabel(role) {
  return has(`role.${role}`) ? t(`role.${role}`) : String(role || "—");
}

export function sensorLabel(type) {
  return SENSORS[type] ? pick(SENSORS[type]) : String(type);
}

const UNITS = { "persons/m2": ["人/m²", "persons/m²"], persons: ["人", "people"], tickets: ["件", "tickets"] };

function unitText(unit) {
  return UNITS[unit] ? pick(UNITS[unit]) : isStr(unit) ? unit : "";
}

function figure(v) {
  return Math.abs(v) >= 100 ? String(Math.round(v)) : v.toFixed(2).replace(/\.?0+$/, "");
}

/**
 * A people estimate with what it rests on: "约 40,724 人（所见 1,980 人 · 覆盖 5% ·
 * 范围 1,980–43,000 人）". ``f`` holds ``people`` (the estimate over the walkable area),
 * ``people_seen`` (persons on the ground the cameras cover), ``covered_m2``,
 * ``walkable_m2`` (or a cell view's ``area_m2``) and ``density_max``. The range runs
 * from what was seen (nobody outside the views) to the busiest camera's density over
 * the whole walkable area. "" when there is no estimate.
 */
export function peopleText(f) {
  if (!f || !isNum(f.people)) return "";
  const walkable = isNum(f.walkable_m2) ? f.walkable_m2 : f.area_m2;
  const est = Math.round(f.people).toLocaleString();
  if (!isNum(f.people_seen) || !isNum(f.covered_m2) || !isNum(walkable) || walkable <= 0) {
    return t("people.estimate", { n: est });
  }
  const coverage = Math.min(1, f.covered_m2 / walkable);
  if (coverage >= 0.995) return t("people.counted", { n: est });
  const high = Math.max(f.people, isNum(f.density_max) ? f.density_max * walkable : f.people);
  return t("people.extrapolated", {
    n: est,
    seen: Math.round(f.people_seen).toLocaleString(),
    pct: coverage < 0.01 ? "<1" : String(Math.round(coverage * 100)),
    low: Math.round(f.people_seen).toLocaleString(),
    high: Math.round(high).toLocaleString(),
  });
}

/** The people line of an alert: its crowd signals' estimates (see :func:`peopleText`). */
export function alertPeopleText(a) {
  const signals = a.evidence && Array.isArray(a.evidence.signals) ? a.evidence.signals : [];
  return [...new Set(signals.map(peopleText).filter(Boolean))].join(t("sep.list"));
}

/**
 * Peak and current value of each signal that has both, side by side ("峰值 4.79 人/m² ·
 * 当前 0.38 人/m²"): the headline keeps what the incident was at its worst.
 */
export function peakText(a) {
  const signals = a.evidence && Array.isArray(a.evidence.signals) ? a.evidence.signals : [];
  const parts = [];
  for (const s of signals) {
    if (!s || !isNum(s.peak) || !isNum(s.value)) continue;
    const unit = unitText(s.unit);
    const tail = unit ? ` ${unit}` : "";
    parts.push(t("alert.peak", { peak: `${figure(s.peak)}${tail}`, now: `${figure(s.value)}${tail}` }));
  }
  return [...new Set(parts)].join(t("sep.list"));
}

/**
 * The alert's text in the current language: its signals' own ``message``
 * when all have one, else the server's bilingual ``title``.
 */
export function alertText(a) {
  const signals = a.evidence && Array.isArray(a.evidence.signals) ? a.evidence.signals : [];
  const key = getLang() === "en" ? "en" : "zh";
  const parts = signals.map((s) => (s && s.message && isStr(s.message[key]) ? s.message[key] : null));
  if (parts.length > 0 && parts.every(Boolean)) return [...new Set(parts)].join(" + ");
  return isStr(a.title) ? a.title : ruleLabel(a.rule);
}
