"""The Tongji Bridge incident on the real stack, from the surge to long past its windows.

The simulator plays it into Kafka at 10x on this module's own stack, whose hotline window
is 3 minutes (the tickets arrive within 2.5): it reaches a websocket client as ONE incident
fusing the crowd reading and the complaint cluster, within 90 s of the first event being
sent (group joins on the embedded broker take ~5 s). The play goes on to 9 simulated
minutes after the surge began: the crowd is gone, every ticket has aged out of the
cluster window and the incident's condition has been clear longer than an alert may stay
unacknowledged. Then the command map in headless Chromium shows what a desk needs: the
incident still open, escalated, awaiting review, at the bridge by name, with its peak and
every ticket, until a dispatcher resolves it."""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h3
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from playwright.sync_api import Page

from citybrain.stack import EmbeddedStack
from feeds.sim.runner import run_simulator
from geo.cells import cell_of
from tests.browser.kit import PageErrors, sign_in, token
from tests.e2e import kit
from tests.e2e.kit import collect, signals

pytestmark = [pytest.mark.e2e, pytest.mark.browser]
BOUND_S = 90.0
PLAY_S = 560  # simulated seconds: the surge at 20 s, the last ticket ~230 s, all clear ~410 s
BRIDGE = (23.0258, 113.1166)


@pytest.fixture(scope="module")
def stack(
    tmp_path_factory: pytest.TempPathFactory, artifacts: Path, rules_dir: Path
) -> Iterator[EmbeddedStack]:
    """This module's own stack. The browser tests play the same Tongji Bridge incident on
    the shared one, and a complaint cluster there re-opened within the cool-down
    (pipeline.incident_reopen_s) is rightly theirs, not a new fused incident."""
    with kit.own_stack(
        tmp_path_factory.mktemp("incident"),
        artifacts / "incident-stack-logs",
        rules={"path": str(rules_dir)},
        pipeline={"hotline_window_s": 180},
    ) as own:
        yield own


def traffic_cluster(alert: dict) -> dict | None:
    found = [s for s in signals(alert, "hotline.cluster") if s["category"] == "traffic"]
    return found[0] if found else None


def fused(alerts: list[dict]) -> list[dict]:
    """Incidents holding both the crowd reading and the traffic complaint cluster."""
    return [a for a in alerts if signals(a, "crowd.density") and traffic_cluster(a)]


@dataclass(frozen=True)
class Played:
    """What a websocket client saw until the fused incident reached it (``reached`` s after
    the first event was sent); the play went on to :data:`PLAY_S` after that."""

    messages: list[dict]
    alerts: list[dict]
    reached: float


@pytest.fixture(scope="module")
def played(stack: EmbeddedStack) -> Played:
    """The incident played once for the module's tests (module docstring)."""
    # no random sensor alarms: one near the bridge during the surge would rightly take the
    # crowd into its incident, and these tests are about the crowd and the complaints
    settings = stack.live.with_overrides(
        sim={"speed": 10.0, "incident_at_s": 20.0, "alarms_per_hour": 0.0}
    )
    ws_url = f"ws://127.0.0.1:{settings.web.port}/ws"

    def done(alerts: list[dict]) -> bool:
        return any((traffic_cluster(a) or {}).get("count", 0) >= 12 for a in fused(alerts))

    async def scenario() -> tuple[list[dict], list[dict], float]:
        started = time.monotonic()
        start_ms = int(time.time() * 1000) - PLAY_S * 1000  # event times in the recent past
        sim = asyncio.create_task(run_simulator(settings, duration_s=PLAY_S, start_ms=start_ms))
        messages, alerts = await collect(ws_url, done, BOUND_S)
        reached = time.monotonic() - started
        stats = await sim  # played on past the windows, for the map test below
        assert stats.camera > 1000 and stats.hotline >= 14
        return messages, alerts, reached

    return Played(*asyncio.run(scenario()))


