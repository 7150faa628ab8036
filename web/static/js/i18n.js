/**
 * Chinese / English UI text: one dictionary, one lookup.
 *
 * ``t(key, params)`` returns the text of the current language; ``{name}``
 * placeholders are filled from ``params``. Static markup names its keys in
 * ``data-i18n`` (textContent), ``data-i18n-title``, ``data-i18n-aria`` and
 * ``data-i18n-placeholder``; ``applyStatic`` fills them. Chinese is the
 * default; the choice is remembered in localStorage.
 */

import { getPref, setPref } from "./prefs.js";

export const LANGS = ["zh", "en"];

/* key: [zh, en] */
const DICT = {
  "app.title": ["城市大脑 · 禅城区", "citybrain · Chancheng"],
  "brand.cn": ["城市大脑", "City Brain"],
  "district": ["禅城区", "Chancheng"],
  "stat.cells": ["网格", "Cells"],
  "stat.crowded": ["拥挤 E–F", "Crowded E–F"],
  "stat.alerts": ["处理中告警", "Active alerts"],
  "status.connecting": ["连接中…", "Connecting…"],
  "status.live": ["实时", "Live"],
  "status.offline": ["断开 · {s} 秒后重连", "Offline · retry in {s} s"],
  "stale": ["数据连接中断 · 画面可能不是最新", "Live feed lost — the map may be out of date"],
  "map.label": ["地图", "Map"],
  "map.reset": ["全区", "Overview"],
  "map.reset.title": ["回到全区视图", "Back to the district view"],
  "map.libs": ["地图库未加载：请在 web/frontend 运行 npm ci", "Map libraries missing — run `npm ci` in web/frontend"],
  "map.webgl": ["无法启动地图 (WebGL)；告警仍会更新", "The map could not start (WebGL); alerts still update"],
  "view.label": ["热力图", "Heatmap"],
  "view.density": ["密度", "Density"],
  "view.los": ["服务水平", "LOS"],
  "view.risk": ["风险", "Risk"],
  "res.fine": ["精细网格 r{res}", "Fine cells r{res}"],
  "res.coarse": ["汇总网格 r{res}", "Roll-up r{res}"],
  "draw.label": ["圈选工具", "Area tools"],
  "draw.circle": ["画圆", "Circle"],
  "draw.polygon": ["多边形", "Polygon"],
  "draw.clear": ["清除", "Clear"],
  "draw.hint.circle": ["按住并拖动：从圆心拉出半径。Esc 取消", "Press and drag from the centre. Esc cancels"],
  "draw.hint.polygon": ["单击添加顶点，双击或回车完成，Esc 取消", "Click to add points; double-click or Enter finishes; Esc cancels"],
  "query.title": ["区域统计", "Area query"],
  "query.close": ["关闭并清除", "Close and clear"],
  "query.running": ["统计中…", "Counting…"],
  "query.area": ["面积", "Area"],
  "query.radius": ["半径", "Radius"],
  "query.buildings": ["建筑", "Buildings"],
  "query.residents": ["居民", "Residents"],
  "query.enterprises": ["企业", "Enterprises"],
  "query.employees": ["员工", "Employees"],
  "query.cameras": ["摄像头", "Cameras"],
  "query.workers": ["网格员 在线/总数", "Grid workers online/total"],
  "query.people": ["实时人数", "Live people"],
  "query.density": ["密度 (人/m²)", "Density (p/m²)"],
  "query.cells": ["网格数", "Cells"],
  "query.took": ["用时 {ms} ms", "took {ms} ms"],
  "query.top": ["主要企业", "Largest enterprises"],
  "query.unavailable": ["服务器未提供区域统计", "Area query is not available on this server"],
  "query.failed": ["统计失败：{msg}", "Query failed: {msg}"],
  "legend.label": ["图例", "Legend"],
  "legend.los": ["人群密度 · 服务水平", "Crowd density · LOS"],
  "legend.density": ["人群密度 (人/m²)", "Crowd density (persons/m²)"],
  "legend.risk": ["综合风险", "Risk score"],
  "legend.nocamera": ["无客流数据 · 风险", "No camera · risk"],
  "legend.alerts": ["告警", "Alerts"],
  "legend.workers": ["网格员", "Grid workers"],
  "legend.layers": ["图层", "Layers"],
  "layer.basemap": ["底图", "Basemap"],
  "layer.district": ["区界", "District"],
  "layer.zones": ["重点区域", "Zones"],
  "layer.workers": ["网格员", "Grid workers"],
  "layer.unavailable": ["图层列表不可用", "Layer list not available"],
  "los.A": ["畅通", "Free"],
  "los.B": ["较畅", "Light"],
  "los.C": ["一般", "Moderate"],
  "los.D": ["较挤", "Dense"],
  "los.E": ["拥挤", "Crowded"],
  "los.F": ["严重", "Jammed"],
  "sev.critical": ["紧急", "Critical"],
  "sev.warning": ["警告", "Warning"],
  "sev.info": ["提示", "Info"],
  "state.open": ["待确认", "Open"],
  "state.acknowledged": ["已确认", "Acknowledged"],
  "state.resolved": ["已处置", "Resolved"],
  "state.expired": ["已过期", "Expired"],
  "state.closed": ["已关闭", "Closed"],
  "cond.active": ["持续中", "Active"],
  "cond.cleared": ["已消除", "Cleared"],
  "cond.review": ["已消除，待复核", "Cleared — awaiting review"],
  "badge.escalated": ["已升级", "Escalated"],
  "badge.reopened": ["重开 ×{n}", "Reopened ×{n}"],
  "badge.assignee": ["→ {name}", "→ {name}"],
  "panel.title": ["告警", "Alerts"],
  "panel.empty": ["暂无告警", "No alerts"],
  "panel.filtered": ["当前筛选下无告警（共 {n} 条）", "No alerts for this filter ({n} in all)"],
  "filter.desk": ["部门", "Desk"],
  "filter.desk.all": ["全部部门", "All desks"],
  "filter.desk.mine": ["我的部门", "My desks"],
  "filter.desk.fallback": ["部门列表不可用，按告警中的部门显示", "Desk list not available; desks taken from the alerts"],
  "filter.state": ["状态", "State"],
  "filter.state.all": ["全部", "All"],
  "filter.state.active": ["处理中", "Active"],
  "filter.state.open": ["待确认", "Open"],
  "filter.state.acknowledged": ["已确认", "Acknowledged"],
  "filter.state.closed": ["已结束", "Closed"],
  "detail.close": ["关闭 (Esc)", "Close (Esc)"],
  "detail.opened": ["开始", "Opened"],
  "detail.updated": ["更新", "Updated"],
  "detail.closed": ["结束", "Closed"],
  "detail.cleared": ["条件消除", "Cleared"],
  "detail.acked": ["确认", "Acknowledged"],
  "detail.assignee": ["指派给", "Assigned to"],
  "detail.resolution": ["处置说明", "Resolution"],
  "detail.fused": ["融合信号 ({n})", "Fused signals ({n})"],
  "detail.evidence": ["证据", "Evidence"],
  "detail.location": ["位置与部门", "Location & desks"],
  "detail.loc": ["位置", "Location"],
  "detail.cell": ["网格", "Cell"],
  "detail.desks": ["部门", "Desks"],
  "detail.id": ["编号", "ID"],
  "detail.rule_version": ["规则版本", "Rule version"],
  "detail.by": ["{who}（{role}）", "{who} ({role})"],
  "actions.title": ["处置", "Handling"],
  "actions.ack": ["确认", "Acknowledge"],
  "actions.assign": ["指派", "Assign"],
  "actions.resolve": ["处置完成", "Resolve"],
  "actions.note": ["备注（可选）", "Note (optional)"],
  "actions.assignee": ["指派对象", "Assignee"],
  "actions.sent": ["已提交，等待更新…", "Sent — waiting for the update…"],
  "actions.done": ["已更新", "Updated"],
  "reason.signin": ["请先以调度员或联络员身份登录", "Sign in as a dispatcher or liaison to handle alerts"],
  "reason.role": ["当前身份（{role}）不能处置告警", "Your role ({role}) cannot handle alerts"],
  "reason.desk": ["此告警未分派到您的部门", "This alert is not routed to your desks"],
  "reason.ack": ["只有待确认的告警可以确认", "Only open alerts can be acknowledged"],
  "reason.closed": ["告警已结束", "The alert is closed"],
  "reason.assignee": ["请先填写指派对象", "Enter an assignee first"],
  "reason.unavailable": ["服务器尚未提供此操作", "Not available on this server"],
  "reason.busy": ["正在提交…", "Sending…"],
  "error.401": ["登录已失效或令牌无效，请重新登录", "Sign-in invalid or expired — sign in again"],
  "error.403": ["无权限：{msg}", "Not allowed: {msg}"],
  "error.404": ["告警不存在：{msg}", "Unknown alert: {msg}"],
  "error.409": ["状态冲突：{msg}", "Conflict: {msg}"],
  "error.other": ["失败（HTTP {status}）：{msg}", "Failed (HTTP {status}): {msg}"],
  "error.network": ["网络错误：{msg}", "Network error: {msg}"],
  "audit.title": ["处置记录", "Audit trail"],
  "audit.empty": ["暂无记录", "No entries yet"],
  "audit.unavailable": ["服务器未提供处置记录", "Audit trail is not available on this server"],
  "audit.failed": ["处置记录加载失败：{msg}", "Could not load the audit trail: {msg}"],
  "audit.signin": ["登录（调度员、联络员或工程师）后可查看处置记录", "Sign in (dispatcher, liaison or engineer) to see the audit trail"],
  "audit.rejected": ["被拒绝", "Refused"],
  "audit.opened": ["生成", "Opened"],
  "audit.acknowledged": ["确认", "Acknowledged"],
  "audit.assigned": ["指派", "Assigned"],
  "audit.resolved": ["处置完成", "Resolved"],
  "audit.expired": ["过期", "Expired"],
  "audit.escalated": ["升级", "Escalated"],
  "audit.reopened": ["重开", "Reopened"],
  "audit.cleared": ["条件消除", "Condition cleared"],
  "audit.returned": ["条件再现", "Condition back"],
  "audit.reminded": ["再次提醒", "Reminded"],
  "trend.title": ["近 60 分钟趋势", "Last 60 minutes"],
  "trend.people": ["人数", "People"],
  "trend.density": ["密度 人/m²", "Density p/m²"],
  "trend.empty": ["暂无历史数据", "No history yet"],
  "trend.failed": ["趋势加载失败：{msg}", "Could not load the trend: {msg}"],
  "trend.unavailable": ["服务器未提供历史趋势", "Trend is not available on this server"],
  "nearby.title": ["视频联动与网格员", "Video & grid workers nearby"],
  "nearby.cameras": ["{r} 米内摄像头（{n}）", "Cameras within {r} m ({n})"],
  "nearby.workers": ["最近的在线网格员", "Nearest online grid workers"],
  "nearby.no_cameras": ["{r} 米内没有摄像头", "No camera within {r} m"],
  "nearby.no_workers": ["附近没有在线网格员", "No online grid worker nearby"],
  "nearby.copy": ["复制", "Copy"],
  "nearby.copy.title": ["复制视频流地址", "Copy the stream URL"],
  "nearby.copied": ["已复制", "Copied"],
  "nearby.copy_failed": ["复制失败", "Copy failed"],
  "nearby.open": ["打开", "Open"],
  "nearby.failed": ["视频联动加载失败：{msg}", "Could not load nearby cameras: {msg}"],
  "nearby.unavailable": ["服务器未提供视频联动", "Video linkage is not available on this server"],
  "worker.online": ["在线", "Online"],
  "worker.offline": ["离线", "Offline"],
  "worker.grid": ["网格", "Grid"],
  "worker.status": ["状态", "Status"],
  "worker.updated": ["更新", "Updated"],
  "camera.label": ["摄像头", "Camera"],
  "camera.distance": ["距离", "Distance"],
  "auth.signin": ["登录", "Sign in"],
  "auth.signout": ["退出", "Sign out"],
  "auth.title": ["登录：粘贴访问令牌", "Sign in with an access token"],
  "auth.token": ["访问令牌", "Access token"],
  "auth.hint": ["令牌只保存在本标签页，关闭即清除。实时画面无需登录。", "Kept in this tab only (session storage). The live picture needs no sign-in."],
  "auth.submit": ["登录", "Sign in"],
  "auth.cancel": ["取消", "Cancel"],
  "auth.invalid": ["令牌无效", "Invalid token"],
  "auth.checking": ["验证中…", "Checking…"],
  "auth.expired": ["登录已失效，已退出", "Sign-in no longer valid; signed out"],
  "auth.user": ["{name} · {role}", "{name} · {role}"],
  "role.viewer": ["访客", "Viewer"],
  "role.dispatcher": ["调度员", "Dispatcher"],
  "role.liaison": ["联络员", "Liaison"],
  "role.engineer": ["工程师", "Engineer"],
  "role.admin": ["管理员", "Admin"],
  "sound.on": ["声音开", "Sound on"],
  "sound.off": ["静音", "Muted"],
  "sound.locked": ["点击启用声音", "Click to enable sound"],
  "sound.title": ["新紧急告警提示音", "Tone for new critical alerts"],
  "lang.toggle": ["EN", "中文"],
  "lang.title": ["Switch to English", "切换到中文"],
  "size.toggle": ["大字", "Large text"],
  "size.title": ["大字模式（视频墙）", "Large text (video wall)"],
  "history.banner": ["历史 HISTORY {time}", "历史 HISTORY {time}"],
  "history.live": ["回到实时", "Live"],
  "history.label": ["回放", "Replay"],
  "history.slider": ["历史时间", "History time"],
  "history.unavailable": ["历史回放不可用", "History replay not available"],
  "history.loading": ["加载中…", "Loading…"],
  "history.failed": ["历史数据加载失败：{msg}", "Could not load history: {msg}"],
  "history.range": ["{from} – {to}", "{from} – {to}"],
  "tip.people": ["人数", "People"],
  "tip.density": ["密度", "Density"],
  "tip.risk": ["风险", "Risk"],
  "tip.sensors": ["传感器", "Sensors"],
  "tip.tickets": ["工单", "Tickets"],
  "tip.alarm": ["报警", "alarm"],
  "tip.nocamera": ["无客流数据", "No camera data"],
  "tip.rollup": ["汇总 {n} 个网格", "Roll-up of {n} cells"],
  "tip.history": ["历史", "History"],
  "unit.ppm2": ["人/m²", "persons/m²"],
  "tickets.title": ["热线工单 ({n})", "Tickets ({n})"],
  "tickets.time": ["时间", "Time"],
  "tickets.channel": ["渠道", "Ch."],
  "tickets.category": ["类别", "Category"],
  "tickets.id": ["工单", "Ticket"],
  "tickets.caller": ["来电", "Caller"],
  "tickets.show": ["显示原文", "Show full text"],
  "tickets.hide": ["隐藏原文", "Hide full text"],
  "tickets.show.title": ["显示未遮盖的原文（查看记录在审计中）", "Show the unmasked text (the view is audited)"],
  "tickets.loading": ["读取原文…", "Loading the full text…"],
  "tickets.failed": ["无法显示原文：{error}", "Cannot show the full text: {error}"],
  "yes": ["是", "yes"],
  "no": ["否", "no"],
  "more": ["+{n} 更多", "+{n} more"],
};

