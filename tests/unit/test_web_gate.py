"""The gate before authentication (web/protect.py) on a small aiohttp application served
over real HTTP: Host checks (421), the caller behind a trusted proxy, and failed sign-ins
locking an address out (429)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import WSServerHandshakeError, web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY

from citybrain.config.access import networks
from web import guard, protect
from web.auth import TokenTable
from web.ratelimit import Budget
from web.signin_limit import SigninPolicy

ALICE = "alice-token-0123456789ab"
TABLE = TokenTable([("alice", "dispatcher", ALICE)])
CONFIG = protect.ProtectConfig(
    allowed_origins=frozenset(),
    read=Budget(rate_per_s=0.01, burst=3),  # slow refill: the test sees whole buckets
    write=Budget(rate_per_s=0.01, burst=2),
    ws_message=Budget(rate_per_s=0.01, burst=3),
    hosts=frozenset({"localhost", "map.example.cn"}),
    trusted_proxies=networks(["127.0.0.1"]),  # the test client stands for the proxy
    signin=SigninPolicy(max_failures=3, window_s=60.0, lockout_s=300.0),
)

Client = TestClient[web.Request, web.Application]


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def build_app() -> web.Application:
    app = web.Application()
    guard.setup(app, TABLE, "viewer", max_body_bytes=1024)
    protect.setup(app, CONFIG)

    async def whoami(request: web.Request) -> web.Response:
        caller = guard.caller(request)
        return web.json_response({"name": caller.name, "remote": request.remote})

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        await ws.close()
        return ws

    app.router.add_get("/api/whoami", whoami)
    app.router.add_get("/ws", websocket)
    app.router.add_get("/index.html", whoami)  # stands for the page's files
    return app


@pytest_asyncio.fixture
async def client() -> AsyncIterator[Client]:
    async with TestClient(TestServer(build_app())) as c:
        yield c


def from_caller(address: str, **headers: str) -> dict[str, str]:
    return {"X-Forwarded-For": address, **headers}


@pytest.mark.asyncio
async def test_a_foreign_host_is_refused_before_anything_else(client: Client) -> None:
    before = counter("citybrain_http_host_refused_total")
    for path in ("/api/whoami", "/index.html"):
        r = await client.get(path, headers={"Host": "evil.example:8080"})
        assert r.status == 421
        assert await r.json() == {
            "error": "Host 'evil.example:8080' is not a name of this server "
            "(web.allowed_hosts, web.allowed_origins)"
        }
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect("/ws", headers={"Host": "evil.example"})
    assert refused.value.status == 421
    assert counter("citybrain_http_host_refused_total") == before + 3
    for host in ("map.example.cn:8080", "localhost", f"127.0.0.1:{client.server.port}"):
        assert (await client.get("/index.html", headers={"Host": host})).status == 200, host


@pytest.mark.asyncio
async def test_the_caller_behind_a_trusted_proxy(client: Client) -> None:
    r = await client.get("/index.html", headers=from_caller("9.9.9.9, 203.0.113.9"))
    assert (await r.json())["remote"] == "203.0.113.9"
    # read budgets are per caller, not per proxy: three each
    for address in ("203.0.113.1", "203.0.113.2"):
        statuses = []
        for _ in range(4):
            r = await client.get("/api/whoami", headers=from_caller(address))
            statuses.append(r.status)
        assert statuses == [200, 200, 200, 429], address


@pytest.mark.asyncio
async def test_failed_sign_ins_lock_the_address_out(client: Client) -> None:
    failures = counter("citybrain_http_signin_failures_total")
    locked = counter("citybrain_rate_limited_total", route_class="signin")
    guesser = from_caller("198.51.100.7")
    statuses = []
    for i in range(5):
        bad = {"Authorization": f"Bearer guess-{i:020d}"}
        statuses.append((await client.get("/index.html", headers=guesser | bad)).status)
    assert statuses == [401, 401, 401, 401, 429]
    assert counter("citybrain_http_signin_failures_total") == failures + 4
    # locked out: even a valid token from that address, and over the websocket too
    r = await client.get("/index.html", headers=guesser | {"Authorization": f"Bearer {ALICE}"})
    assert r.status == 429
    assert 295 <= int(r.headers["Retry-After"]) <= 300
    assert (await r.json())["error"].startswith(
        "too many failed sign-ins from this address: at most 3 in 60 s; retry after "
    )
    with pytest.raises(WSServerHandshakeError) as refused:
        await client.ws_connect(
            "/ws", headers=guesser, protocols=("citybrain", f"citybrain.bearer.{ALICE}")
        )
    assert refused.value.status == 429
    assert counter("citybrain_rate_limited_total", route_class="signin") == locked + 3
    # without a token it is the anonymous viewer as before; other addresses sign in
    assert (await client.get("/index.html", headers=guesser)).status == 200
    r = await client.get(
        "/api/whoami", headers=from_caller("198.51.100.8", Authorization=f"Bearer {ALICE}")
    )
    assert r.status == 200 and (await r.json())["name"] == "alice"
