"""Who is calling, over real HTTP and websockets: the Host check and the rule change log on
the stack's own web server; failed sign-ins, the caller behind a trusted proxy and a
replica's share of the budgets on an in-process server (on the stack's broker and
redis-server), where an address locked out stays inside the test."""

from __future__ import annotations

import logging

import aiohttp
import pytest

from citybrain.stack import EmbeddedStack
from tests.e2e.kit import http, wait_for
from tests.e2e.test_web_server import bounded, web_server

pytestmark = [pytest.mark.e2e]

DISPATCHER = "dispatcher-e2e-token-0123456789abcdef"
REBINDING = "evil.example"  # a page that made its own name resolve to the server


@pytest.mark.asyncio
async def test_a_host_that_is_not_the_servers_is_refused(stack: EmbeddedStack) -> None:
    base = stack.url().rstrip("/")
    port = stack.live.web.port
    async with aiohttp.ClientSession() as session:
        async with session.get(base + "/metrics") as r:
            before = refused_count(await r.text())
        for path in ("/api/cells", "/", "/healthz"):
            async with session.get(base + path, headers={"Host": f"{REBINDING}:{port}"}) as r:
                assert r.status == 421, path
                assert (await r.json())["error"].startswith(f"Host '{REBINDING}:{port}' is not")
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(base + "/ws", headers={"Host": REBINDING})
        assert refused.value.status == 421
        for host in (f"127.0.0.1:{port}", f"localhost:{port}"):  # how the map is opened
            async with session.get(base + "/api/cells", headers={"Host": host}) as r:
                assert r.status == 200, host
        async with session.ws_connect(base + "/ws") as ws:
            assert (await ws.receive_json())["type"] == "snapshot"
        async with session.get(base + "/metrics") as r:
            assert refused_count(await r.text()) == before + 4  # the shared stack's count


def refused_count(metrics: str) -> float:
    """``citybrain_http_host_refused_total`` in a /metrics text (0 before the first)."""
    for line in metrics.splitlines():
        if line.startswith("citybrain_http_host_refused_total "):
            return float(line.split()[1])
    return 0.0


def test_the_rule_change_log_names_people_and_hosts_to_engineers_only(
    stack: EmbeddedStack,
) -> None:
    base = stack.url() + "api/rules"
    engineer = stack.token_files["engineer"].read_text().strip()
    dispatcher = stack.token_files["dispatcher"].read_text().strip()
    wait_for(lambda: http("GET", base + "/changes")[1].get("changes"), 30, "rule changes")
    full = http("GET", base + "/changes", engineer)[1]["changes"]
    reload = next(c for c in full if c["source"] == "file")  # the worker read the rule files
    assert "@" in reload["author"] and "(pid " in reload["comment"]  # the on-call engineer's
    assert http("GET", base, engineer)[1]["author"] == full[0]["author"]
    public = {"version", "status", "source", "at_ms", "previous", "rules"}
    for token in (None, dispatcher):  # the anonymous viewer, a dispatcher
        status, body = http("GET", base + "/changes", token)
        assert status == 200
        assert [set(c) for c in body["changes"]] == [public] * len(full)
        assert [c["version"] for c in body["changes"]] == [c["version"] for c in full]
        status, current = http("GET", base, token)
        assert status == 200 and set(current) == public | {"files"}
        assert reload["author"] not in str(body) + str(current)


@pytest.mark.asyncio
async def test_failed_sign_ins_forwarded_callers_and_a_replicas_share(
    stack: EmbeddedStack, caplog: pytest.LogCaptureFixture
) -> None:
    settings = stack.live.with_overrides(
        web={
            "port": 0,
            "trusted_proxies": ["127.0.0.1"],  # the test stands for the proxy in front
            "replicas": 2,  # this server enforces half of each budget
            "signin_max_failures": 6,
            "read_burst": 6,
            "read_rate_per_s": 0.01,  # a token a 100 s: the test sees whole buckets
        },
        auth={"tokens": [{"name": "desk-a", "role": "dispatcher", "token": DISPATCHER}]},
    )

    def caller(address: str, token: str | None = None) -> dict[str, str]:
        auth = {"Authorization": f"Bearer {token}"} if token else {}
        return {"X-Forwarded-For": f"6.6.6.6, {address}", **auth}  # the left one is forged

    caplog.set_level(logging.INFO, logger="web.protect")
    async with (
        bounded(60, "the callers test (server start, requests, stop)"),
        web_server(settings) as base,
        aiohttp.ClientSession() as http_session,
    ):

        async def status(path: str, headers: dict[str, str]) -> int:
            async with http_session.get(base + path, headers=headers) as r:
                return r.status

        guesser = "198.51.100.7"
        guesses = [
            await status("/api/whoami", caller(guesser, f"guess-{i:030d}")) for i in range(5)
        ]
        assert guesses == [401, 401, 401, 401, 429]  # 3 failures tolerated here (6 / 2)
        async with http_session.get(base + "/api/whoami", headers=caller(guesser, DISPATCHER)) as r:
            assert r.status == 429 and int(r.headers["Retry-After"]) >= 295
        assert await status("/api/whoami", caller("198.51.100.8", DISPATCHER)) == 200
        assert f"sign-ins from {guesser} refused for 300 s" in caplog.text

        # reads by caller, not by proxy; each caller's burst is this replica's 3 of 6
        for address in ("203.0.113.1", "203.0.113.2"):
            reads = [await status("/api/cells", caller(address)) for _ in range(4)]
            assert reads == [200, 200, 200, 429], address
        async with http_session.get(base + "/metrics") as r:
            text = await r.text()
        assert "citybrain_http_signin_failures_total" in text
        assert 'citybrain_rate_limited_total{route_class="signin"}' in text
