"""Every endpoint of the real web server against every role: who is refused (403, or 401
without a token) and who gets through. The endpoints are read from the server's own
router, so an endpoint added without a line in POLICY fails this test. And what an
anonymous viewer (when enabled) is not shown: grid workers, camera stream addresses."""

from __future__ import annotations

import re
from typing import Any

import aiohttp
import orjson
import pytest

from citybrain.config.access import ROLES
from citybrain.stack import EmbeddedStack
from tests.e2e.test_web_server import TOKENS, bounded, running_server, token_only

pytestmark = [pytest.mark.e2e]

EVERYONE = frozenset(ROLES)
STAFF = frozenset({"dispatcher", "liaison", "engineer", "admin"})
OPEN = None  # no token needed at all
# (method, route) → roles that get through; liaison is further limited to its desks' alerts
# and tickets (tests/e2e/test_lifecycle.py, tests/e2e/test_personal_data.py).
POLICY: dict[tuple[str, str], frozenset[str] | None] = {
    ("GET", "/healthz"): OPEN,
    ("GET", "/readyz"): OPEN,
    ("GET", "/api/whoami"): EVERYONE,  # with anonymous_role "none", a token is needed
    ("GET", "/{tail}"): OPEN,  # the page and its files
    ("GET", "/ws"): EVERYONE,
    ("GET", "/metrics"): EVERYONE,
    ("GET", "/api/config"): EVERYONE,
    ("GET", "/api/district"): EVERYONE,
    ("GET", "/api/cells"): EVERYONE,
    ("GET", "/api/zones"): EVERYONE,
    ("GET", "/api/desks"): EVERYONE,
    ("GET", "/api/alerts"): EVERYONE,
    ("GET", "/api/alerts/{id}"): EVERYONE,
    ("GET", "/api/alerts/{id}/nearby"): EVERYONE,
    ("GET", "/api/alerts/{id}/audit"): STAFF,
    ("GET", "/api/audit"): frozenset({"dispatcher", "admin"}),  # every desk's trail
    ("POST", "/api/alerts/{id}/ack"): frozenset({"dispatcher", "liaison", "admin"}),
    ("POST", "/api/alerts/{id}/assign"): frozenset({"dispatcher", "liaison", "admin"}),
    ("POST", "/api/alerts/{id}/resolve"): frozenset({"dispatcher", "liaison", "admin"}),
    ("GET", "/api/rules"): EVERYONE,
    ("GET", "/api/rules/changes"): EVERYONE,
    ("POST", "/api/rules"): frozenset({"engineer", "admin"}),
    ("POST", "/api/query"): EVERYONE,
    ("GET", "/api/layers"): EVERYONE,
    ("GET", "/api/layers/{layer_id}.geojson"): EVERYONE,
    ("GET", "/api/workers"): EVERYONE,  # with a token: anonymous viewers never (test below)
    ("GET", "/api/places"): EVERYONE,
    ("GET", "/api/places/search"): EVERYONE,
    ("GET", "/api/history/index"): EVERYONE,
    ("GET", "/api/history"): EVERYONE,
    ("GET", "/api/cells/{cell}/history"): EVERYONE,
    ("GET", "/api/tickets/{id}"): frozenset({"liaison", "admin"}),
    ("GET", "/api/audit/views"): frozenset({"engineer", "admin"}),
    ("GET", "/api/{tail}"): EVERYONE,  # unknown endpoints: 404 for those who may read
}
BODIES: dict[str, Any] = {
    "/api/query": {"center": [113.12, 23.02], "radius_m": 100},
    "/api/rules": {"rules": []},
}
PARAMS = {"id": "a-no-such-alert", "cell": "89411d78223ffff", "layer_id": "nope", "tail": "x"}


async def handshake(http: aiohttp.ClientSession, url: str, headers: dict[str, str]) -> int:
    """101 when the websocket opens, else the refusal's status."""
    try:
        async with http.ws_connect(url.replace("http", "ws", 1), headers=headers):
            return 101
    except aiohttp.WSServerHandshakeError as exc:
        return exc.status