def test_incident_reaches_websocket_client_as_one_fused_incident(
    stack: EmbeddedStack, played: Played
) -> None:
    settings = stack.live
    messages, alerts, elapsed = played.messages, played.alerts, played.reached
    incidents = fused(alerts)
    seen = [(a["rule"], a["evidence"]["rules"]) for a in alerts]
    assert len(incidents) == 1, f"expected one fused incident within {BOUND_S} s; got {seen}"
    summary = [(s["rule"], s["cell"], s["state"]) for s in incidents[0]["evidence"]["signals"]]
    assert elapsed < BOUND_S
    # The complaints are in no other incident: ten complaints are not ten alerts. (Other
    # tests on the shared stack may leave clusters elsewhere in the district.)
    car_park = cell_of(23.0236, 113.1184, settings.pipeline.h3_resolution)
    near_car_park = [
        a["id"]
        for a in alerts
        if (c := traffic_cluster(a)) and h3.grid_distance(c["cell"], car_park) <= 3
    ]
    assert near_car_park == [incidents[0]["id"]]
    incident = incidents[0]
    assert incident["state"] == "open" and {"12345", "110"} <= set(incident["desks"])
    near = abs(incident["lat"] - 23.0258) < 0.01 and abs(incident["lon"] - 113.1166) < 0.01
    assert near, f"incident placed at {incident['lat']}, {incident['lon']}: {summary}"
    bridge_cell = cell_of(23.0258, 113.1166, settings.pipeline.h3_resolution)
    (crowd,) = [s for s in signals(incident, "crowd.density") if s["cell"] == bridge_cell]
    assert crowd["density"] >= 2.15 and crowd["cameras"] and crowd["walkable_from_layer"]
    assert "tongji-bridge-deck" in crowd["zones"]
    assert crowd["risk"]["score"] >= 0.6 and crowd["risk"]["factors"]["density"] >= 0.6
    cluster = traffic_cluster(incident)
    assert cluster is not None and cluster["count"] >= 12
    assert "12345" in cluster["channels"] and {"12345", "110"} <= set(cluster["desks"])
    assert all("****" in (t["caller"] or "****") for t in cluster["tickets"])
    # the incident keeps every ticket that joined, and stays where it opened
    kept = incident["evidence"]["tickets"]
    assert len(kept) >= cluster["count"] and incident["evidence"]["tickets_total"] >= len(kept)
    assert incident["cell"] == incident["evidence"]["anchor"]
    for field in ("id", "rule", "severity", "state", "cell", "lat", "lon", "desks", "opened_at"):
        assert field in incident
    kinds = {m["type"] for m in messages}
    assert {"snapshot", "cells", "alert"} <= kinds
    assert any(
        c["density"] and c["density"] > 2.15
        for m in messages
        if m["type"] == "cells"
        for c in m["cells"]
    )


def get_json(settings: Any, path: str) -> Any:
    with urllib.request.urlopen(f"http://127.0.0.1:{settings.web.port}{path}", timeout=10) as r:
        return orjson.loads(r.read())


def deck_live(settings: Any) -> dict[str, Any] | None:
    """The live figures of the bridge deck zone (``GET /api/zones``)."""
    zones = get_json(settings, "/api/zones")
    by_id = {f["properties"]["id"]: f["properties"] for f in zones["features"]}
    live: dict[str, Any] | None = by_id["tongji-bridge-deck"]["live"]
    return live


def test_rollups_and_zone_figures_over_http(stack: EmbeddedStack) -> None:
    settings = stack.live
    # the crowd is long gone: the deck's figure before a dense reading arrives
    before_reading = (deck_live(settings) or {}).get("density") or 0.0
    now = int(time.time() * 1000)
    deck = {
        "id": f"http-{now}",
        "ts": now,
        "lat": 23.0258,
        "lon": 113.1166,
        "people": 600,
        "area_m2": 300.0,
        "camera": "cam-http-deck",
    }

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers())
        await producer.start()
        try:
            await producer.send_and_wait(settings.kafka.topic("events.camera"), orjson.dumps(deck))
        finally:
            await producer.stop()

    asyncio.run(send())
    cell = cell_of(23.0258, 113.1166, settings.pipeline.h3_resolution)
    deadline = time.monotonic() + 30
    fine: list[dict] = []

    def folded(cells: list[dict]) -> bool:
        """Whether the deck reading is in its cell's view (the newest event folded)."""
        return any(c["cell"] == cell and c["updated_at"] >= now for c in cells)

    while time.monotonic() < deadline:
        fine = get_json(settings, "/api/cells")["cells"]
        if folded(fine):
            break
        time.sleep(0.5)
    assert folded(fine), "the deck reading did not reach its cell's view within 30 s"

    # The simulator keeps feeding, so the two reads race; compare a pair read while the
    # fine view stood still (unchanged before and after the coarse read).
    def people(cells: list[dict]) -> float:
        return sum(c["people"] or 0 for c in cells)

    for _ in range(40):
        before = get_json(settings, "/api/cells")["cells"]
        coarse = get_json(settings, "/api/cells?res=7")
        fine = get_json(settings, "/api/cells")["cells"]
        if people(before) == people(fine):
            break
        time.sleep(0.1)
    assert people(before) == people(fine), "the fine view never stood still for three reads"
    assert coarse["resolution"] == 7 and coarse["cells"]
    assert abs(people(coarse["cells"]) - people(fine)) <= 0.1 * len(fine) + 1
    with pytest.raises(urllib.error.HTTPError) as bad:
        get_json(settings, "/api/cells?res=99")
    assert bad.value.code == 400
    bad.value.close()
    live = deck_live(settings)  # the zone's figure follows its cell's new reading
    assert live is not None and live["density"] is not None
    assert live["density"] > before_reading + 0.2, (before_reading, live)
    assert 0 <= live["risk"] <= 1 and set(live["factors"]) >= {"density", "hotline"}


