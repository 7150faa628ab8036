"""What probing the running web server found, over real HTTP and websockets: no token in
the server process's log nor in its answers (the stack's own server and its log file),
and a bounded fuzz pass over every route of the application (an in-process server on the
stack's broker and redis-server) that finds no 500 and no error that is not JSON."""

from __future__ import annotations

import asyncio
import http.client
import re
import time
from pathlib import Path
from urllib.parse import quote

import orjson
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from citybrain.stack import EmbeddedStack
from tests.e2e.test_web_server import bounded, running_server
from tests.raw_http import get

pytestmark = [pytest.mark.e2e]

WEB = Path(__file__).resolve().parents[2] / "web"
ADMIN = "admin-fuzz-token-0123456789abcdef"


def raw(port: int, request: bytes) -> bytes:
    """Send ``request`` as is and read the whole answer (the request asks the server to
    close, and the server closes after an error of its own)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.connect()
    assert conn.sock is not None
    conn.sock.sendall(request)
    chunks = []
    while chunk := conn.sock.recv(65536):
        chunks.append(chunk)
    conn.close()
    return b"".join(chunks)


def new_log(path: Path, start: int, expect: str, within_s: float = 10.0) -> str:
    """The log written since offset ``start``, once it holds ``expect`` (the server's
    log lines are written as they happen, not necessarily before its answers arrive)."""
    deadline = time.monotonic() + within_s
    while True:
        with path.open("rb") as f:
            f.seek(start)
            text = f.read().decode("utf-8", "replace")
        if expect in text or time.monotonic() > deadline:
            return text
        time.sleep(0.1)


@pytest.mark.asyncio
async def test_no_token_in_the_servers_log_or_answers(stack: EmbeddedStack) -> None:
    token = stack.token_files["dispatcher"].read_text().strip()
    port = stack.live.web.port
    log = stack.run_dir / "logs" / "web.log"
    start = log.stat().st_size
    answers = [
        raw(port, get(b"/", b"Authorization: Bearer " + token.encode() + b"x" * 9000)),
        raw(port, get(b"/" + token.encode() + b"y" * 9000)),
        raw(
            port,
            get(b"/api/cells?token=" + token.encode(), b"Authorization: Bearer " + token.encode()),
        ),
        raw(port, get(b"/%00")),
        raw(port, get(b"/app.js%00.html?access_token=" + token.encode())),
    ]
    statuses = [int(a.split(b" ", 2)[1]) for a in answers]
    assert statuses == [400, 400, 200, 404, 404]
    for answer in answers[:2] + answers[3:]:
        head, _, body = answer.partition(b"\r\n\r\n")
        assert b"Content-Type: application/json" in head
        assert set(orjson.loads(body)) == {"error"}
    offer = [Subprotocol(f"citybrain.bearer.{token}")]  # the token alone: nothing selected
    async with connect(f"ws://127.0.0.1:{port}/ws", subprotocols=offer) as ws:
        assert ws.subprotocol is None
        assert orjson.loads(await ws.recv())["type"] == "snapshot"
    text = new_log(log, start, '"GET /ws" 101')
    assert '"GET /api/cells" 200' in text and '"GET /ws" 101' in text  # the log was written
    assert "request line or header line too long" in text
    for seen in (text, *(a.decode("latin-1") for a in answers)):
        assert token[:8] not in seen
    assert "Traceback" not in text


def query_names() -> list[str]:
    """Every query parameter name the handlers read (``query.get("…")`` in web/), and
    ``res`` (read from the raw query string)."""
    found = {"res"}
    for source in WEB.glob("*.py"):
        found |= set(re.findall(r"""\bq(?:uery)?\.get\(\s*["']([a-z_]+)["']""", source.read_text()))
    return sorted(found)


def fill(pattern: str, values: list[str | bytes]) -> str:
    """``pattern`` (a route's canonical, ``/api/alerts/{id}/nearby``) with its variables
    replaced by ``values``, percent-encoded (``/`` included; bytes as they are, so a value
    may be invalid UTF-8)."""
    parts = re.split(r"\{[^}]+\}", pattern)
    out = parts[0]
    for value, part in zip(values, parts[1:], strict=True):
        out += quote(value, safe="") + part
    return out


NASTY = ["\x00", "a\x00.html", "..", "/", "\n", "%", "１２", "²", "-1", "1e9", "9" * 40, "x" * 300]
VALUE = st.one_of(
    st.sampled_from(NASTY),
    st.text(max_size=40),
    st.binary(max_size=12),  # sent percent-encoded as is: invalid UTF-8 too
)
PER_ROUTE = 20  # examples per route besides the explicit ones: ~40 routes, ~8 s in all


# The server under test runs in this process and draws on the global `random` (Kafka and
# Redis clients' back-off) while examples are generated in another thread; Hypothesis
# takes that for a strategy using `random` and warns, which would fail the test.
@pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")
@pytest.mark.asyncio
async def test_fuzzing_every_route_finds_no_500_and_no_error_that_is_not_json(
    stack: EmbeddedStack,
) -> None:
    big = {"read_burst": 100_000, "write_burst": 100_000, "static_burst": 100_000}
    live = stack.live.with_overrides(
        web={"port": 0, **big}, auth={"tokens": [{"name": "fuzz", "role": "admin", "token": ADMIN}]}
    )
    async with (
        bounded(90, "the fuzz pass (server start, requests, stop)"),
        running_server(live) as server,
    ):
        routes = sorted(
            {
                (route.method, route.resource.canonical)
                for route in server.app.router.routes()
                if route.resource is not None and route.method != "HEAD"
            }
        )
        assert len(routes) > 30  # every route, the catch-alls included
        names = query_names()
        tried = await asyncio.to_thread(fuzz, server.port, routes, names)
    assert tried == {route: PER_ROUTE + 2 for route in routes}


def fuzz(port: int, routes: list[tuple[str, str]], names: list[str]) -> dict[tuple[str, str], int]:
    """Fuzz each route of ``routes`` with path values and query parameters (some named
    in ``names``); how many requests each route got."""
    tried: dict[tuple[str, str], int] = {}

    @settings(
        max_examples=PER_ROUTE,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],  # a failure is reported as found
        suppress_health_check=list(HealthCheck),
    )
    @given(
        values=st.lists(VALUE, min_size=3, max_size=3),
        query=st.lists(st.tuples(st.sampled_from(names) | st.text(max_size=8), VALUE), max_size=4),
        signed_in=st.booleans(),
    )
    @example(values=["\x00", "\x00", "\x00"], query=[("res", "\x00")], signed_in=True)
    @example(
        values=[b"\xff\xfe", "..", "x" * 300], query=[(n, b"\xff") for n in names], signed_in=False
    )
    def one(
        route: tuple[str, str],
        values: list[str | bytes],
        query: list[tuple[str, str | bytes]],
        signed_in: bool,
    ) -> None:
        method, pattern = route
        path = fill(pattern, values[: pattern.count("{")])
        target = path + "?" + "&".join(f"{quote(k)}={quote(v)}" for k, v in query)
        headers = {"Authorization": f"Bearer {ADMIN}"} if signed_in else {}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        try:  # no body: a write route refuses it (415/400) after reading path and query
            conn.request(method, target, body=b"" if method != "GET" else None, headers=headers)
            r = conn.getresponse()
            content = r.read()
        finally:
            conn.close()
        tried[route] = tried.get(route, 0) + 1
        what = f"{method} {target} -> {r.status} {content[:200]!r}"
        assert r.status < 500, what
        if r.status >= 400 and not (r.status == 426 and pattern == "/ws"):  # documented
            assert r.getheader("Content-Type") == "application/json", what
            assert set(orjson.loads(content)) >= {"error"}, what

    for route in routes:
        one(route)
    return tried
