"""Origin checks and rate limits (web/protect.py) on a small aiohttp application built here,
served over real HTTP: 403 for foreign origins, 429 with Retry-After, budgets per caller."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import WSServerHandshakeError, web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from web import guard, protect
from web.auth import Principal, TokenTable
from web.ratelimit import Budget

ALICE = "alice-token-0123456789ab"
BOB = "bob-token-0123456789abcd"
TABLE = TokenTable([("alice", "dispatcher", ALICE), ("bob", "dispatcher", BOB)])
CONFIG = protect.ProtectConfig(
    allowed_origins=frozenset({"https://ops.example.cn:443"}),
    read=Budget(rate_per_s=0.01, burst=5),  # slow refill: the test sees whole buckets
    write=Budget(rate_per_s=0.01, burst=2),
    ws_message=Budget(rate_per_s=0.01, burst=3),
    static=Budget(rate_per_s=0.01, burst=4),
)


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def build_app() -> web.Application:
    app = web.Application()
    guard.setup(app, TABLE, "viewer", max_body_bytes=1024)
    protect.setup(app, CONFIG)

    async def read(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        limiter = protect.message_limiter(request.app)
        async for message in ws:
            if not limiter.allow(0.0):  # one instant: only the burst goes through
                await ws.close(code=1008, message=b"too many messages")
                break
            await ws.send_str(f"echo {message.data}")
        return ws

    app.router.add_get("/api/read", read)
    app.router.add_post("/api/write", read)
    app.router.add_get("/ws", websocket)
    app.router.add_get("/app.js", read)  # stands for the page's static files
    app.router.add_get("/healthz", read)
    return app


@pytest_asyncio.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(build_app())) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize(
    ("method", "path", "cls"),
    [
        ("GET", "/api/cells", "read"),
        ("HEAD", "/api/alerts", "read"),
        ("GET", "/ws", "read"),
        ("GET", "/metrics", "read"),
        ("POST", "/api/query", "write"),
        ("POST", "/api/alerts/a-1/ack", "write"),
        ("DELETE", "/api/x", "write"),
        ("post", "/anything", "write"),
        ("GET", "/", "static"),
        ("GET", "/js/map.js", "static"),
        ("HEAD", "/%00", "static"),
        ("GET", "/healthz", None),
        ("GET", "/readyz", None),
    ],
)
def test_route_class(method: str, path: str, cls: str | None) -> None:
    assert protect.route_class(method, path) == cls


def test_caller_key() -> None:
    alice = Principal("alice", "dispatcher")
    anonymous = Principal("anonymous", "viewer")
    assert protect.caller_key(alice, True, "10.0.0.1") == "token:alice"
    assert protect.caller_key(anonymous, False, "10.0.0.1") == "addr:10.0.0.1"
    assert protect.caller_key(None, False, None) == "addr:unknown"


@pytest.mark.asyncio
async def test_reads_are_limited_per_caller(
    client: TestClient[web.Request, web.Application],
) -> None:
    before = counter("citybrain_rate_limited_total", route_class="read")
    for _ in range(5):
        assert (await client.get("/api/read", headers=bearer(ALICE))).status == 200
    r = await client.get("/api/read", headers=bearer(ALICE))
    assert r.status == 429
    assert r.content_type == "application/json"
    assert int(r.headers["Retry-After"]) >= 1
    body = await r.json()
    assert set(body) == {"error"}
    assert "at most 0.01 read requests per second (bursts of 5)" in body["error"]
    assert counter("citybrain_rate_limited_total", route_class="read") == before + 1
    # bob, and the anonymous caller (by address), each have their own budget
    assert (await client.get("/api/read", headers=bearer(BOB))).status == 200
    assert (await client.get("/api/read")).status == 200
    # the page's files have a budget of their own
    assert (await client.get("/app.js", headers=bearer(ALICE))).status == 200


@pytest.mark.asyncio
async def test_writes_have_their_own_stricter_budget(
    client: TestClient[web.Request, web.Application],
) -> None:
    before = counter("citybrain_rate_limited_total", route_class="write")
    for _ in range(2):
        assert (await client.post("/api/write", headers=bearer(ALICE))).status == 200
    r = await client.post("/api/write", headers=bearer(ALICE))
    assert r.status == 429 and "Retry-After" in r.headers
    assert counter("citybrain_rate_limited_total", route_class="write") == before + 1
    assert (await client.get("/api/read", headers=bearer(ALICE))).status == 200  # reads go on


@pytest.mark.asyncio
async def test_foreign_origins_may_not_change_state(
    client: TestClient[web.Request, web.Application],
) -> None:
    before = counter("citybrain_http_origin_refused_total", kind="http")
    r = await client.post("/api/write", headers={"Origin": "http://evil.example", **bearer(BOB)})
    assert r.status == 403
    assert await r.json() == {
        "error": "cross-site request refused: Origin 'http://evil.example' is not this "
        "server's origin nor in web.allowed_origins"
    }
    assert counter("citybrain_http_origin_refused_total", kind="http") == before + 1
    own = f"http://{client.server.host}:{client.server.port}"
    for origin in (own, "https://ops.example.cn"):
        r = await client.post("/api/write", headers={"Origin": origin, **bearer(ALICE)})
        assert r.status == 200, origin
    # reads are not state-changing: another site's page may not read them (no CORS), but
    # the request itself is harmless
    r = await client.get("/api/read", headers={"Origin": "http://evil.example"})
    assert r.status == 200


@pytest.mark.asyncio
async def test_websocket_origin_and_message_budget(
    client: TestClient[web.Request, web.Application],
) -> None:
    before = counter("citybrain_http_origin_refused_total", kind="ws")
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect("/ws", headers={"Origin": "http://evil.example"})
    assert refused.value.status == 403
    assert counter("citybrain_http_origin_refused_total", kind="ws") == before + 1

    own = f"http://{client.server.host}:{client.server.port}"
    before = counter("citybrain_rate_limited_total", route_class="ws_message")
    async with client.ws_connect("/ws", headers={"Origin": own}) as ws:
        for i in range(3):
            await ws.send_str(str(i))
            assert await ws.receive_str() == f"echo {i}"
        await ws.send_str("one too many")
        closing = await ws.receive()
    assert ws.close_code == 1008
    assert closing.extra == "too many messages"
    assert counter("citybrain_rate_limited_total", route_class="ws_message") == before + 1
    async with client.ws_connect("/ws") as ws:  # a program without Origin; a fresh budget
        await ws.send_str("x")
        assert await ws.receive_str() == "echo x"


@pytest.mark.asyncio
async def test_page_files_and_unknown_paths_have_a_budget_probes_none(
    client: TestClient[web.Request, web.Application],
) -> None:
    before = counter("citybrain_rate_limited_total", route_class="static")
    statuses = [(await client.get(path)).status for path in ("/app.js", "/x", "/y", "/app.js")]
    assert statuses == [200, 404, 404, 200]  # any path but /api, /ws, /metrics draws on it
    r = await client.get("/app.js")
    assert r.status == 429 and r.content_type == "application/json"
    assert "at most 0.01 static requests per second (bursts of 4)" in (await r.json())["error"]
    assert counter("citybrain_rate_limited_total", route_class="static") == before + 1
    assert (await client.get("/healthz")).status == 200  # probes: never limited
    assert (await client.get("/api/read")).status == 200  # reads: their own budget
