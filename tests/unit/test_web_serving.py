"""What the web server writes to its log and answers for input it refuses: the access log
(web/access_log.py), aiohttp's own error answers (web/serving.py), the websocket offer
(web/ws_handshake.py) and page-file paths (web/routes.py). The pure functions directly,
and a small application served by :class:`web.serving.AppRunner` over real sockets with
a distinctive token that must never appear in a log record or an answer."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator

import orjson
import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.http_exceptions import BadHttpMessage, BadHttpMethod, InvalidHeader, LineTooLong
from prometheus_client import REGISTRY

from tests.raw_http import get
from web import guard, protect, routes, serving
from web.access_log import logged_target
from web.auth import WS_PROTOCOL, TokenTable
from web.ws_handshake import handshake_request, kept_offer

TOKEN = "Zq8vLeakCanary-7f3d9e1b5a2c4e6f8091"
TABLE = TokenTable([("desk", "dispatcher", TOKEN)])
WS_KEY = b"dGhlIHNhbXBsZSBub25jZQ=="


def test_logged_target_names_the_route_not_what_filled_it() -> None:
    assert logged_target("/api/alerts/{id}/nearby", "/api/alerts/a-1/nearby", 404) == (
        "/api/alerts/{id}/nearby"
    )
    assert logged_target("/api/{tail}", f"/api/{TOKEN}", 404) == "/api/{tail}"
    assert logged_target("/api/cells", "/api/cells", 200) == "/api/cells"
    assert logged_target("/{tail}", "/js/map.js", 200) == "/js/map.js"  # a served file
    assert logged_target("/{tail}", "/js/map.js", 304) == "/js/map.js"
    assert logged_target("/{tail}", f"/{TOKEN}", 404) == "/{tail}"
    assert logged_target("/{tail}", "/app.js", 429) == "/{tail}"
    assert logged_target(None, "/", 400) == "-"


@pytest.mark.parametrize(
    ("status", "exc", "expected"),
    [
        (400, LineTooLong(TOKEN.encode(), 8190), (400, "line_too_long", "too long")),
        (400, BadHttpMethod(TOKEN), (400, "bad_method", "method")),
        (400, InvalidHeader(TOKEN.encode()), (400, "bad_header", "header")),
        (400, BadHttpMessage(TOKEN), (400, "malformed", "malformed HTTP request")),
        (500, ValueError(TOKEN), (500, "internal", "internal server error")),
        (504, None, (504, "timeout", "too long")),
    ],
)
def test_malformed_answers_repeat_no_input(
    status: int, exc: BaseException | None, expected: tuple[int, str, str]
) -> None:
    got_status, reason, message = serving.malformed_answer(status, exc)
    assert (got_status, reason) == expected[:2] and expected[2] in message
    assert TOKEN[:8] not in message


def test_the_handshake_sees_only_the_protocol_the_server_selects() -> None:
    bearer = f"citybrain.bearer.{TOKEN}"
    assert kept_offer([f"citybrain, {bearer}"]) == WS_PROTOCOL
    assert kept_offer([bearer, "citybrain"]) == WS_PROTOCOL  # the header given twice
    assert kept_offer([bearer]) is None
    assert kept_offer(["chat, superchat"]) is None
    assert kept_offer([]) is None


@pytest.mark.parametrize(
    ("path", "relative"),
    [
        ("/", "index.html"),
        ("/app.js", "app.js"),
        ("/vendor/maplibre/maplibre-gl.js", "vendor/maplibre/maplibre-gl.js"),
        ("/%00", None),  # as sent; decoded below
        ("/\x00", None),
        ("/app.js\x00.html", None),
        ("/a\nb", None),
        ("/\udcff", None),  # an undecodable byte
        ("/js/../app.js", None),
        ("/./app.js", None),
        ("//app.js", None),
        ("/js/", None),
        ("/a\\b", None),
        ("/" + "a" * 256, None),
        ("/" + "a/" * 600, None),
        ("/地图.js", "地图.js"),  # printable text is fine (there is no such file)
    ],
)
def test_static_paths_are_canonical_and_printable(path: str, relative: str | None) -> None:
    expected = relative if path != "/%00" else "%00"  # "%00" itself is a harmless name
    assert routes.static_relative(path) == expected


# -- over real sockets -----------------------------------------------------------------------


def build_app() -> web.Application:
    app = web.Application()
    guard.setup(app, TABLE, "viewer", max_body_bytes=1024)
    budget = protect.STATIC_DEFAULT
    protect.setup(app, protect.ProtectConfig(frozenset(), budget, budget, budget))

    async def websocket(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(protocols=(WS_PROTOCOL,), timeout=0.1)
        await ws.prepare(handshake_request(request))
        await ws.close()  # the client has gone: not waited for long
        return ws

    async def page(request: web.Request) -> web.StreamResponse:
        return routes.static_file(request.path)

    async def broken(request: web.Request) -> web.StreamResponse:
        raise RuntimeError("a handler bug")

    app.router.add_get("/ws", websocket)
    app.router.add_get("/api/broken", broken)
    app.router.add_get("/{tail:.*}", page)
    return app


@pytest_asyncio.fixture
async def port() -> AsyncIterator[int]:
    runner = serving.AppRunner(build_app(), shutdown_timeout=1.0)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    try:
        yield int(runner.addresses[0][1])
    finally:
        await runner.cleanup()


async def exchange(
    port: int, request: bytes, head_only: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read the answer (all of it: the server closes; or only its head):
    status, headers, body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    read = reader.readuntil(b"\r\n\r\n") if head_only else reader.read()
    raw = await asyncio.wait_for(read, 10)
    writer.close()
    await writer.wait_closed()
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:])
    return int(lines[0].split()[1]), {k.lower(): v for k, v in headers.items()}, body


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def assert_no_token(caplog: pytest.LogCaptureFixture, *answers: bytes) -> None:
    logged = "\n".join(r.getMessage() + str(r.exc_info or "") for r in caplog.records)
    assert logged, "nothing was logged: the check would pass for nothing"
    for text in (logged, *(a.decode("latin-1") for a in answers)):
        assert TOKEN[:8] not in text


@pytest.mark.asyncio
async def test_a_parser_error_answers_json_and_repeats_no_input(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    before = sample("citybrain_http_malformed_total", reason="line_too_long")
    header = b"Authorization: Bearer " + TOKEN.encode() + b"x" * 9000
    status, headers, body = await exchange(port, get(b"/", header))
    assert (status, headers["content-type"]) == (400, "application/json")
    assert headers["server"] == "citybrain"  # no software versions here either
    assert orjson.loads(body) == {"error": "request line or header line too long"}
    long_path = b"/" + TOKEN.encode() + b"y" * 9000
    status, _, path_body = await exchange(port, get(long_path))
    assert status == 400 and orjson.loads(path_body)["error"].endswith("too long")
    status, _, method_body = await exchange(port, TOKEN.encode() + b"\x01 / HTTP/1.1\r\n\r\n")
    assert status == 400 and orjson.loads(method_body) == {"error": "malformed request method"}
    assert sample("citybrain_http_malformed_total", reason="line_too_long") == before + 2
    assert_no_token(caplog, body, path_body, method_body)
    assert not [r for r in caplog.records if r.exc_info]  # bad input: no traceback


@pytest.mark.asyncio
async def test_the_access_log_writes_no_query_and_no_path_parameter(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    status, _, _ = await exchange(port, get(b"/app.js?token=" + TOKEN.encode()))
    assert status == 200
    status, _, _ = await exchange(port, get(b"/" + TOKEN.encode() + b".js?x=1"))
    assert status == 404  # its answer names the path: the caller's own, to the caller
    access = [r.getMessage() for r in caplog.records if r.name == "aiohttp.access"]
    assert len(access) == 2
    assert access[0].startswith('127.0.0.1 "GET /app.js" 200 ')
    assert access[1].startswith('127.0.0.1 "GET /{tail}" 404 ')
    assert_no_token(caplog)


@pytest.mark.asyncio
async def test_a_websocket_offering_only_its_token_leaves_no_trace_of_it(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    handshake = get(
        b"/ws",
        b"Upgrade: websocket",
        b"Connection: Upgrade",
        b"Sec-WebSocket-Version: 13",
        b"Sec-WebSocket-Key: " + WS_KEY,
        b"Sec-WebSocket-Protocol: citybrain.bearer." + TOKEN.encode(),
    ).replace(b"Connection: close\r\n", b"")
    status, headers, body = await exchange(port, handshake, head_only=True)
    assert status == 101 and "sec-websocket-protocol" not in headers  # none selected
    both = handshake.replace(b"Protocol: ", b"Protocol: citybrain, ")
    status, headers, body2 = await exchange(port, both, head_only=True)
    assert status == 101 and headers["sec-websocket-protocol"] == WS_PROTOCOL
    assert_no_token(caplog, body, body2)


@pytest.mark.asyncio
async def test_bad_page_paths_are_json_404_and_bugs_json_500(
    port: int, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    for target in (b"/%00", b"/app.js%00.html", b"/%FF%FE", b"/js/%2E%2E/app.js", b"/%0A"):
        status, headers, body = await exchange(port, get(target))
        assert (status, headers["content-type"]) == (404, "application/json"), target
        error = orjson.loads(body)["error"]  # the router's own for "\n": "." matches none
        assert error.startswith("no such file") or error == "Not Found", target
    assert not [r for r in caplog.records if r.exc_info]
    status, headers, body = await exchange(port, get(b"/api/broken"))
    assert (status, headers["content-type"]) == (500, "application/json")
    assert orjson.loads(body) == {"error": "internal server error"}
    assert [r.getMessage() for r in caplog.records if r.exc_info] == [
        "uncaught error in a handler of GET /api/broken"
    ]
