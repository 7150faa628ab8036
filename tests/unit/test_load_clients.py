"""citybrain.tools.load.clients: reading server messages cheaply and correctly; stalled
clients that complete the handshake, never read, and are found ended once the server
drops them (against a real aiohttp websocket server on loopback)."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import orjson
import pytest
from aiohttp import web

from citybrain.config.settings import Settings
from citybrain.tools.load.clients import (
    NOT_CONNECTED,
    StalledClients,
    Swarm,
    accept_key,
    cell_updates,
    handshake_problem,
    handshake_request,
    peek_head,
    read_head,
    ws_endpoint,
)
from citybrain.tools.load.probes import ProbeBook
from citybrain.tools.load.report import StalledCount
from citybrain.tools.load.run import Targets
from web.fanout import Client, Fanout


def test_peek_head_reads_the_start_the_server_writes() -> None:
    msg = orjson.dumps({"type": "cells", "server_time": 1_765_000_000_123, "cells": []})
    assert peek_head(msg) == ("cells", 1_765_000_000_123)
    assert peek_head(b'{"type":"pong","server_time":5}') == ("pong", 5)
    assert peek_head(b'{"server_time":5,"type":"cells"}') is None  # other key order
    assert peek_head(b'{"type":"cells","server_time":"5"}') is None
    assert peek_head(b"not json") is None
    # only the start is looked at: a long message is not scanned
    assert peek_head(b" " * 100 + b'{"type":"cells","server_time":1}') is None


def test_read_head_falls_back_to_parsing() -> None:
    assert read_head(b'{"type":"cells","server_time":7,"cells":[]}') == ("cells", 7)
    assert read_head(b'{"server_time": 9, "type": "cells"}') == ("cells", 9)
    assert read_head(b'{"type": "error", "error": "x"}') == ("error", None)
    for bad in (b"[1, 2]", b'{"type": 3}', b"{nope"):
        with pytest.raises(ValueError):
            read_head(bad)


def test_cell_updates_lists_cells_and_checks_the_shape() -> None:
    msg = orjson.dumps(
        {
            "type": "cells",
            "server_time": 1,
            "cells": [
                {"cell": "89a", "updated_at": 10, "people": 3},
                {"cell": "89b", "updated_at": 12},
            ],
            "removed": [],
        }
    )
    assert list(cell_updates(msg)) == [("89a", 10), ("89b", 12)]
    for bad in (
        b'{"type":"cells"}',
        b'{"type":"cells","cells":[1]}',
        b'{"type":"cells","cells":[{"cell":"89a"}]}',
        b'{"type":"cells","cells":[{"cell":5,"updated_at":1}]}',
    ):
        with pytest.raises(ValueError):
            list(cell_updates(bad))


def test_ws_endpoint_as_the_swarm_url_is_built() -> None:
    assert ws_endpoint("ws://10.0.0.5:8080/cb/ws") == ("10.0.0.5", 8080, "/cb/ws", "10.0.0.5:8080")
    assert ws_endpoint("ws://map.city.local/ws") == ("map.city.local", 80, "/ws", "map.city.local")
    assert ws_endpoint("ws://[::1]:9000/ws") == ("::1", 9000, "/ws", "[::1]:9000")
    assert ws_endpoint("ws://h:1") == ("h", 1, "/", "h:1")
    for bad in ("wss://h/ws", "http://h/ws", "ws:///ws", "ws://h:99999/ws"):
        with pytest.raises(ValueError):
            ws_endpoint(bad)


def test_handshake_request_and_answer() -> None:
    key = "dGhlIHNhbXBsZSBub25jZQ=="  # the example of RFC 6455, section 1.3
    assert accept_key(key) == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    request = handshake_request("/cb/ws", "h:1", key, {"Authorization": "Bearer t"})
    assert request.startswith(b"GET /cb/ws HTTP/1.1\r\nHost: h:1\r\n")
    assert b"\r\nSec-WebSocket-Key: " + key.encode() + b"\r\n" in request
    assert request.endswith(b"\r\nAuthorization: Bearer t\r\n\r\n")
    with pytest.raises(ValueError, match="line break"):
        handshake_request("/ws", "h", key, {"Authorization": "Bearer t\r\nX-Evil: 1"})

    ok = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
    assert (
        handshake_problem(ok + b"sec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n", key)
        is None
    )
    assert handshake_problem(ok + b"Sec-WebSocket-Accept: wrong\r\n\r\n", key) is not None
    assert handshake_problem(b"HTTP/1.1 401 Unauthorized\r\n\r\n", key) == "HTTP 401"
    assert (handshake_problem(b"SSH-2.0-x\r\n\r\n", key) or "").startswith("not an HTTP")


TOKEN = {"Authorization": "Bearer load-test"}


@dataclass
class Server:
    """A websocket server on loopback at ``url`` that serves the way the web server does
    (web.fanout: a bounded queue and a send timeout per client; one that does not keep
    up is dropped) and refuses callers without :data:`TOKEN`; ``served`` are its
    clients, in the order their handshakes completed."""

    url: str
    served: list[Client] = field(default_factory=list)


@contextlib.asynccontextmanager
async def ws_server(
    *, send_timeout_s: float, broadcast: Callable[[], str] | None
) -> AsyncIterator[Server]:
    """The server; ``broadcast`` (if given) makes a message for every client every 20 ms."""
    fanout = Fanout(queue_max=1000, send_timeout_s=send_timeout_s)
    server = Server(url="")

    async def handler(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != TOKEN["Authorization"]:
            return web.Response(status=401)
        ws = web.WebSocketResponse(compress=False)
        await ws.prepare(request)
        transport = request.transport
        client = fanout.add(
            ws, peer=str(request.remote), abort=transport.abort if transport else lambda: None
        )
        server.served.append(client)
        client.start('{"type":"snapshot","server_time":1,"cells":[]}')
        try:
            async for _ in ws:
                pass
        finally:
            await fanout.remove(client)
        return ws

    async def broadcaster(make: Callable[[], str]) -> None:
        while True:
            fanout.broadcast(make())
            await asyncio.sleep(0.02)

    app = web.Application()
    app.router.add_get("/cb/ws", handler)
    runner = web.AppRunner(app, shutdown_timeout=5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    sending = asyncio.create_task(broadcaster(broadcast)) if broadcast is not None else None
    try:
        host, port = runner.addresses[0][:2]
        server.url = Targets(Settings(), f"http://{host}:{port}/cb/", None, {}).ws_url
        yield server
    finally:
        if sending is not None:
            sending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sending
        await runner.cleanup()


async def until(check: Callable[[], bool], what: str, within_s: float = 30.0) -> None:
    """Wait for ``check`` (a bound for a hung test, not a figure under test)."""
    deadline = time.monotonic() + within_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"no {what} within {within_s} s")
        await asyncio.sleep(0.05)


def cells_message() -> str:
    """A ``cells`` message of about 64 KiB, as the server writes its messages."""
    now = int(time.time() * 1000)
    return f'{{"type":"cells","server_time":{now},"cells":[],"pad":"{"x" * 65536}"}}'


@pytest.mark.asyncio
async def test_a_stalled_client_is_dropped_by_the_server_and_a_reader_keeps_up() -> None:
    async with ws_server(send_timeout_s=1.0, broadcast=cells_message) as server:
        t0 = time.time()
        swarm = Swarm(server.url, 1, ramp_s=0.0, t0=t0, probes=ProbeBook(), headers=TOKEN)
        stalled = StalledClients(server.url, 1, t0=t0, headers=TOKEN)
        swarm.start()
        stalled.start(after=swarm.first_connected)
        try:
            await until(lambda: stalled.connected == 1, "handshake of the stalled client")
            await until(lambda: len(server.served) == 2, "both clients served")
            await until(lambda: any(c.dropped for c in server.served), "a client dropped")
            read_then = swarm.tallies[0].cells_messages
            await until(lambda: swarm.tallies[0].cells_messages > read_then + 10, "reading on")
            # one client dropped, and not the reader: the server never ended its connection
            assert sum(1 for c in server.served if c.dropped) == 1
            assert swarm.tallies[0].connections == 1 and swarm.tallies[0].closes == {}
        finally:
            outcomes = await stalled.close()
            await swarm.close()
    (outcome,) = outcomes
    assert outcome.connect_error is None and outcome.connected_at_s is not None
    assert outcome.ended in ("eof", "reset")


@pytest.mark.asyncio
async def test_a_stalled_client_not_dropped_is_open_and_a_refused_one_says_why() -> None:
    async with ws_server(send_timeout_s=10.0, broadcast=None) as server:
        t0 = time.time()
        stalled = StalledClients(server.url, 2, t0=t0, headers=TOKEN, quiet_s=0.2, drain_max_s=1)
        refused = StalledClients(server.url, 1, t0=t0)  # without the token
        stalled.start()
        refused.start()
        try:
            await until(lambda: stalled.connected == 2, "both stalled clients connected")
            await until(lambda: refused.settled == 1, "the refusal")
        finally:
            open_ones = await stalled.close()
            (refusal,) = await refused.close()
    assert [(o.connect_error, o.ended) for o in open_ones] == [(None, None)] * 2
    assert len(server.served) == 2 and all(c.dropped is None for c in server.served)
    assert refusal.connect_error == "HTTP 401" and refusal.connected_at_s is None
    assert refusal.ended is None


@pytest.mark.asyncio
async def test_a_stalled_client_still_waiting_at_the_end_is_reported_not_connected() -> None:
    async with ws_server(send_timeout_s=10.0, broadcast=None) as server:
        never = asyncio.Event()  # as if no reading client ever connected
        stalled = StalledClients(server.url, 1, t0=time.time(), headers=TOKEN)
        stalled.start(after=never)
        (outcome,) = await stalled.close()
    assert outcome == StalledCount(NOT_CONNECTED, None, None)
