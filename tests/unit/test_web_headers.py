"""Security headers on every answer (web/headers.py)."""

from __future__ import annotations

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from web import headers
from web.headers import content_security_policy


def test_the_policy_allows_the_page_itself_and_the_tile_server_only() -> None:
    plain = content_security_policy(None)
    assert "script-src 'self'" in plain and "frame-ancestors 'none'" in plain
    assert "unsafe-eval" not in plain and "http" not in plain
    tiles = content_security_policy("https://tiles.internal:8443/{z}/{x}/{y}.png")
    assert "img-src 'self' data: blob: https://tiles.internal:8443" in tiles
    assert content_security_policy("{z}/{x}/{y}.png") == plain  # a relative template: own host


@pytest.mark.asyncio
async def test_every_answer_carries_them_and_names_no_software() -> None:
    app = web.Application()
    headers.setup(app, None)

    async def hello(request: web.Request) -> web.Response:
        return web.Response(text="hi")

    app.router.add_get("/", hello)
    async with TestClient(TestServer(app)) as client:
        for path in ("/", "/missing"):
            r = await client.get(path)
            assert r.headers["Server"] == "citybrain", path
            assert r.headers["X-Frame-Options"] == "DENY"
            assert r.headers["X-Content-Type-Options"] == "nosniff"
            assert r.headers["Referrer-Policy"] == "no-referrer"
            assert "default-src 'self'" in r.headers["Content-Security-Policy"]