let lang = getPref("lang", "zh", (v) => LANGS.includes(v));
const listeners = new Set();

export function getLang() {
  return lang;
}

/** Text for ``key`` in the current language; unknown keys show themselves (visible, not fatal). */
export function t(key, params) {
  const entry = DICT[key];
  let text = entry ? entry[lang === "en" ? 1 : 0] : key;
  if (params) text = text.replace(/\{(\w+)\}/g, (m, name) => (name in params ? String(params[name]) : m));
  return text;
}

export const has = (key) => key in DICT;

/** Chooses the language, remembers it and tells every listener (which re-render). */
export function setLang(next) {
  if (!LANGS.includes(next) || next === lang) return;
  lang = next;
  setPref("lang", next);
  applyStatic(document);
  for (const fn of listeners) fn(lang);
}

export function onLangChange(fn) {
  listeners.add(fn);
}

/** Fills the ``data-i18n*`` attributes under ``root``. */
export function applyStatic(root) {
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  for (const node of root.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
  for (const node of root.querySelectorAll("[data-i18n-aria]")) node.setAttribute("aria-label", t(node.dataset.i18nAria));
  for (const node of root.querySelectorAll("[data-i18n-placeholder]")) node.placeholder = t(node.dataset.i18nPlaceholder);
  document.title = t("app.title");
}