def concrete(route: str) -> str:
    """A path for ``route`` with its placeholders filled in."""
    return re.sub(r"\{(\w+)(?::[^}]*)?\}", lambda m: PARAMS[m.group(1)], route)


@pytest.mark.asyncio
async def test_every_endpoint_refuses_the_roles_it_must(stack: EmbeddedStack) -> None:
    settings = token_only(stack.live, "matrix")
    async with (
        bounded(120, "the role matrix"),
        running_server(settings) as server,
        aiohttp.ClientSession() as http,
    ):
        base = f"http://127.0.0.1:{server.port}"
        routes = {
            (r.method, r.resource.canonical)
            for r in server.app.router.routes()
            if r.method != "HEAD" and r.resource is not None
        }
        assert routes == set(POLICY), f"routes without a policy line: {routes - set(POLICY)}"

        wrong: list[str] = []
        for (method, route), allowed in sorted(POLICY.items()):
            path = concrete(route)
            for role in (None, *ROLES):
                headers = {"Authorization": f"Bearer {TOKENS[role]}"} if role else {}
                if route == "/ws":
                    status = await handshake(http, base + path, headers)
                else:
                    body = BODIES.get(path, {"note": "matrix"}) if method == "POST" else None
                    async with http.request(method, base + path, headers=headers, json=body) as r:
                        status = r.status
                if allowed is OPEN:
                    expect_refused = False
                elif role is None:
                    expect_refused = True
                else:
                    expect_refused = role not in allowed
                refused = status in (401, 403)
                if refused != expect_refused:
                    who = role or "anonymous"
                    wrong.append(f"{method} {path} as {who}: {status}")
                elif expect_refused and role is None and status != 401:
                    wrong.append(f"{method} {path} as anonymous: {status}, not 401")
        assert not wrong, "\n".join(wrong)


@pytest.mark.asyncio
async def test_anonymous_viewers_see_the_map_but_not_who_or_what_streams(
    stack: EmbeddedStack,
) -> None:
    """With ``anonymous_role = "viewer"``: a caller without a token reads the live picture
    and the incidents, never the grid workers (who and where) nor the cameras' stream
    addresses; a viewer token gets both. (tests/e2e/test_map_api.py checks the same on
    an alert's nearby list and a drawn circle.)"""
    settings = token_only(stack.live, "public").with_overrides(auth={"anonymous_role": "viewer"})
    viewer = {"Authorization": f"Bearer {TOKENS['viewer']}"}
    async with (
        bounded(60, "the anonymous view"),
        running_server(settings) as server,
        aiohttp.ClientSession() as http,
    ):
        base = f"http://127.0.0.1:{server.port}"
        for path in ("/api/cells", "/api/alerts", "/api/zones", "/api/layers"):
            async with http.get(base + path) as r:
                assert r.status == 200, path
        async with http.get(base + "/api/workers") as r:
            assert r.status == 401
        async with http.get(base + "/api/workers", headers=viewer) as r:
            assert r.status == 200
        async with http.get(base + "/api/layers") as r:
            layers = (await r.json())["layers"]
        camera = next(x["id"] for x in layers if x["kind"] == "camera")
        shown = {}
        for who, headers in (("anonymous", {}), ("viewer", viewer)):
            async with http.get(f"{base}/api/layers/{camera}.geojson", headers=headers) as r:
                features = orjson.loads(await r.read())["features"]
            shown[who] = sum("stream_url" in f["properties"] for f in features)
        assert shown["anonymous"] == 0 and shown["viewer"] > 0
        async with http.ws_connect(base.replace("http", "ws", 1) + "/ws") as ws:
            snapshot = orjson.loads((await ws.receive()).data)
        assert snapshot["type"] == "snapshot" and snapshot["workers"] == []
