"""The web server's defences over real HTTP and websockets: the Origin rule on the stack's own
server, and rate limits and the websocket message limits on an in-process server with small
budgets (on the stack's broker and redis-server)."""

from __future__ import annotations

import aiohttp
import orjson
import pytest
from prometheus_client import REGISTRY
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from citybrain.stack import EmbeddedStack
from tests.e2e.kit import reply
from tests.e2e.test_web_server import bounded, web_server

pytestmark = [pytest.mark.e2e]

FOREIGN = "http://evil.example"
DISPATCHER = "dispatcher-e2e-token-0123456789abcdef"
QUERY = {"center": [113.1164, 23.0259], "radius_m": 300}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.asyncio
async def test_only_the_servers_own_origin_may_open_the_websocket(stack: EmbeddedStack) -> None:
    base = stack.url().rstrip("/")
    own = base  # http://127.0.0.1:<port>, what the map page sends
    ws_url = base.replace("http", "ws") + "/ws"
    with pytest.raises(InvalidStatus) as refused:
        async with connect(ws_url, origin=FOREIGN):
            pass
    assert refused.value.response.status_code == 403
    assert b"cross-site request refused" in refused.value.response.body
    async with connect(ws_url, origin=own) as ws:
        assert orjson.loads(await ws.recv())["type"] == "snapshot"
    async with connect(ws_url) as ws:  # a program: no Origin at all
        assert orjson.loads(await ws.recv())["type"] == "snapshot"

    dispatcher = stack.token_files["dispatcher"].read_text().strip()
    auth = {"Authorization": f"Bearer {dispatcher}"}
    async with aiohttp.ClientSession() as http:
        async with http.post(
            base + "/api/alerts/a-none/ack", json={}, headers={"Origin": FOREIGN, **auth}
        ) as r:  # a page elsewhere riding on a signed-in dispatcher's browser
            assert r.status == 403
            assert (await r.json())["error"].startswith("cross-site request refused")
        async with http.post(
            base + "/api/alerts/a-none/ack", json={}, headers={"Origin": own, **auth}
        ) as r:
            assert r.status == 404  # past the Origin check: there is no such alert
        async with http.get(base + "/metrics") as r:
            text = await r.text()
    assert 'citybrain_http_origin_refused_total{kind="ws"}' in text
    assert 'citybrain_http_origin_refused_total{kind="http"}' in text


@pytest.mark.asyncio
async def test_rate_limits_and_message_limits(stack: EmbeddedStack) -> None:
    settings = stack.live.with_overrides(
        web={
            "port": 0,
            "read_rate_per_s": 0.01,  # a token a 100 s: the test sees whole buckets
            "read_burst": 6,
            "write_rate_per_s": 0.01,
            "write_burst": 2,
            "ws_message_rate_per_s": 0.01,
            "ws_message_burst": 4,
            "max_message_bytes": 1024,
        },
        auth={"tokens": [{"name": "desk-a", "role": "dispatcher", "token": DISPATCHER}]},
    )
    auth = {"Authorization": f"Bearer {DISPATCHER}"}
    async with (
        bounded(60, "the rate-limit test (server start, requests, stop)"),
        web_server(settings) as base,
        aiohttp.ClientSession() as http,
    ):
        writes_refused = sample("citybrain_rate_limited_total", route_class="write")
        statuses = []
        for _ in range(3):
            async with http.post(base + "/api/query", json=QUERY, headers=auth) as r:
                statuses.append(r.status)
                last = r
                body = await r.json()
        assert statuses == [200, 200, 429]
        assert int(last.headers["Retry-After"]) >= 1
        assert body == {
            "error": "rate limit: at most 0.01 write requests per second (bursts of 2) per "
            f"caller; retry after {last.headers['Retry-After']} s"
        }
        assert sample("citybrain_rate_limited_total", route_class="write") == writes_refused + 1

        # reads have their own budget, per caller: the token holder has six
        statuses = []
        for _ in range(7):
            async with http.get(base + "/api/cells", headers=auth) as r:
                statuses.append(r.status)
        assert statuses == [200] * 6 + [429]
        async with http.get(base + "/api/cells") as r:  # the anonymous caller is another
            assert r.status == 200
        async with http.get(base + "/healthz", headers=auth) as r:  # probes are never limited
            assert r.status == 200

        ws_url = base.replace("http", "ws") + "/ws"
        too_big = sample("citybrain_ws_too_big_total")
        async with connect(ws_url) as ws:
            await ws.recv()  # the snapshot
            await ws.send("x" * 1024)  # exactly the limit: read, and refused as unsupported
            assert (await reply(ws))["type"] == "error"
            await ws.send("x" * 1025)
            with pytest.raises(ConnectionClosed) as closed:
                await reply(ws)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
        assert sample("citybrain_ws_too_big_total") == too_big + 1

        flood = sample("citybrain_rate_limited_total", route_class="ws_message")
        async with connect(ws_url) as ws:
            await ws.recv()
            for _ in range(4):
                await ws.send('{"type":"ping"}')
                assert (await reply(ws))["type"] == "pong"
            await ws.send('{"type":"ping"}')
            with pytest.raises(ConnectionClosed) as closed:
                await reply(ws)
        assert closed.value.rcvd is not None
        assert (closed.value.rcvd.code, closed.value.rcvd.reason) == (1008, "too many messages")
        assert sample("citybrain_rate_limited_total", route_class="ws_message") == flood + 1
