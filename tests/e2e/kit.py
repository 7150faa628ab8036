"""Shared pieces of the end-to-end tests: a websocket reader and alert helpers."""

from __future__ import annotations

import asyncio
import contextlib
import json
import shutil
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
from aiokafka import AIOKafkaProducer
from websockets.asyncio.client import connect

from citybrain.config.settings import Settings
from citybrain.stack import EmbeddedStack
from citybrain.tools.load.metrics import Samples, parse_metrics


def http(
    method: str, url: str, token: str | None = None, body: Any = None
) -> tuple[int, dict[str, Any]]:
    """One JSON request; (status, parsed body) for errors too."""
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, json.loads(exc.read())


def wait_for(check: Any, within_s: float, what: str) -> Any:
    """Poll ``check()`` every 0.1 s until it returns something truthy; AssertionError after
    ``within_s`` seconds."""
    deadline = time.monotonic() + within_s
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.1)
    raise AssertionError(f"no {what} within {within_s} s")


async def crowd(
    settings: Settings, lat: float, lon: float, seconds: float, people: int = 1000, tag: str = ""
) -> None:
    """A camera at (lat, lon) counting ``people`` on 400 m² (2.5/m² at 1000: LOS F) once a
    second for ``seconds``, through Kafka, with event time now."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers())
    await producer.start()
    try:
        end = time.monotonic() + seconds
        i = 0
        while time.monotonic() < end:
            now = int(time.time() * 1000)
            reading = {
                "id": f"crowd-{tag}-{i}-{now}",
                "camera": f"cam-{tag}",
                "ts": now,
                "lat": lat,
                "lon": lon,
                "people": people,
                "area_m2": 400.0,
            }
            await producer.send_and_wait(
                settings.kafka.topic("events.camera"), orjson.dumps(reading)
            )
            i += 1
            await asyncio.sleep(1.0)
    finally:
        await producer.stop()


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


def signals(alert: dict, rule: str) -> list[dict]:
    return [s for s in alert["evidence"]["signals"] if s["rule"] == rule]


class AlertWatch:
    """A websocket client that keeps the newest version of every alert it hears of."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.alerts: dict[str, dict] = {}
        self._changed = asyncio.Event()

    async def __aenter__(self) -> AlertWatch:
        self._ws = await connect(self.url)
        self._task = asyncio.create_task(self._read())
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._task.cancel()
        await self._ws.close()

    async def _read(self) -> None:
        async for raw in self._ws:
            msg = orjson.loads(raw)
            found = msg.get("alerts", []) if msg["type"] == "snapshot" else []
            if msg["type"] == "alert":
                found = [msg["alert"]]
            for alert in found:
                self.alerts[alert["id"]] = alert
            if found:
                self._changed.set()

    async def wait(self, until: Any, within_s: float, what: str) -> list[dict]:
        """The alerts once ``until(alerts)`` returns a non-empty list; AssertionError after
        ``within_s`` seconds, listing what was seen."""
        deadline = time.monotonic() + within_s
        while True:
            found = until(list(self.alerts.values()))
            if found:
                return list(found)
            left = deadline - time.monotonic()
            if left <= 0:
                seen = [(a["rule"], a["state"], a["cell"]) for a in self.alerts.values()]
                raise AssertionError(f"no {what} within {within_s} s; alerts seen: {seen}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), left)


@contextlib.contextmanager
def own_stack(run_dir: Path, logs_to: Path, **overrides: Any) -> Iterator[EmbeddedStack]:
    """An embedded stack of a test module's own (no simulator), for tests that restart or
    break its processes; its logs are copied to ``logs_to`` when it stops."""
    web = {"port": 0, **overrides.pop("web", {})}
    settings = Settings().with_overrides(web=web, log_level="info", **overrides)
    stack = EmbeddedStack(settings, run_dir, simulate=False)
    try:
        stack.start()
        yield stack
    finally:
        stack.stop()
        if (run_dir / "logs").exists():
            shutil.rmtree(logs_to, ignore_errors=True)
            shutil.copytree(run_dir / "logs", logs_to)


async def reply(ws: Any) -> dict[str, Any]:
    """The server's answer (``pong`` or ``error``) to what a websocket client sent, past
    any broadcasts (cells, alerts, workers) that other activity puts in between."""
    while True:
        message = orjson.loads(await ws.recv())
        if message["type"] in ("error", "pong"):
            return dict(message)


def answers(url: str) -> bool:
    """Whether ``url`` answers 200 (False while the process is not listening yet)."""
    try:
        return http("GET", url)[0] == 200
    except urllib.error.URLError:  # not listening yet: it has just been started
        return False


def metrics(url: str) -> Samples:
    """The samples of a ``/metrics`` page (citybrain.tools.load.metrics.parse_metrics)."""
    with urllib.request.urlopen(url, timeout=10) as r:
        return parse_metrics(r.read().decode())


def camera(cam: str, ts: int, lat: float, lon: float, people: int) -> dict[str, Any]:
    """A camera reading counting ``people`` on 400 m², event id unique per camera and ts."""
    return {
        "id": f"{cam}-{ts}",
        "camera": cam,
        "ts": ts,
        "lat": lat,
        "lon": lon,
        "people": people,
        "area_m2": 400.0,
    }
