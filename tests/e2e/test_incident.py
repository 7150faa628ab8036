"""End to end on the real stack: the Tongji Bridge incident played into Kafka reaches a
websocket client as one crowd alert and one hotline-cluster alert.

Bound: both alerts reach the client within 90 s of the first event being sent (the
incident is played at 10x: ~4 simulated minutes in ~25 s of wall time; group joins on
the embedded broker take ~5 s)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from websockets.asyncio.client import connect

from citybrain.stack import EmbeddedStack
from feeds.runner import run_simulator

pytestmark = [pytest.mark.e2e]
BOUND_S = 90.0


async def collect(url: str, until: Any, within_s: float) -> tuple[list[dict], list[dict]]:
    """Read websocket messages until ``until(alerts)`` holds; returns (messages, alerts)."""
    messages: list[dict] = []
    alerts: dict[str, list[dict]] = {}
    async with connect(url) as ws:
        deadline = time.monotonic() + within_s
        while time.monotonic() < deadline:
            try:
                raw = await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
            except TimeoutError:
                break
            msg = orjson.loads(raw)
            messages.append(msg)
            for alert in msg.get("alerts", []) if msg["type"] == "snapshot" else []:
                alerts.setdefault(alert["id"], []).append(alert)
            if msg["type"] == "alert":
                alerts.setdefault(msg["alert"]["id"], []).append(msg["alert"])
            if until([a[-1] for a in alerts.values()]):
                break
    return messages, [a[-1] for a in alerts.values()]


def incident_alerts(alerts: list[dict]) -> tuple[list[dict], list[dict]]:
    crowd = [a for a in alerts if a["rule"] == "crowd.density"]
    cluster = [
        a
        for a in alerts
        if a["rule"] == "hotline.cluster" and a["evidence"]["category"] == "traffic"
    ]
    return crowd, cluster


def test_incident_reaches_websocket_client_as_two_alerts(stack: EmbeddedStack) -> None:
    settings = stack.live.with_overrides(sim={"speed": 10.0, "incident_at_s": 20.0})
    ws_url = f"ws://127.0.0.1:{settings.web.port}/ws"

    def done(alerts: list[dict]) -> bool:
        crowd, cluster = incident_alerts(alerts)
        return bool(crowd) and bool(cluster) and cluster[0]["evidence"]["count"] >= 12

    async def scenario() -> tuple[list[dict], list[dict], float]:
        started = time.monotonic()
        start_ms = int(time.time() * 1000) - 240_000  # all event times in the recent past
        sim = asyncio.create_task(run_simulator(settings, duration_s=240, start_ms=start_ms))
        messages, alerts = await collect(ws_url, done, BOUND_S)
        stats = await sim
        assert stats.camera > 1000 and stats.hotline >= 14
        return messages, alerts, time.monotonic() - started

    messages, alerts, elapsed = asyncio.run(scenario())
    crowd, cluster = incident_alerts(alerts)
    assert crowd, f"no crowd alert within {BOUND_S} s; got {[a['rule'] for a in alerts]}"
    assert len(cluster) == 1, f"expected one hotline cluster alert, got {len(cluster)}"
    assert elapsed < BOUND_S
    bridge = crowd[0]
    assert bridge["evidence"]["density"] >= 2.15 and set(bridge["desks"]) >= {"110"}
    assert abs(bridge["lat"] - 23.0258) < 0.01 and abs(bridge["lon"] - 113.11) < 0.02
    complaint = cluster[0]
    assert complaint["evidence"]["count"] >= 12
    assert {"12345", "110"} <= set(complaint["desks"])
    assert all("****" in (t["caller"] or "****") for t in complaint["evidence"]["tickets"])
    for field in (
        "id",
        "rule",
        "severity",
        "state",
        "cell",
        "lat",
        "lon",
        "desks",
        "opened_at",
        "evidence",
    ):
        assert field in bridge and field in complaint
    kinds = {m["type"] for m in messages}
    assert {"snapshot", "cells", "alert"} <= kinds
    assert any(
        c["density"] and c["density"] > 2.15
        for m in messages
        if m["type"] == "cells"
        for c in m["cells"]
    )


def test_bad_input_is_dead_lettered_and_the_rest_processed(stack: EmbeddedStack) -> None:
    settings = stack.live
    now = int(time.time() * 1000)
    good = {
        "id": "e2e-good",
        "ts": now,
        "lat": 22.99,
        "lon": 113.06,
        "people": 7,
        "area_m2": 10.0,
        "camera": "cam-e2e",
    }

    async def run() -> tuple[list[dict], dict | None]:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers())
        await producer.start()
        from aiokafka import AIOKafkaConsumer

        consumer = AIOKafkaConsumer(
            settings.kafka.topic("events.deadletter"),
            bootstrap_servers=settings.kafka.bootstrap_servers(),
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            await producer.send_and_wait(
                settings.kafka.topic("events.camera"),
                orjson.dumps([good, {**good, "id": "e2e-bad", "lat": 95}]),
            )
            await producer.send_and_wait(settings.kafka.topic("events.sensor"), b"\x00\xff{")
            letters: list[dict] = []
            deadline = time.monotonic() + 30
            while (
                time.monotonic() < deadline
                and len([x for x in letters if x["topic"] in ("events.camera", "events.sensor")])
                < 2
            ):
                batch = await consumer.getmany(timeout_ms=1000)
                letters += [orjson.loads(m.value) for ms in batch.values() for m in ms]
            cell = None
            async with connect(f"ws://127.0.0.1:{settings.web.port}/ws") as ws:
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and cell is None:
                    msg = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
                    for c in msg.get("cells", []):
                        if c["people"] == 7 and c["area_m2"] == 10.0:
                            cell = c
            return letters, cell
        finally:
            await consumer.stop()
            await producer.stop()

    letters, cell = asyncio.run(run())
    reasons = {(x["topic"], x["error"]) for x in letters}
    assert ("events.camera", "validation") in reasons and ("events.sensor", "encoding") in reasons
    bad = next(x for x in letters if x["topic"] == "events.camera")
    assert bad["index"] == 1 and "lat" in bad["reason"] and "e2e-bad" in bad["original"]
    assert cell is not None and cell["density"] == 0.7
