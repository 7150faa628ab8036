"""The websocket side of ``citybrain load``: many map clients on ``/ws`` (edge).

Each client connects (the first ones at once, the rest spread over the ramp-up),
reads every message, and counts messages, bytes, failed connection attempts and the
closes the server starts, by code (1013: dropped as too slow). Like the map, a client
whose connection ends connects again after :data:`RECONNECT_S`. For each ``cells``
message the delivery lag is taken: receive time minus its ``server_time`` (both this
machine's clock when the server runs here). Client 0 also reads the cells in each
``cells`` message for the end-to-end markers (:mod:`citybrain.load_probes`); the
others only look at the start of a message, so that the load generator spends its CPU
on reading, as a browser would, rather than on parsing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
import orjson
from aiohttp import ClientWebSocketResponse, WSMsgType

from citybrain.load_probes import ProbeBook
from citybrain.load_report import ClientCount

log = logging.getLogger(__name__)

RECONNECT_S: Final = 1.0
CLOSE_TIMEOUT_S: Final = 5.0
CONNECT_TIMEOUT_S: Final = 30.0
ABNORMAL_CLOSE: Final = 1006
"""Recorded when a connection ended without a close frame from the server."""
_HEAD: Final = re.compile(rb'\{"type":"([a-z_]+)","server_time":(\d+)[,}]')


def peek_head(data: bytes) -> tuple[str, int] | None:
    """``(type, server_time)`` from the start of a server message when it begins the way
    the web server writes them (``{"type":…,"server_time":…``); None otherwise."""
    m = _HEAD.match(data, 0, 80)
    if m is None:
        return None
    return m[1].decode(), int(m[2])


def read_head(data: bytes) -> tuple[str, int | None]:
    """``(type, server_time or None)`` of any server message, parsing it whole if its
    start is unusual. ValueError when it is not a JSON object with a string ``type``."""
    head = peek_head(data)
    if head is not None:
        return head
    body = orjson.loads(data)  # orjson.JSONDecodeError is a ValueError
    if not isinstance(body, dict) or not isinstance(body.get("type"), str):
        raise ValueError("not an object with a string 'type'")
    server_time = body.get("server_time")
    return body["type"], server_time if isinstance(server_time, int) else None


def cell_updates(data: bytes) -> Iterator[tuple[str, int]]:
    """``(cell, updated_at)`` of every cell view in a ``cells`` message. ValueError when
    the message is not shaped as docs/protocol.md says."""
    body = orjson.loads(data)
    views = body.get("cells") if isinstance(body, dict) else None
    if not isinstance(views, list):
        raise ValueError("cells message without a 'cells' array")
    for view in views:
        if not isinstance(view, dict):
            raise ValueError("a cell view is not an object")
        cell, updated_at = view.get("cell"), view.get("updated_at")
        if not isinstance(cell, str) or not isinstance(updated_at, int):
            raise ValueError("a cell view lacks a string 'cell' or an integer 'updated_at'")
        yield cell, updated_at


@dataclass(slots=True)
class ClientTally:
    """One client's counts so far (see :class:`citybrain.load_report.ClientCount`)."""

    connections: int = 0
    messages: int = 0
    cells_messages: int = 0
    bytes: int = 0
    connect_errors: Counter[str] = field(default_factory=Counter)
    closes: Counter[int] = field(default_factory=Counter)
    bad_messages: int = 0

    def count(self) -> ClientCount:
        return ClientCount(
            connections=self.connections,
            messages=self.messages,
            cells_messages=self.cells_messages,
            bytes=self.bytes,
            connect_errors=sum(self.connect_errors.values()),
            closes=dict(self.closes),
            bad_messages=self.bad_messages,
        )


class Swarm:
    """``count`` websocket clients of ``url``; :meth:`start`, then :meth:`close`.

    ``lags`` collects (seconds after ``t0``, delivery lag ms) of every ``cells`` message
    any client read; ``probes`` is resolved by client 0.
    """

    def __init__(
        self,
        url: str,
        count: int,
        *,
        ramp_s: float,
        t0: float,
        probes: ProbeBook,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        """``t0`` is the run's start, ``time.time()`` seconds."""
        self.url = url
        self.tallies = [ClientTally() for _ in range(count)]
        self.lags: list[tuple[float, float]] = []
        self.probes = probes
        self.connected = 0
        self.peak_connected = 0
        self._ramp_s = ramp_s
        self._t0 = t0
        self._headers = dict(headers or {})
        self._stopping = asyncio.Event()
        self._sockets: set[ClientWebSocketResponse[Any]] = set()
        self._tasks: list[asyncio.Task[None]] = []
        self._session: aiohttp.ClientSession | None = None

    def start(self) -> None:
        """Start the clients (inside the running loop); client ``k`` connects after
        ``k × ramp_s / count`` seconds."""
        self._session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),  # one connection per client, no pool cap
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S),
            headers=self._headers,
        )
        n = len(self.tallies)
        self._tasks = [
            asyncio.create_task(self._client(k, k * self._ramp_s / n), name=f"ws-client {k}")
            for k in range(n)
        ]

    async def close(self) -> None:
        """Close every connection (ours, so not counted as the server's) and end the
        clients; those that do not finish within :data:`CLOSE_TIMEOUT_S` are cancelled."""
        self._stopping.set()
        await asyncio.gather(*(ws.close() for ws in list(self._sockets)), return_exceptions=True)
        if self._tasks:
            _, stuck = await asyncio.wait(self._tasks, timeout=CLOSE_TIMEOUT_S)
            for task in stuck:
                task.cancel()
            await asyncio.gather(*stuck, return_exceptions=True)
            for task in self._tasks:
                if not task.cancelled() and (exc := task.exception()) is not None:
                    log.error("%s failed: %r", task.get_name(), exc, exc_info=exc)
        if self._session is not None:
            await self._session.close()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def _client(self, index: int, delay_s: float) -> None:
        tally = self.tallies[index]
        await self._pause(delay_s)
        assert self._session is not None
        while not self._stopping.is_set():
            try:
                ws = await self._session.ws_connect(
                    self.url,
                    max_msg_size=0,  # a snapshot of every cell can be megabytes
                    decode_text=False,  # bytes: counted as sent, decoded only when needed
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None, ws_close=CLOSE_TIMEOUT_S),
                )
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                tally.connect_errors[type(exc).__name__] += 1
                log.debug("client %d: cannot connect: %r", index, exc)
                await self._pause(RECONNECT_S)
                continue
            tally.connections += 1
            self._sockets.add(ws)
            self.connected += 1
            self.peak_connected = max(self.peak_connected, self.connected)
            try:
                await self._read(ws, tally, observer=index == 0)
            finally:
                self.connected -= 1
                self._sockets.discard(ws)
                await ws.close()
            if not self._stopping.is_set():
                code = ws.close_code if ws.close_code is not None else ABNORMAL_CLOSE
                tally.closes[code] += 1
                log.debug("client %d: server closed the connection with %d", index, code)
                await self._pause(RECONNECT_S)

    async def _read(
        self, ws: ClientWebSocketResponse[Any], tally: ClientTally, *, observer: bool
    ) -> None:
        async for message in ws:  # ends on a close frame or a broken connection
            if message.type not in (WSMsgType.TEXT, WSMsgType.BINARY):
                if message.type is WSMsgType.ERROR:
                    log.debug("websocket error: %r", message.data)
                continue
            data: bytes = message.data
            received = time.time()
            tally.messages += 1
            tally.bytes += len(data)
            try:
                kind, server_time = read_head(data)
                if kind != "cells":
                    continue
                tally.cells_messages += 1
                if server_time is not None:
                    self.lags.append((received - self._t0, received * 1000 - server_time))
                if observer:
                    self.probes.observe(cell_updates(data), received * 1000)
            except ValueError as exc:  # includes orjson.JSONDecodeError
                tally.bad_messages += 1
                log.warning("unreadable server message (%d bytes): %s", len(data), exc)
