"""Shared pieces of the end-to-end tests: a websocket reader and alert helpers."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import orjson
from websockets.asyncio.client import connect


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
