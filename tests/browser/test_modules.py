"""The command map's pure modules (web/static/js) in headless Chromium, without the stack.

web/static is served by a plain local HTTP server; each test imports the ES modules into a
page and checks their contracts: alert version precedence and ordering, who may press
which button, the tone rule, zoom → H3 resolution, validation of network data, the feed.
A static check makes sure every text key the page uses exists in both languages.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from tests.browser.kit import PageErrors

pytestmark = [pytest.mark.browser]
STATIC = Path(__file__).resolve().parents[2] / "web" / "static"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def static_url() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(STATIC)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def page(browser: Browser, static_url: str) -> Iterator[Page]:
    errors = PageErrors()
    context = browser.new_context()
    context.route("**/favicon.ico", lambda route: route.fulfill(status=204))  # listing page asks
    p = context.new_page()
    errors.watch(p)
    p.goto(f"{static_url}/js/")  # any same-origin page: modules are imported into it
    p.add_script_tag(url=f"{static_url}/vendor/h3-js/h3-js.umd.js")
    yield p
    context.close()
    assert errors.messages == []


def run(page: Page, body: str) -> Any:
    """Evaluate ``body`` (an async function body with ``m`` = import helper) in the page."""
    return page.evaluate(
        f"async () => {{ const m = (name) => import(`/js/${{name}}.js`); {body} }}"
    )


ALERT = (
    "(o) => ({id: 'a-1', rule: 'crowd.density', severity: 'critical', state: 'open',"
    " desks: ['110'], lat: 23, lon: 113, version: 1, updated_at: 1000, opened_at: 900, ...o})"
)


def test_newer_lifecycle_version_wins_and_late_versions_are_dropped(page: Page) -> None:
    got = run(
        page,
        f"""const {{ supersedes }} = await m('alert-model'); const a = {ALERT};
        return [
          supersedes(a({{version: 2, updated_at: 500}}), a({{version: 1}})),
          supersedes(a({{version: 1, updated_at: 5000}}), a({{version: 2}})),
          supersedes(a({{updated_at: 2000}}), a({{updated_at: 1000}})),
          supersedes(a({{updated_at: 999}}), a({{updated_at: 1000}})),
          supersedes(a({{version: null, updated_at: 999}}), a({{version: 3, updated_at: 1000}})),
          supersedes(a({{}}), undefined),
        ];""",
    )
    assert got == [True, False, True, False, False, True]


def test_queue_order_open_first_then_severity_then_newest(page: Page) -> None:
    got = run(
        page,
        f"""const {{ compareAlerts }} = await m('alert-model'); const a = {ALERT};
        const list = [
          a({{id: 'resolved', state: 'resolved', closed_at: 9000}}),
          a({{id: 'ack-critical', state: 'acknowledged'}}),
          a({{id: 'open-warning-new', severity: 'warning', opened_at: 5000}}),
          a({{id: 'open-critical-old', opened_at: 100}}),
          a({{id: 'open-critical-new', opened_at: 4000}}),
          a({{id: 'open-critical-risky-old', opened_at: 50, evidence: {{risk: 0.94}}}}),
          a({{id: 'open-warning-risky-new', severity: 'warning', opened_at: 6000,
              evidence: {{risk: 0.99}}}}),
        ];
        return list.sort(compareAlerts).map((x) => x.id);""",
    )
    assert got == [
        "open-critical-risky-old",
        "open-critical-new",
        "open-critical-old",
        "open-warning-risky-new",
        "open-warning-new",
        "ack-critical",
        "resolved",
    ]


def test_the_user_may_order_live_alerts_by_risk_or_newest_first(page: Page) -> None:
    got = run(
        page,
        f"""const {{ compareAlerts, ORDERS }} = await m('alert-model'); const a = {ALERT};
        const list = () => [
          a({{id: 'critical-calm-old', opened_at: 100, evidence: {{risk: 0.5}}}}),
          a({{id: 'warning-risky', severity: 'warning', opened_at: 200, evidence: {{risk: 0.9}}}}),
          a({{id: 'critical-new', opened_at: 300, evidence: {{risk: 0.6}}}}),
          a({{id: 'resolved', state: 'resolved', closed_at: 9000}}),
        ];
        const ids = (order) => list().sort((x, y) => compareAlerts(x, y, order)).map((x) => x.id);
        return {{orders: ORDERS, severity: ids('severity'), risk: ids('risk'),
                 newest: ids('newest')}};""",
    )
    assert got == {
        "orders": ["severity", "risk", "newest"],
        "severity": ["critical-new", "critical-calm-old", "warning-risky", "resolved"],
        "risk": ["warning-risky", "critical-new", "critical-calm-old", "resolved"],
        "newest": ["critical-new", "warning-risky", "critical-calm-old", "resolved"],
    }


def test_headline_figures_say_peak_and_now_and_what_the_people_estimate_rests_on(
    page: Page,
) -> None:
    got = run(
        page,
        """const { peakText, peopleText } = await m('labels'); const { setLang } = await m('i18n');
        const signal = {metric: 'density', unit: 'persons/m2', peak: 4.79, value: 0.38};
        const alert = {evidence: {signals: [signal, {count: 14, value: 3, peak: 14}]}};
        const cell = {people: 40724, people_seen: 1980, covered_m2: 755, area_m2: 9493.5,
                      density_max: 4.4};
        setLang('zh');
        const zh = [peakText(alert), peopleText(cell), peopleText({people: 10, people_seen: 10,
                    covered_m2: 100, walkable_m2: 100, density_max: 0.1}), peopleText({})];
        setLang('en');
        return {zh, en: [peakText(alert), peopleText(cell)]};""",
    )
    assert got["zh"] == [
        "峰值 4.79 人/m² · 当前 0.38 人/m²；峰值 14 · 当前 3",
        "约 40,724 人（所见 1,980 人，覆盖 8% · 范围 1,980–41,771 人）",
        "约 10 人（摄像头覆盖全部可通行面积）",
        "",
    ]
    assert got["en"] == [
        "Peak 4.79 persons/m² · now 0.38 persons/m²; Peak 14 · now 3",
        "about 40,724 people (1,980 seen, 8% covered · range 1,980–41,771)",
    ]


def test_place_labels_follow_the_language_and_bad_places_are_dropped(page: Page) -> None:
    got = run(
        page,
        """const { placeLabel, validPlace, placeWords, fold } = await m('places');
        const { setLang } = await m('i18n');
        const place = validPlace({zh: '通济桥桥面 · 禅城区', en: 'Tongji Bridge deck · Chancheng',
          zones: [{id: 'deck', zh: '通济桥桥面', en: 'Tongji Bridge deck'}, 'bad'],
          street: null, district: {id: '440604', zh: '禅城区', en: 'Chancheng'},
          nearest: {zh: '通济桥', en: 'Tongji Bridge', distance_m: 'far'}});
        setLang('zh'); const zh = placeLabel(place);
        setLang('en'); const en = placeLabel(place);
        return {zh, en, zones: place.zones.length, nearest: place.nearest,
                bad: validPlace('x'),
                found: fold(placeWords(place)).includes(fold('tongji BRIDGE'))};""",
    )
    assert got == {
        "zh": "通济桥桥面 · 禅城区",
        "en": "Tongji Bridge deck · Chancheng",
        "zones": 1,
        "nearest": None,
        "bad": None,
        "found": True,
    }


def test_buttons_are_disabled_with_the_reason_role_desk_and_state_give(page: Page) -> None:
    got = run(
        page,
        f"""const {{ permissions }} = await m('alert-model'); const a = {ALERT};
        const all = {{ack: true, assign: true, resolve: true}};
        const me = (role, desks = [], signedIn = true) => ({{name: 'x', role, desks, signedIn}});
        const why = (p) => Object.fromEntries(Object.entries(p).map(([k, v]) =>
          [k, v.allowed ? 'ok' : v.reason]));
        return {{
          anonymous: why(permissions(a({{}}), me('viewer', [], false), all)),
          engineer: why(permissions(a({{}}), me('engineer'), all)),
          otherDesk: why(permissions(a({{}}), me('liaison', ['12345']), all)),
          ownDesk: why(permissions(a({{}}), me('liaison', ['110']), all)),
          acked: why(permissions(a({{state: 'acknowledged'}}), me('dispatcher'), all)),
          expired: why(permissions(a({{state: 'expired'}}), me('admin'), all)),
          missing: why(permissions(a({{}}), me('dispatcher'), {{...all, assign: false}})),
        }};""",
    )
    assert got["anonymous"] == dict.fromkeys(("ack", "assign", "resolve"), "reason.signin")
    assert got["engineer"] == dict.fromkeys(("ack", "assign", "resolve"), "reason.role")
    assert got["otherDesk"] == dict.fromkeys(("ack", "assign", "resolve"), "reason.desk")
    assert got["ownDesk"] == dict.fromkeys(("ack", "assign", "resolve"), "ok")
    assert got["acked"] == {"ack": "reason.ack", "assign": "ok", "resolve": "ok"}
    assert got["expired"] == dict.fromkeys(("ack", "assign", "resolve"), "reason.closed")
    assert got["missing"] == {"ack": "ok", "assign": "reason.unavailable", "resolve": "ok"}


def test_full_ticket_text_is_offered_to_admins_and_liaisons_of_its_channel(page: Page) -> None:
    got = run(
        page,
        """const { mayReadTicket } = await m('alert-model');
        const me = (role, desks = [], signedIn = true) => ({name: 'x', role, desks, signedIn});
        return [
          mayReadTicket(me('admin'), '110'), mayReadTicket(me('liaison', ['12345']), '12345'),
          mayReadTicket(me('liaison', ['12345']), '110'), mayReadTicket(me('dispatcher'), '110'),
          mayReadTicket(me('engineer'), '12345'), mayReadTicket(me('viewer', [], false), '110'),
        ];""",
    )
    assert got == [True, True, False, False, False, False]


def test_tone_only_for_critical_alerts_nobody_has_acknowledged(page: Page) -> None:
    got = run(
        page,
        f"""const {{ wantsTone }} = await m('alert-model'); const a = {ALERT};
        return [
          wantsTone(a({{}}), undefined),
          wantsTone(a({{severity: 'warning'}}), undefined),
          wantsTone(a({{state: 'acknowledged'}}), undefined),
          wantsTone(a({{}}), a({{severity: 'warning'}})),
          wantsTone(a({{}}), a({{}})),
          wantsTone(a({{reopened: 1}}), a({{state: 'expired'}})),
          wantsTone(a({{reminded: 1}}), a({{}})),
          wantsTone(a({{reminded: 1}}), a({{reminded: 1}})),
        ];""",
    )
    assert got == [True, False, False, True, False, True, True, False]


def test_only_an_alert_held_for_review_reads_awaiting_review(page: Page) -> None:
    got = run(
        page,
        f"""const {{ awaitingReview }} = await m('alert-model'); const a = {ALERT};
        return [
          awaitingReview(a({{active: false, awaiting_review: true}})),
          awaitingReview(a({{active: false, awaiting_review: false}})),
          awaitingReview(a({{active: false}})),
          awaitingReview(a({{active: false, awaiting_review: true, state: 'resolved'}})),
        ];""",
    )
    assert got == [True, False, False, False]


def test_resolution_follows_the_zoom(page: Page) -> None:
    got = run(
        page,
        """const { resolutionFor } = await m('heatmap');
        return [16, 14, 12.5, 11, 10, 9, 8, 6].map((z) => resolutionFor(z, 23));""",
    )
    assert got[:3] == [9, 9, 9]  # near, and the district overview: the pipeline's fine cells
    assert got[5] < 9 and got[-1] <= 6  # far: roll-ups
    assert all(a >= b for a, b in pairwise(got))  # never finer further out


def test_network_data_is_validated_before_use(page: Page) -> None:
    got = run(
        page,
        """const v = await m('validate'); const u = await m('util');
        const alert = v.alert({id: 'x', severity: 'apocalyptic', desks: ['110', 7, null],
                               lat: 'north', evidence: [1]});
        return {
          alert: [alert.severity, alert.desks, alert.lat, alert.evidence],
          noId: v.alert({severity: 'critical'}),
          badCell: v.cell({cell: 'not-a-cell'}),
          goodCell: v.cell({cell: h3.latLngToCell(23, 113, 9)}) !== null,
          worker: v.worker({id: 'w', lat: 23, lon: 113, status: 'busy'}).status,
          query: v.queryResult({buildings: {count: 3}, enterprises: {items: [{name: 'A'}, 5]}}),
          urls: ['javascript:alert(1)', 'rtsp://cam/1', 'http://v.local/a.m3u8']
            .map(u.safeHttpUrl),
          audit: v.audit({audit: [{action: 'acknowledged', at: 2}, {action: 'opened', at: 1},
                                  {at: 3}]}).map((e) => e.action),
        };""",
    )
    assert got["alert"] == ["info", ["110"], None, {}]
    assert got["noId"] is None and got["badCell"] is None and got["goodCell"] is True
    assert got["worker"] == "offline"
    assert got["query"]["buildings"] == {"count": 3, "residents": None}
    assert [e["name"] for e in got["query"]["enterprises"]["items"]] == ["A"]
    assert got["urls"] == [None, None, "http://v.local/a.m3u8"]
    assert got["audit"] == ["opened", "acknowledged"]


def test_feed_keeps_the_newest_alert_and_counts_bad_frames(page: Page) -> None:
    got = run(
        page,
        """const feed = await m('feed'); const { state } = await m('store');
        const send = (o) => feed.handleMessage(JSON.stringify(o));
        const cell = h3.latLngToCell(23, 113, 9);
        send({type: 'snapshot', cells: [{cell}], alerts: [{id: 'a', state: 'open', version: 1}],
              workers: [{id: 'w1', lat: 23, lon: 113, status: 'online'}]});
        send({type: 'alert', alert: {id: 'a', state: 'acknowledged', version: 2}});
        send({type: 'alert', alert: {id: 'a', state: 'open', version: 1}});  // late, older
        send({type: 'workers', workers: [{id: 'w2', lat: 23, lon: 113, status: 'offline'}],
              removed: ['w1']});
        send({type: 'cells', cells: [{cell: 'zzz'}], removed: [cell]});
        feed.handleMessage('{not json');
        send({type: 'mystery'});
        return {state: state.alerts.get('a').state, cells: state.cells.size,
                workers: [...state.workers.keys()], malformed: state.stats.malformed};""",
    )
    assert got == {"state": "acknowledged", "cells": 0, "workers": ["w2"], "malformed": 3}


def _text_keys() -> list[str]:
    """Dictionary keys named literally in the markup and the modules."""
    html = (STATIC / "index.html").read_text()
    js = "\n".join(p.read_text() for p in [STATIC / "app.js", *sorted(STATIC.glob("js/*.js"))])
    keys = set(re.findall(r'data-i18n(?:-\w+)?="([\w.]+)"', html))
    keys |= set(re.findall(r'\bt\("([\w.]+)"', js))
    keys |= set(re.findall(r'\b(?:label|reason): "([\w.]+)"', js))
    return sorted(keys)


def test_every_text_key_exists_in_both_languages(page: Page) -> None:
    keys = run(
        page,
        """const i18n = await m('i18n');
        const out = {};
        for (const lang of ['zh', 'en']) {
          i18n.setLang(lang);
          out[lang] = Object.fromEntries(KEYS.map((k) => [k, i18n.has(k) ? i18n.t(k) : null]));
        }
        return out;""".replace("KEYS", repr(_text_keys())),
    )
    missing = [k for k, text in keys["zh"].items() if text is None]
    assert missing == []
    # A Chinese text left untranslated in English (the history banner is bilingual by design).
    same = [k for k, zh in keys["zh"].items() if zh == keys["en"][k] and re.search("[一-龥]", zh)]
    assert same == ["history.banner"]
    assert len(keys["zh"]) > 100
