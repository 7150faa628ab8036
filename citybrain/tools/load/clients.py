"""The websocket side of ``citybrain load``: many map clients on ``/ws`` (edge).

Each client connects (the first ones at once, the rest spread over the ramp-up),
reads every message, and counts messages, bytes, failed connection attempts and the
closes the server starts, by code (1013: dropped as too slow). Like the map, a client
whose connection ends connects again after :data:`RECONNECT_S`. For each ``cells``
message the delivery lag is taken: receive time minus its ``server_time`` (both this
machine's clock when the server runs here). Client 0 also reads the cells in each
``cells`` message for the end-to-end markers (:mod:`citybrain.tools.load.probes`); the
others only look at the start of a message, so that the load generator spends its CPU
on reading, as a browser would, rather than on parsing.

:class:`StalledClients` are the opposite: clients that complete the handshake and then
never read a byte (a frozen tab, a dead video-wall PC), to show that the server drops
them and that they do not delay the clients that read.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import logging
import os
import re
import socket
import time
import urllib.parse
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import aiohttp
import orjson
from aiohttp import ClientWebSocketResponse, WSMsgType

from citybrain.tools.load.probes import ProbeBook
from citybrain.tools.load.report import ClientCount, StalledCount

log = logging.getLogger(__name__)

RECONNECT_S: Final = 1.0
CLOSE_TIMEOUT_S: Final = 5.0
CONNECT_TIMEOUT_S: Final = 30.0
ABNORMAL_CLOSE: Final = 1006
"""Recorded when a connection ended without a close frame from the server."""
_HEAD: Final = re.compile(rb'\{"type":"([a-z_]+)","server_time":(\d+)[,}]')

STALLED_RCVBUF: Final = 1024
"""SO_RCVBUF of a stalled client, bytes, set before connecting (the kernel raises it to
its minimum): the server's messages pile up on its side, not in this machine's buffer."""
STALLED_QUIET_S: Final = 2.0
STALLED_DRAIN_MAX_S: Final = 10.0
"""At the end, a stalled client's buffered bytes are read until the end of the connection;
it counts as still open when nothing arrives for :data:`STALLED_QUIET_S` or the server
still sends after :data:`STALLED_DRAIN_MAX_S` (all clients are drained at once)."""
NOT_CONNECTED: Final = "not connected by the end of the run"
"""The connect error of a stalled client whose handshake was still under way at the end."""
_HANDSHAKE_MAX: Final = 16 * 1024
_WS_GUID: Final = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455, section 1.3


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
    """One client's counts so far (see :class:`citybrain.tools.load.report.ClientCount`)."""

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
        self.first_connected = asyncio.Event()
        """Set once any client has completed its handshake."""
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
            self.first_connected.set()
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


