"""End to end, faults: a worker killed with SIGKILL in the middle of a stream.

A stack of its own with two partitions. Crowds at four spots far apart, hotline tickets
in four cells, and background cameras stream through Kafka once a second; two crowds
start before the kill and two while the worker is down. After the restart: each spot
has exactly one alert (none lost, none duplicated by the reprocessing of input the dead
worker had not committed), every ticket counts once in its cell (the cell table came
back from its changelog and the repeats changed nothing), and every camera's cell shows
its last reading.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h3
import orjson
import pytest
from aiokafka import AIOKafkaProducer

from citybrain.settings import Settings
from citybrain.stack import EmbeddedStack
from geo.cells import cell_of
from tests.e2e import kit
from tests.e2e.kit import AlertWatch, http, wait_for

pytestmark = [pytest.mark.e2e]
EARLY = [(23.000, 113.060), (23.000, 113.100)]  # crowds from the start
LATE = [(23.040, 113.060), (23.040, 113.100)]  # crowds that start while the worker is down
TICKETS = [(23.015, 113.075), (23.025, 113.085), (23.035, 113.120), (23.010, 113.125)]
BACKGROUND = [(23.005 + 0.004 * i, 113.040 + 0.006 * j) for i in range(4) for j in range(4)]


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory, artifacts: Path) -> Iterator[EmbeddedStack]:
    run_dir = tmp_path_factory.mktemp("faults-stack")
    with kit.own_stack(run_dir, artifacts / "faults-stack-logs", kafka={"partitions": 2}) as stack:
        yield stack


class Feed:
    """Sends the readings once a second and remembers the last value of each camera."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.crowds: list[tuple[float, float]] = list(EARLY)
        self.last_people: dict[tuple[float, float], int] = {}
        self.tickets_sent: dict[tuple[float, float], set[str]] = {t: set() for t in TICKETS}
        self.ticks = 0

    async def run(self, seconds: float) -> None:
        topic_cam = self.settings.kafka.topic("events.camera")
        topic_hot = self.settings.kafka.topic("events.hotline")
        producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka.bootstrap_servers())
        await producer.start()
        try:
            end = time.monotonic() + seconds
            while time.monotonic() < end:
                now = int(time.time() * 1000)
                batch = []
                for n, (lat, lon) in enumerate(self.crowds):
                    batch.append(self._camera(f"crowd-{lat}-{lon}", now, lat, lon, 1000 + n))
                for lat, lon in BACKGROUND:
                    people = 5 + (self.ticks + int(lat * 1000)) % 9
                    batch.append(self._camera(f"bg-{lat}-{lon}", now, lat, lon, people))
                    self.last_people[lat, lon] = people
                await producer.send_and_wait(topic_cam, orjson.dumps(batch))
                if self.ticks % 5 == 0:  # a ticket in each ticket cell every 5 s
                    tickets = []
                    for n, (lat, lon) in enumerate(TICKETS):
                        tid = f"fault-t{n}-{self.ticks}"
                        self.tickets_sent[lat, lon].add(tid)
                        tickets.append(self._ticket(tid, now, lat, lon, n))
                    await producer.send_and_wait(topic_hot, orjson.dumps(tickets))
                self.ticks += 1
                await asyncio.sleep(1.0)
        finally:
            await producer.stop()

    @staticmethod
    def _camera(cam: str, now: int, lat: float, lon: float, people: int) -> dict[str, Any]:
        return {
            "id": f"{cam}-{now}",
            "camera": cam,
            "ts": now,
            "lat": lat,
            "lon": lon,
            "people": people,
            "area_m2": 400.0,
        }

    @staticmethod
    def _ticket(tid: str, now: int, lat: float, lon: float, n: int) -> dict[str, Any]:
        category = ("noise", "sanitation", "facility", "environment")[n]
        return {
            "id": tid,
            "ts": now,
            "channel": "12345",
            "category": category,
            "text": "反映问题",
            "lat": lat,
            "lon": lon,
        }


def test_worker_killed_mid_stream_loses_and_duplicates_nothing(
    own_stack: EmbeddedStack, artifacts: Path
) -> None:
    stack = own_stack
    s = stack.live
    res = s.pipeline.h3_resolution
    api = f"http://127.0.0.1:{s.web.port}/api/"
    spots = {cell_of(lat, lon, res): (lat, lon) for lat, lon in EARLY + LATE}
    feed = Feed(s)
    timings: list[str] = []

    def spot_of(alert: dict[str, Any]) -> str | None:
        near = [c for c in spots if h3.grid_distance(c, alert["cell"]) <= 2]
        return near[0] if near else None

    async def scenario() -> dict[str, dict[str, Any]]:
        async with AlertWatch(f"ws://127.0.0.1:{s.web.port}/ws") as watch:
            feeding = asyncio.create_task(feed.run(75))
            early = {cell_of(lat, lon, res) for lat, lon in EARLY}
            await watch.wait(
                lambda alerts: alerts if early <= {spot_of(a) for a in alerts} else [],
                60,
                "early crowds",
            )
            started = time.monotonic()
            stack.kill_child("worker")  # SIGKILL: no commit, no flush, no goodbye
            feed.crowds += LATE
            await asyncio.sleep(3)
            stack.respawn("worker")
            await watch.wait(
                lambda alerts: alerts if set(spots) <= {spot_of(a) for a in alerts} else [],
                90,
                "alerts for all four spots after the restart",
            )
            timings.append(f"kill → all four spots alerted: {time.monotonic() - started:.1f} s")
            await feeding
            await asyncio.sleep(5)  # the last records through
            return dict(watch.alerts)

    seen = asyncio.run(scenario())
    by_spot: dict[str, set[str]] = {}
    for alert in seen.values():
        spot = spot_of(alert)
        if spot is not None:
            by_spot.setdefault(spot, set()).add(alert["id"])
    assert {spot: len(ids) for spot, ids in by_spot.items()} == {spot: 1 for spot in spots}
    live = http("GET", f"{api}alerts")[1]["alerts"]
    assert {a["id"] for a in live if spot_of(a)} == {i for ids in by_spot.values() for i in ids}
    assert all(a["state"] == "open" for a in live if spot_of(a))

    def views() -> dict[str, dict[str, Any]]:
        return {c["cell"]: c for c in http("GET", f"{api}cells")[1]["cells"]}

    def tickets_counted() -> bool:
        got = views()
        return all(
            got.get(cell_of(lat, lon, res), {}).get("tickets_total") == len(ids)
            for (lat, lon), ids in feed.tickets_sent.items()
        )

    wait_for(tickets_counted, 30, "every ticket counted once in its cell")
    got = views()
    wrong = {
        (lat, lon): (got.get(cell_of(lat, lon, res), {}).get("people_seen"), people)
        for (lat, lon), people in feed.last_people.items()
        if got.get(cell_of(lat, lon, res), {}).get("people_seen") != people
    }
    assert not wrong, f"cells not showing their camera's last reading (shown, sent): {wrong}"
    (artifacts / "fault-timings.txt").write_text("\n".join(timings) + "\n")
