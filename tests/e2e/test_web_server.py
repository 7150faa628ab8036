"""The web server over real HTTP and websockets, on the real stack's broker and redis-server:
bearer tokens and roles, the generated engineer token of the embedded stack, the JSON error
shape, and the websocket protocol (pings, refusals, size limit, one broadcast for all)."""

from __future__ import annotations

import asyncio
import io
import stat
import time
import urllib.error
import urllib.request
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import aiohttp
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.typing import Subprotocol

from citybrain.config.settings import Settings
from citybrain.stack import EmbeddedStack
from geo.cells import cell_of
from tests.e2e.kit import reply
from web.server import WebServer

pytestmark = [pytest.mark.e2e]

TOKENS = {
    role: f"{role}-e2e-token-0123456789abcdef"
    for role in ("viewer", "dispatcher", "liaison", "engineer", "admin")
}


def token_only(live: Settings, suffix: str) -> Settings:
    """``live`` for an in-process server where nothing is open without a token: one
    token per role from TOKENS, named ``<role>-<suffix>``; the liaison's desk is 12345."""
    return live.with_overrides(
        web={"port": 0},
        auth={
            "anonymous_role": "none",
            "tokens": [
                {
                    "name": f"{role}-{suffix}",
                    "role": role,
                    "token": token,
                    "desks": ["12345"] if role == "liaison" else [],
                }
                for role, token in TOKENS.items()
            ],
        },
    )


def call(url: str, token: str | None = None) -> tuple[int, dict[str, str], bytes]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as err:
        with err:
            return err.code, dict(err.headers), err.read()


def test_embedded_stack_hands_out_a_token_per_role(stack: EmbeddedStack) -> None:
    path = stack.run_dir / "engineer.token"
    assert stack.token_file == path
    base = stack.url()
    expected = {
        "engineer": ("engineer", []),
        "dispatcher": ("dispatcher", []),
        "liaison-110": ("liaison", ["110"]),
        "liaison-12345": ("liaison", ["12345"]),
    }
    assert sorted(stack.token_files) == sorted(expected)
    for name, (role, desks) in expected.items():
        file = stack.token_files[name]
        assert file == stack.run_dir / f"{name}.token"
        assert stat.S_IMODE(file.stat().st_mode) == 0o600
        status, _, body = call(base + "api/whoami", file.read_text().strip())
        assert status == 200
        assert orjson.loads(body) == {"name": name, "role": role, "desks": desks}
    token = path.read_text().strip()
    status, _, body = call(base + "api/whoami")  # reading stays public by default
    assert status == 200
    assert orjson.loads(body) == {"name": "anonymous", "role": "viewer", "desks": []}
    status, headers, body = call(base + "api/cells", token[:-1])
    assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
    assert orjson.loads(body) == {"error": "unknown token"}
    assert token not in (stack.run_dir / "logs" / "web.log").read_text()


def task_stacks() -> str:
    """The stacks of every task of the running loop, for a test that overran."""
    out = io.StringIO()
    for task in asyncio.all_tasks():
        task.print_stack(limit=10, file=out)
    return out.getvalue()


@asynccontextmanager
async def bounded(seconds: float, what: str) -> AsyncIterator[None]:
    """Fail with the pending tasks' stacks if the body takes longer than ``seconds``: a hang
    fails fast and says where it waits, instead of running into pytest's timeout."""
    stacks: list[str] = []
    dump = asyncio.get_running_loop().call_later(seconds, lambda: stacks.append(task_stacks()))
    try:
        async with asyncio.timeout(seconds) as deadline:
            yield
    except TimeoutError:
        if not deadline.expired():
            raise
        pytest.fail(f"{what} did not finish within {seconds} s; tasks then:\n{''.join(stacks)}")
    finally:
        dump.cancel()


@asynccontextmanager
async def running_server(settings: Settings) -> AsyncIterator[WebServer]:
    """A second, in-process web server on the stack's broker and redis, started.

    It keeps its snapshot under its own Redis keys: it replays the topics from the start
    and is stopped part-way, which must not leave the stack's snapshot rewound."""
    name = f"web-e2e-{time.monotonic_ns()}"
    server = WebServer(settings.with_overrides(redis={"key_prefix": f"{name}:"}), instance=name)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@asynccontextmanager
async def web_server(settings: Settings) -> AsyncIterator[str]:
    """:func:`running_server`, yielding its base URL."""
    async with running_server(settings) as server:
        yield f"http://127.0.0.1:{server.port}"


