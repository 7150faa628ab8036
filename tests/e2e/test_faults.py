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
import base64
import itertools
import os
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import h3
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from redis.asyncio import Redis
from websockets.asyncio.client import connect

from citybrain.config.settings import Settings
from citybrain.stack import EmbeddedStack, wait_port
from citybrain.tools.load.metrics import total
from geo.cells import cell_of
from tests.e2e import kit
from tests.e2e.kit import AlertWatch, camera, http, metrics, wait_for

pytestmark = [pytest.mark.e2e]
EARLY = [(23.000, 113.060), (23.000, 113.100)]  # crowds from the start
LATE = [(23.040, 113.060), (23.040, 113.100)]  # crowds that start while the worker is down
TICKETS = [(23.015, 113.075), (23.025, 113.085), (23.035, 113.120), (23.010, 113.125)]
BACKGROUND = [(23.005 + 0.004 * i, 113.040 + 0.006 * j) for i in range(4) for j in range(4)]


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory, artifacts: Path) -> Iterator[EmbeddedStack]:
    run_dir = tmp_path_factory.mktemp("faults-stack")
    with kit.own_stack(
        run_dir,
        artifacts / "faults-stack-logs",
        kafka={"partitions": 2},
        web={"send_timeout_s": 2.0},  # the stalled client is dropped sooner
    ) as stack:
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
                    batch.append(camera(f"crowd-{lat}-{lon}", now, lat, lon, 1000 + n))
                for lat, lon in BACKGROUND:
                    people = 5 + (self.ticks + int(lat * 1000)) % 9
                    batch.append(camera(f"bg-{lat}-{lon}", now, lat, lon, people))
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

    def ticket_counts() -> dict[tuple[float, float], tuple[Any, int]]:
        """(counted, sent) of each ticket cell."""
        got = views()
        return {
            (lat, lon): (got.get(cell_of(lat, lon, res), {}).get("tickets_total"), len(ids))
            for (lat, lon), ids in feed.tickets_sent.items()
        }

    def tickets_counted() -> bool:
        return all(counted == sent for counted, sent in ticket_counts().values())

    try:
        wait_for(tickets_counted, 30, "every ticket counted once in its cell")
    except AssertionError as exc:
        raise AssertionError(f"{exc}; (counted, sent) by cell: {ticket_counts()}") from None
    got = views()
    wrong = {
        (lat, lon): (got.get(cell_of(lat, lon, res), {}).get("people_seen"), people)
        for (lat, lon), people in feed.last_people.items()
        if got.get(cell_of(lat, lon, res), {}).get("people_seen") != people
    }
    assert not wrong, f"cells not showing their camera's last reading (shown, sent): {wrong}"
    (artifacts / "fault-timings.txt").write_text("\n".join(timings) + "\n")


def test_broker_pause_is_reported_and_ridden_out(own_stack: EmbeddedStack) -> None:
    """The broker stops answering for a while (SIGSTOP: hung, like a broker in a long
    pause or behind a dead switch) and comes back: worker and web server say so in
    /readyz and in one log line each way, keep running, and the pipeline resumes. (A
    broker *restart* would lose the embedded broker's memory storage; against Apache
    Kafka a restart looks the same to the clients as this pause.)"""
    stack = own_stack
    s = stack.live
    children = {c.name: c for c in stack.children}
    ready = {
        "worker": f"http://127.0.0.1:{s.worker_http_port}/readyz",
        "web": f"http://127.0.0.1:{s.web.port}/readyz",
    }

    def broker_check(name: str) -> bool | None:
        body = http("GET", ready[name])[1]
        return body.get("checks", {}).get("broker")

    for name in ready:
        wait_for(lambda n=name: http("GET", ready[n])[0] == 200, 60, f"{name} ready")
    broker = children["broker"].proc
    broker.send_signal(signal.SIGSTOP)
    try:
        for name in ready:
            wait_for(lambda n=name: broker_check(n) is False, 30, f"{name} seeing the broker gone")
            assert http("GET", ready[name])[0] == 503
        time.sleep(5)
    finally:
        broker.send_signal(signal.SIGCONT)
    for name in ready:
        wait_for(lambda n=name: http("GET", ready[n])[0] == 200, 60, f"{name} ready again")
    assert children["worker"].proc.poll() is None and children["web"].proc.poll() is None

    # the pipeline works again: a new reading reaches the live view
    spot = (23.020, 113.140)
    cell = cell_of(*spot, s.pipeline.h3_resolution)

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=s.kafka.bootstrap_servers())
        await producer.start()
        try:
            reading = camera("after-pause", int(time.time() * 1000), *spot, 321)
            await producer.send_and_wait(s.kafka.topic("events.camera"), orjson.dumps(reading))
        finally:
            await producer.stop()

    asyncio.run(send())
    api = f"http://127.0.0.1:{s.web.port}/api/cells"
    wait_for(
        lambda: any(c["cell"] == cell for c in http("GET", api)[1]["cells"]), 60, "new reading"
    )
    for name in ("worker", "web"):
        log = children[name].log_path.read_text(errors="replace")
        assert "Kafka broker not answering" in log and "Kafka broker answers again" in log, name