def ws_endpoint(url: str) -> tuple[str, int, str, str]:
    """``(host, port, path, Host header)`` of a ``ws://`` URL, as a websocket client
    connects to it (port 80 when none is given; path ``/`` when empty). ValueError for
    another scheme (``wss://`` is not supported here), no host or a bad port."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "ws" or not parts.hostname:
        raise ValueError(f"{url!r} is not a ws:// URL with a host")
    port = parts.port or 80  # raises ValueError for a port out of range
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.hostname, port, path, parts.netloc.rpartition("@")[2]


def accept_key(key: str) -> str:
    """The ``Sec-WebSocket-Accept`` a server answers to ``Sec-WebSocket-Key`` ``key``."""
    digest = hashlib.sha1((key + _WS_GUID).encode(), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode()


def handshake_request(path: str, host: str, key: str, headers: Mapping[str, str]) -> bytes:
    """The HTTP request that opens a websocket on ``path`` of ``host`` (the Host header),
    with ``headers`` added. ValueError for a header holding a line break."""
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *_header_lines(headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _header_lines(headers: Mapping[str, str]) -> list[str]:
    for name, value in headers.items():
        if any(c in name + value for c in "\r\n"):
            raise ValueError(f"header {name!r} holds a line break")
    return [f"{name}: {value}" for name, value in headers.items()]


def handshake_problem(head: bytes, key: str) -> str | None:
    """None when ``head`` (the response up to its blank line) accepts the websocket
    opened with ``key``; otherwise what is wrong, e.g. ``HTTP 401``."""
    status_line, *lines = head.decode("latin-1").split("\r\n")
    parts = status_line.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return f"not an HTTP response: {status_line[:80]!r}"
    if parts[1] != "101":
        return f"HTTP {parts[1]}"
    fields = {}
    for line in lines:
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip().lower()] = value.strip()
    if fields.get("sec-websocket-accept") != accept_key(key):
        return "101 without the right Sec-WebSocket-Accept"
    return None


@dataclass(slots=True)
class _Stalled:
    sock: socket.socket | None = None
    connected_at_s: float | None = None
    error: str | None = None


class StalledClients:
    """``count`` websocket clients of ``url`` (``ws://`` only) that complete the handshake
    and then never read; :meth:`start`, then :meth:`close`, which says how each ended.

    Each uses a plain non-blocking socket with a receive buffer as small as the kernel
    allows, and reads the handshake response byte by byte, so not one byte of the
    server's first message is taken. Each connects once (no reconnects); a failed
    attempt is recorded, not retried.
    """

    def __init__(
        self,
        url: str,
        count: int,
        *,
        t0: float,
        headers: Mapping[str, str] | None = None,
        quiet_s: float = STALLED_QUIET_S,
        drain_max_s: float = STALLED_DRAIN_MAX_S,
    ) -> None:
        """``t0`` is the run's start, ``time.time()`` seconds; ``quiet_s`` and
        ``drain_max_s`` bound the reading at the end (see :data:`STALLED_DRAIN_MAX_S`).
        ValueError for a URL :func:`ws_endpoint` refuses or a header with a line break."""
        self.host, self.port, self.path, self._host_header = ws_endpoint(url)
        self._headers = dict(headers or {})
        _header_lines(self._headers)  # refused now rather than at every handshake
        self._clients = [_Stalled() for _ in range(count)]
        self._t0 = t0
        self._quiet_s = quiet_s
        self._drain_max_s = drain_max_s
        self._task: asyncio.Task[None] | None = None

    @property
    def connected(self) -> int:
        """Clients whose handshake completed (whether or not the server ended them since)."""
        return sum(1 for c in self._clients if c.connected_at_s is not None)

    @property
    def settled(self) -> int:
        """Clients whose one attempt is over: connected, or refused or failed."""
        return sum(1 for c in self._clients if c.connected_at_s is not None or c.error)

    def start(self, after: asyncio.Event | None = None) -> None:
        """Connect every client at once (inside the running loop) once ``after`` is set,
        or after :data:`CONNECT_TIMEOUT_S` without it."""
        self._task = asyncio.create_task(self._run(after), name="stalled clients")

    async def close(self) -> tuple[StalledCount, ...]:
        """Find out whether the server ended each connection (read what is buffered: the
        end of the connection, or nothing for ``quiet_s``, or ``drain_max_s`` at most),
        close them all, and return each client's outcome, in order. Handshakes still
        under way are abandoned (recorded as not connected)."""
        if self._task is not None:
            self._task.cancel()  # the run is over: stop waiting and connecting
            await asyncio.gather(self._task, return_exceptions=True)
            if not self._task.cancelled() and (exc := self._task.exception()) is not None:
                log.error("stalled clients failed: %r", exc, exc_info=exc)
        ends = await asyncio.gather(*(self._end(c) for c in self._clients))
        outcomes = []
        for c, ended in zip(self._clients, ends, strict=True):
            error = c.error or (NOT_CONNECTED if c.connected_at_s is None else None)
            outcomes.append(StalledCount(error, c.connected_at_s, ended))
        return tuple(outcomes)

    async def _run(self, after: asyncio.Event | None) -> None:
        if after is not None and not after.is_set():
            try:
                async with asyncio.timeout(CONNECT_TIMEOUT_S):
                    await after.wait()
            except TimeoutError:
                log.warning(
                    "no reading client connected within %.0f s; stalled clients connect now",
                    CONNECT_TIMEOUT_S,
                )
        await asyncio.gather(*(self._connect(k, c) for k, c in enumerate(self._clients)))

    async def _connect(self, index: int, client: _Stalled) -> None:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout(CONNECT_TIMEOUT_S):
                infos = await loop.getaddrinfo(self.host, self.port, type=socket.SOCK_STREAM)
                family, kind, proto, _, address = infos[0]
                sock = client.sock = socket.socket(family, kind, proto)
                # before connecting: the window offered in the handshake follows from it
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, STALLED_RCVBUF)
                sock.setblocking(False)
                await loop.sock_connect(sock, address)
                key = base64.b64encode(os.urandom(16)).decode()
                request = handshake_request(self.path, self._host_header, key, self._headers)
                await loop.sock_sendall(sock, request)
                head = bytearray()
                while not head.endswith(b"\r\n\r\n"):
                    byte = await loop.sock_recv(sock, 1)  # one at a time: nothing beyond
                    if not byte:
                        raise ConnectionResetError("closed during the handshake")
                    if len(head) >= _HANDSHAKE_MAX:
                        raise ValueError(f"no end of the response head in {_HANDSHAKE_MAX} bytes")
                    head += byte
            problem = handshake_problem(bytes(head), key)
            detail = problem
        except (OSError, ValueError) as exc:  # TimeoutError is an OSError
            problem, detail = type(exc).__name__, repr(exc)
        if problem is not None:
            client.error = problem
            log.warning("stalled client %d: not connected: %s", index, detail)
        else:
            client.connected_at_s = time.time() - self._t0

    async def _end(self, client: _Stalled) -> str | None:
        """How the server ended ``client``'s connection (see :meth:`close`); closes it."""
        sock, client.sock = client.sock, None
        if sock is None:
            return None
        try:
            if client.connected_at_s is None:
                return None
            return await self._drain(sock)
        finally:
            sock.close()

    async def _drain(self, sock: socket.socket) -> str | None:
        """Read and discard until the connection ends: ``"eof"`` or ``"reset"``; None
        when it stays open (see :data:`STALLED_DRAIN_MAX_S`)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._drain_max_s
        try:
            while (left := deadline - loop.time()) > 0:
                async with asyncio.timeout(min(self._quiet_s, left)):
                    data = await loop.sock_recv(sock, 65536)
                if not data:
                    return "eof"
        except TimeoutError:  # before OSError, of which it is one: quiet, so still open
            return None
        except ConnectionError:  # reset (or aborted) by the server
            return "reset"
        except OSError as exc:
            log.warning("stalled client: reading at the end failed, counted as open: %r", exc)
            return None
        return None  # still sending at the deadline: the server never gave up on it