@pytest.mark.asyncio
async def test_roles_and_tokens_on_a_real_server(stack: EmbeddedStack) -> None:
    settings = token_only(stack.live, "desk")
    async with (
        bounded(60, "the in-process web server's test (start, requests, stop)"),
        web_server(settings) as base,
        aiohttp.ClientSession() as http,
    ):

        async def get(path: str, token: str | None = None) -> tuple[int, Any, Any]:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with http.get(base + path, headers=headers) as r:
                body = await r.json() if r.content_type == "application/json" else await r.read()
                return r.status, r.headers, body

        for role, token in TOKENS.items():
            status, _, body = await get("/api/whoami", token)
            desks = ["12345"] if role == "liaison" else []
            assert status == 200
            assert body == {"name": f"{role}-desk", "role": role, "desks": desks}
        status, headers, body = await get("/api/whoami")
        assert status == 401 and headers["WWW-Authenticate"] == 'Bearer realm="citybrain"'
        assert body == {"error": "authentication required"}
        status, _, body = await get("/api/cells")
        assert status == 401 and body == {
            "error": "authentication required: this needs role 'viewer'"
        }
        for path in ("/api/cells", "/api/alerts", "/api/zones", "/api/config", "/metrics"):
            assert (await get(path, TOKENS["viewer"]))[0] == 200, path
        for path in ("/healthz", "/", "/app.js"):  # health and the page itself stay open
            assert (await get(path))[0] == 200, path
        status, headers, body = await get("/healthz", "not-a-token-anyone-holds")
        assert status == 401 and 'error="invalid_token"' in headers["WWW-Authenticate"]
        async with http.get(
            base + "/api/alerts", headers={"Authorization": "Basic dXNlcjpwYXNz"}
        ) as r:
            assert r.status == 401
            assert await r.json() == {"error": "expected 'Authorization: Bearer <token>'"}

        ws_url = base.replace("http", "ws") + "/ws"
        with pytest.raises(InvalidStatus, match="401"):
            async with connect(ws_url):
                pass
        auth = {"Authorization": f"Bearer {TOKENS['liaison']}"}
        async with connect(ws_url, additional_headers=auth) as ws:
            assert orjson.loads(await ws.recv())["type"] == "snapshot"
        # a browser cannot set Authorization on a websocket: it offers the token as a
        # subprotocol, and the server selects "citybrain"
        offered = [Subprotocol("citybrain"), Subprotocol(f"citybrain.bearer.{TOKENS['viewer']}")]
        async with connect(ws_url, subprotocols=offered) as ws:
            assert ws.subprotocol == "citybrain"
            assert orjson.loads(await ws.recv())["type"] == "snapshot"
        wrong = [Subprotocol("citybrain"), Subprotocol("citybrain.bearer.not-a-known-token-1234")]
        with pytest.raises(InvalidStatus, match="401"):
            async with connect(ws_url, subprotocols=wrong):
                pass

        metrics = (await get("/metrics", TOKENS["admin"]))[2].decode()
        assert 'citybrain_http_auth_rejected_total{status="401"}' in metrics
        assert all(t not in metrics for t in TOKENS.values())


@pytest.mark.asyncio
async def test_http_errors_keep_their_shape(stack: EmbeddedStack) -> None:
    base = stack.url().rstrip("/")
    async with aiohttp.ClientSession() as http:
        for method, path, status, error in (
            ("GET", "/api/nope", 404, "no such endpoint: /api/nope"),
            ("GET", "/nope.js", 404, "no such file: /nope.js"),
            ("GET", "/api/cells?res=x", 400, "res must be an integer from 0 to 9, got 'x'"),
            ("POST", "/api/cells", 405, "POST is not allowed on /api/cells"),
        ):
            async with http.request(method, base + path) as r:
                assert r.status == status and r.content_type == "application/json"
                assert await r.json() == {"error": error}
        async with http.get(base + "/ws") as r:
            assert r.status == 426 and await r.text() == "websocket only\n"
        async with http.get(base + "/api/district") as r:
            assert r.content_type == "application/geo+json"
        async with http.get(base + "/") as r:
            assert r.headers["Content-Type"] == "text/html; charset=utf-8"
            assert r.headers["Cache-Control"] == "no-cache"


async def produce_camera(settings: Settings, event: dict[str, Any]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers())
    await producer.start()
    try:
        await producer.send_and_wait(settings.kafka.topic("events.camera"), orjson.dumps(event))
    finally:
        await producer.stop()


@pytest.mark.asyncio
async def test_websocket_protocol_and_one_broadcast_for_all(stack: EmbeddedStack) -> None:
    settings = stack.live
    ws_url = f"ws://127.0.0.1:{settings.web.port}/ws"
    lat, lon = 22.995, 113.075
    cell = cell_of(lat, lon, settings.pipeline.h3_resolution)

    async def first_with_cell(ws: Any) -> str:
        while True:
            raw = await ws.recv()
            msg = orjson.loads(raw)
            if msg["type"] == "cells" and any(
                c["cell"] == cell and c["people"] == 13 for c in msg["cells"]
            ):
                return str(raw)

    async with connect(ws_url) as a, connect(ws_url) as b:
        assert a.response.headers.get("Sec-WebSocket-Extensions") is None  # no compression
        for ws in (a, b):
            snapshot = orjson.loads(await ws.recv())
            assert set(snapshot) == {
                "type",
                "server_time",
                "resolution",
                "cells",
                "alerts",
                "workers",
            }
        await a.send('{"type":"ping"}')
        assert (await reply(a))["type"] == "pong"
        await a.send(b'{"type":"ping"}')  # binary frames are read the same way
        assert (await reply(a))["type"] == "pong"
        await a.send("hello")
        assert await reply(a) == {
            "type": "error",
            "error": 'unsupported message; send {"type":"ping"}',
        }
        now = int(time.time() * 1000)
        event = {"id": f"ws-{now}", "ts": now, "lat": lat, "lon": lon, "people": 13}
        await produce_camera(settings, {**event, "area_m2": 10.0, "camera": "cam-ws-e2e"})
        seen_a, seen_b = await asyncio.wait_for(
            asyncio.gather(first_with_cell(a), first_with_cell(b)), 30
        )
        assert seen_a == seen_b  # the same serialised message for every client
        await a.send("x" * (settings.web.max_message_bytes + 1))
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(a.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        await b.send('{"type":"ping"}')  # the other client is unaffected
        while orjson.loads(await b.recv())["type"] != "pong":
            pass
    _, _, metrics = call(stack.url() + "metrics")
    text = metrics.decode()
    assert "citybrain_ws_bad_messages_total" in text and "citybrain_ws_clients" in text