def test_redis_crash_and_wipe_are_ridden_out_and_clients_resnapshotted(
    own_stack: EmbeddedStack,
) -> None:
    """Redis is killed (SIGKILL) while readings arrive, and later wiped (as if replaced by
    an empty one). The web server answers 503 meanwhile, holds its Kafka feed until Redis
    is back, re-reads what Redis lost, rebuilds a wiped Redis from the topics, and sends
    every websocket client a fresh snapshot each time; the web process never restarts."""
    stack = own_stack
    s = stack.live
    res = s.pipeline.h3_resolution
    api = f"http://127.0.0.1:{s.web.port}/api/"
    redis_url = s.redis.url.get_secret_value()
    redis_port = int(redis_url.rsplit(":", 1)[1].split("/")[0])
    web = next(c for c in stack.children if c.name == "web")

    def cells() -> set[str]:
        status, body = http("GET", f"{api}cells")
        return {c["cell"] for c in body["cells"]} if status == 200 else set()

    def alert_ids() -> set[str]:
        status, body = http("GET", f"{api}alerts")
        return {a["id"] for a in body["alerts"]} if status == 200 else set()

    before_cells, before_alerts = cells(), alert_ids()
    assert before_cells and before_alerts  # left by the tests above
    spots = [(23.045, 113.045), (23.050, 113.050)]

    async def scenario() -> list[str]:
        snapshots: list[str] = []
        async with connect(f"ws://127.0.0.1:{s.web.port}/ws", ping_interval=None) as ws:

            async def read() -> None:
                async for raw in ws:
                    if orjson.loads(raw)["type"] == "snapshot":
                        snapshots.append("snapshot")

            reader = asyncio.create_task(read())
            await wait_async(lambda: snapshots, 10, "first snapshot")
            stack.kill_child("redis")
            status, body = await asyncio.to_thread(http, "GET", f"{api}cells")
            assert status == 503 and "Redis" in body["error"], body
            producer = AIOKafkaProducer(bootstrap_servers=s.kafka.bootstrap_servers())
            await producer.start()
            try:
                reading = camera("during-outage", int(time.time() * 1000), *spots[0], 55)
                await producer.send_and_wait(s.kafka.topic("events.camera"), orjson.dumps(reading))
            finally:
                await producer.stop()
            await asyncio.sleep(3)
            stack.respawn("redis")
            await asyncio.to_thread(wait_port, redis_port, 30)
            await wait_async(lambda: len(snapshots) >= 2, 30, "a snapshot after the restart")
            new_cell = cell_of(*spots[0], res)
            await wait_async(
                lambda: new_cell in cells(), 30, "the reading sent while Redis was down"
            )

            wiped = Redis.from_url(redis_url)
            try:
                await wiped.flushall()
            finally:
                await wiped.aclose()
            await wait_async(lambda: len(snapshots) >= 3, 30, "a snapshot after the wipe")
            await wait_async(
                lambda: before_cells | {new_cell} <= cells() and before_alerts <= alert_ids(),
                60,
                "the live view rebuilt from Kafka",
            )
            reader.cancel()
            return snapshots

    asyncio.run(scenario())
    assert web.proc.poll() is None and web in stack.children  # never restarted
    log = web.log_path.read_text(errors="replace")
    assert "Redis unavailable" in log and "Redis is back" in log
    assert "the stored feed positions are gone" in log