def test_the_map_keeps_the_incident_for_its_desks_long_past_its_windows(
    stack: EmbeddedStack,
    played: Played,
    map_session: Callable[[PageErrors], Page],
    artifacts: Path,
) -> None:
    (incident,) = fused(played.alerts)
    errors = PageErrors()
    page = map_session(errors)
    item = f"#alert-list li.alert[data-id='{incident['id']}']"
    page.wait_for_selector(item, timeout=20_000)
    # Nine simulated minutes on: the crowd is gone and every ticket left the 3-minute
    # window, yet the incident is open (nobody acknowledged it), escalated, and waiting
    # for a person to review it: it did not expire by itself.
    shown = page.evaluate(f"window.citybrain.alerts.get('{incident['id']}')")
    assert shown["state"] == "open" and shown["escalated"] is True, shown["state"]
    assert shown["active"] is False and shown["awaiting_review"] is True
    assert shown["severity"] == "critical"
    # its place is still the bridge, by name, in the list and the detail
    bridge_cell = cell_of(*BRIDGE, stack.live.pipeline.h3_resolution)
    assert shown["cell"] == bridge_cell == shown["evidence"]["anchor"]
    assert "通济桥" in page.inner_text(f"{item} .alert-loc")
    assert page.locator(f"{item} .badge-escalated").count() == 1
    page.click(item)
    page.wait_for_selector("#detail-summary .detail-place", timeout=5_000)
    assert "通济桥" in page.inner_text("#detail-summary .detail-place")
    # the headline keeps the peak beside the figure now
    peak = page.inner_text("#detail-summary .detail-peak")
    crowd = next(s for s in shown["evidence"]["signals"] if s["rule"] == "crowd.density")
    assert crowd["peak"] >= 4.0 and crowd["value"] < 2.15
    assert f"峰值 {crowd['peak']:.2f}".rstrip("0").rstrip(".") in peak and "当前" in peak
    # every ticket stays listed, its text readable (the elderly caller's among them)
    rows = page.locator("#detail-evidence .incident-tickets tbody tr:not(.ticket-text)")
    total = shown["evidence"]["tickets_total"]
    assert total >= 14 and rows.count() == total
    assert "降压药" in page.inner_text("#detail-evidence .incident-tickets")
    # the nearest camera is the bridge's own
    first_camera = "#detail-nearby .nearby-camera .nearby-name"
    page.wait_for_selector(first_camera, timeout=10_000)
    assert "通济桥" in page.locator(first_camera).first.inner_text()
    page.screenshot(path=str(artifacts / "incident-past-windows.png"))
    # a dispatcher closes it: now, and only now, it leaves the queue
    sign_in(page, token(stack, "dispatcher"))
    resolve = "#detail-actions button[data-action='resolve']"
    page.wait_for_selector(f"{resolve}:not([disabled])", timeout=10_000)
    page.fill("#action-note", "人群已疏散，车辆已放行")
    page.click(resolve)
    page.wait_for_function(
        f"window.citybrain.alerts.get('{incident['id']}').state === 'resolved'", timeout=15_000
    )
    assert errors.messages == []