async def wait_async(check: Any, within_s: float, what: str) -> None:
    """:func:`tests.e2e.kit.wait_for` for use inside a running event loop (``check`` is
    called in a thread: it may block on HTTP)."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        if await asyncio.to_thread(check):
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"no {what} within {within_s} s")


def test_a_stalled_websocket_client_is_dropped_and_the_others_keep_their_pace(
    own_stack: EmbeddedStack,
) -> None:
    """A client that stops reading (a frozen browser tab, a dead video-wall PC) fills its
    socket and its queue; the server drops it within web.send_timeout_s and counts it,
    while a client that reads keeps getting a cells message every broadcast."""
    stack = own_stack
    s = stack.live
    # ~900 changing cells a second: ~0.6 MB of deltas a second, more than the server's
    # socket buffer (Linux grows it to tcp_wmem's 4 MiB) holds for long
    cameras = [(23.06 + 0.002 * i, 113.00 + 0.002 * j) for i in range(30) for j in range(30)]

    def dropped() -> float:
        return (
            total(metrics(f"http://127.0.0.1:{s.web.port}/metrics"), "citybrain_ws_dropped_total")
            or 0.0
        )

    # the test before restarts Redis: a client connecting before the web server reads it
    # again is closed with 1013 (try again later), as the map would be and reconnect
    wait_for(
        lambda: kit.answers(f"http://127.0.0.1:{s.web.port}/api/cells"),
        30,
        "the live store answering",
    )
    before = dropped()
    stalled = stalled_client("127.0.0.1", s.web.port)

    async def scenario() -> list[float]:
        arrivals: list[float] = []
        async with connect(f"ws://127.0.0.1:{s.web.port}/ws", ping_interval=None) as ws:

            async def read() -> None:
                async for raw in ws:
                    if orjson.loads(raw)["type"] == "cells":
                        arrivals.append(time.monotonic())

            reader = asyncio.create_task(read())
            producer = AIOKafkaProducer(bootstrap_servers=s.kafka.bootstrap_servers())
            await producer.start()
            try:
                for tick in range(15):
                    now = int(time.time() * 1000)
                    batch = [
                        camera(f"stall-{lat}-{lon}", now, lat, lon, 20 + tick)
                        for lat, lon in cameras
                    ]
                    await producer.send_and_wait(
                        s.kafka.topic("events.camera"), orjson.dumps(batch)
                    )
                    await asyncio.sleep(1.0)
            finally:
                await producer.stop()
            await asyncio.sleep(2)
            reader.cancel()
        return arrivals

    try:
        arrivals = asyncio.run(scenario())
        wait_for(lambda: dropped() > before, 30, "the stalled client dropped")
        stalled.settimeout(10)
        ended = False
        while not ended:  # what it had been sent, then the end of the connection
            try:
                ended = stalled.recv(65536) == b""
            except (ConnectionResetError, TimeoutError):
                ended = True
    finally:
        stalled.close()
    assert len(arrivals) >= 10, arrivals
    gaps = [b - a for a, b in itertools.pairwise(arrivals)]
    assert max(gaps) < 3.0, f"the reading client waited {max(gaps):.1f} s for a broadcast"


def stalled_client(host: str, port: int) -> socket.socket:
    """A websocket client that completes the handshake and then never reads, with a
    receive buffer as small as the kernel allows."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1024)
    sock.connect((host, port))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        (
            f"GET /ws HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(1)  # byte by byte: not one byte of the first message is taken
    assert head.startswith(b"HTTP/1.1 101"), head
    return sock
