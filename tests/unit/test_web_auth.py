"""Bearer tokens and roles (web/auth.py), their settings, and the aiohttp guard (web/guard.py)
on a small application built here: 401/403, bounded JSON bodies, the JSON error shape."""

from __future__ import annotations

import re
import stat
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY
from pydantic import ValidationError

from citybrain.config.access import ROLES, Role
from citybrain.config.settings import Settings, TokenSettings, load_settings
from citybrain.stack import settings_env, write_secret
from web import guard
from web.auth import (
    Principal,
    TokenTable,
    allows,
    authenticate,
    bearer_token,
    may_handle,
    protocol_token,
)

ENGINEER = "engineer-token-0123456789"
LIAISON = "liaison-token-0123456789"
ADMIN = "admin-token-0123456789ab"
TABLE = TokenTable(
    [("li.wei", "engineer", ENGINEER), ("desk-12345", "liaison", LIAISON), ("ops", "admin", ADMIN)]
)


# -- roles -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("role", "allowed"),
    [
        ("viewer", {"viewer"}),
        ("dispatcher", {"dispatcher", "viewer"}),
        ("liaison", {"liaison", "viewer"}),
        ("engineer", {"engineer", "viewer"}),
        ("admin", set(ROLES)),
    ],
)
def test_what_each_role_allows(role: Role, allowed: set[str]) -> None:
    who = Principal("someone", role)
    assert {needed for needed in ROLES if allows(who, needed)} == allowed


def test_nobody_is_allowed_nothing() -> None:
    assert not any(allows(None, needed) for needed in ROLES)


# -- tokens ----------------------------------------------------------------------------------
def test_lookup_finds_the_holder_and_nothing_else() -> None:
    assert TABLE.lookup(ENGINEER) == Principal("li.wei", "engineer")
    assert TABLE.lookup(ADMIN) == Principal("ops", "admin")
    assert TABLE.lookup(ENGINEER[:-1]) is None
    assert TABLE.lookup(ENGINEER + "x") is None
    assert TABLE.lookup("") is None
    assert TokenTable([]).lookup(ENGINEER) is None


def test_the_table_keeps_digests_not_tokens() -> None:
    assert ENGINEER not in repr(vars(TABLE))


def test_a_token_given_twice_is_refused_naming_the_holder_only() -> None:
    with pytest.raises(ValueError, match="'b'") as err:
        TokenTable([("a", "viewer", ENGINEER), ("b", "admin", ENGINEER)])
    assert ENGINEER not in str(err.value)


@pytest.mark.parametrize(
    ("header", "token"),
    [
        (None, None),
        (f"Bearer {ENGINEER}", ENGINEER),
        (f"bearer  {ENGINEER} ", ENGINEER),
    ],
)
def test_bearer_header(header: str | None, token: str | None) -> None:
    assert bearer_token(header) == token


@pytest.mark.parametrize("header", ["", "Bearer", "Bearer ", f"Basic {ENGINEER}", "Bearer a b"])
def test_malformed_header_is_refused_without_echoing_it(header: str) -> None:
    with pytest.raises(ValueError, match="expected 'Authorization: Bearer <token>'") as err:
        bearer_token(header)
    assert ENGINEER not in str(err.value)


def test_authenticate() -> None:
    assert authenticate(TABLE, None, "viewer") == Principal("anonymous", "viewer")
    assert authenticate(TABLE, None, None) is None
    assert authenticate(TABLE, f"Bearer {LIAISON}", None) == Principal("desk-12345", "liaison")
    with pytest.raises(ValueError, match="unknown token"):
        authenticate(TABLE, "Bearer not-a-known-token-at-all", "viewer")  # never downgraded


# -- settings --------------------------------------------------------------------------------
def test_tokens_from_env_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "CITYBRAIN_AUTH__TOKENS", f'[{{"name":"li.wei","role":"engineer","token":"{ENGINEER}"}}]'
    )
    monkeypatch.setenv("CITYBRAIN_AUTH__ANONYMOUS_ROLE", "none")
    s = load_settings()
    (entry,) = s.auth.tokens
    assert (entry.name, entry.role, entry.token.get_secret_value()) == (
        "li.wei",
        "engineer",
        ENGINEER,
    )
    assert s.auth.anonymous_role == "none"
    assert ENGINEER not in repr(s) and ENGINEER not in str(s.model_dump(mode="json"))


def test_tokens_from_toml(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    config = tmp_path / "citybrain.toml"
    config.write_text(
        f'[[auth.tokens]]\nname = "desk-110"\nrole = "liaison"\ntoken = "{LIAISON}"\n'
        'desks = ["110"]\n'
    )
    monkeypatch.setenv("CITYBRAIN_CONFIG", str(config))
    token = load_settings().auth.tokens[0]
    assert token.role == "liaison" and token.desks == ["110"]


@pytest.mark.parametrize(
    ("desks", "problem"),
    [([], "liaison 'desk' needs desks"), (["police"], "unknown desk(s) ['police']")],
)
def test_liaison_tokens_name_known_desks(desks: list[str], problem: str) -> None:
    with pytest.raises(ValueError, match=re.escape(problem)):
        TokenSettings(name="desk", role="liaison", token=LIAISON, desks=desks)


def test_who_may_handle_an_alert() -> None:
    liaison = Principal("李", "liaison", ("12345",))
    assert may_handle(liaison, ("110", "12345")) is None
    assert may_handle(liaison, ("110",)) == "alert is routed to 110; 李's desks: 12345"
    assert may_handle(Principal("王", "dispatcher"), ("fire",)) is None
    assert may_handle(Principal("admin", "admin"), ()) is None
    assert "needs dispatcher or liaison" in (may_handle(Principal("e", "engineer"), ("110",)) or "")


def test_default_keeps_reading_public() -> None:
    assert Settings().auth.anonymous_role == "viewer" and Settings().auth.tokens == []


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"name": "a", "role": "viewer", "token": "short-secret"}, "at least 16 characters"),
        ({"name": "a", "role": "root", "token": ENGINEER}, "auth.tokens.0.role"),
        ({"name": "", "role": "viewer", "token": ENGINEER}, "auth.tokens.0.name"),
    ],
)
def test_bad_token_settings_name_the_field_and_hide_the_token(
    entry: dict[str, str], message: str
) -> None:
    with pytest.raises(ValidationError) as err:
        Settings().with_overrides(auth={"tokens": [entry]})
    assert message in str(err.value)
    assert entry["token"] not in str(err.value)


def test_repeated_token_in_settings_is_refused() -> None:
    twice = [{"name": n, "role": "viewer", "token": ENGINEER} for n in ("a", "b")]
    with pytest.raises(ValidationError, match="also given to another name") as err:
        Settings().with_overrides(auth={"tokens": twice})
    assert ENGINEER not in str(err.value)


def test_children_receive_the_tokens(monkeypatch: pytest.MonkeyPatch) -> None:
    s = Settings().with_overrides(
        auth={"tokens": [{"name": "li.wei", "role": "engineer", "token": ENGINEER}]}
    )
    for key, value in settings_env(s).items():
        monkeypatch.setenv(key, value)
    assert load_settings() == s
    assert load_settings().auth.tokens[0].token.get_secret_value() == ENGINEER


def test_write_secret_is_private_and_replaces_an_old_file(tmp_path: Path) -> None:
    path = tmp_path / "engineer.token"
    path.write_text("old")
    path.chmod(0o644)
    write_secret(path, ENGINEER)
    assert path.read_text() == ENGINEER + "\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


# -- the guard on a small aiohttp application ------------------------------------------------
def counter(name: str, label: str, value: str) -> float:
    return REGISTRY.get_sample_value(name, {label: value}) or 0.0


def build_app(anonymous: Role | None) -> web.Application:
    app = web.Application()
    guard.setup(app, TABLE, anonymous, max_body_bytes=64)

    @guard.requires("engineer")
    async def upload(request: web.Request) -> web.Response:
        body = await guard.json_body(request)
        who = guard.check(request, "engineer")
        return web.json_response({"got": body, "by": who.name})

    @guard.requires("viewer")
    async def read(request: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def whoami(request: web.Request) -> web.Response:
        who = guard.caller(request)
        return web.json_response({"name": who.name, "role": who.role})

    app.router.add_post("/rules", upload)
    app.router.add_get("/read", read)
    app.router.add_get("/whoami", whoami)
    return app


@pytest_asyncio.fixture
async def client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(build_app("viewer"))) as c:
        yield c


@pytest_asyncio.fixture
async def closed_client() -> AsyncIterator[TestClient[web.Request, web.Application]]:
    async with TestClient(TestServer(build_app(None))) as c:
        yield c


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.asyncio
async def test_role_checks_over_http(client: TestClient[web.Request, web.Application]) -> None:
    before = counter("citybrain_http_auth_rejected_total", "status", "403")
    r = await client.post("/rules", json={"a": 1}, headers=bearer(LIAISON))
    assert r.status == 403
    assert await r.json() == {"error": "desk-12345 has role 'liaison'; this needs role 'engineer'"}
    assert counter("citybrain_http_auth_rejected_total", "status", "403") == before + 1
    r = await client.post("/rules", json={"a": 1})  # anonymous: a token might help
    assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert "needs role 'engineer'" in (await r.json())["error"]
    for token in (ENGINEER, ADMIN):
        r = await client.post("/rules", json={"a": 1}, headers=bearer(token))
        assert r.status == 200, await r.text()
    assert (await r.json()) == {"got": {"a": 1}, "by": "ops"}


@pytest.mark.asyncio
async def test_bad_token_is_refused_everywhere(
    client: TestClient[web.Request, web.Application],
) -> None:
    for method, path in (("GET", "/read"), ("GET", "/whoami"), ("POST", "/rules")):
        r = await client.request(method, path, headers=bearer("a-token-nobody-holds-xyz"))
        assert r.status == 401
        assert r.headers["WWW-Authenticate"] == 'Bearer realm="citybrain", error="invalid_token"'
        assert r.content_type == "application/json"
        assert await r.json() == {"error": "unknown token"}
    r = await client.get("/read", headers={"Authorization": f"Basic {ENGINEER}"})
    assert r.status == 401 and ENGINEER not in await r.text()


@pytest.mark.asyncio
async def test_anonymous_role(
    client: TestClient[web.Request, web.Application],
    closed_client: TestClient[web.Request, web.Application],
) -> None:
    assert (await (await client.get("/whoami")).json()) == {"name": "anonymous", "role": "viewer"}
    assert (await client.get("/read")).status == 200
    r = await closed_client.get("/whoami")
    assert r.status == 401 and r.headers["WWW-Authenticate"] == 'Bearer realm="citybrain"'
    assert (await closed_client.get("/read")).status == 401
    r = await closed_client.get("/whoami", headers=bearer(LIAISON))
    assert await r.json() == {"name": "desk-12345", "role": "liaison"}


@pytest.mark.asyncio
@pytest.mark.parametrize(
    ("body", "headers", "status", "reason", "message"),
    [
        (b'{"a": ', {"Content-Type": "application/json"}, 400, "json", "body is not valid JSON"),
        (b"", {"Content-Type": "application/json"}, 400, "json", "empty body"),
        (b"{}", {"Content-Type": "text/plain"}, 415, "content_type", "must be application/json"),
        (b"{}", {}, 415, "content_type", "must be application/json"),
        (
            b"{}",
            {"Content-Type": "application/json; charset=latin-1"},
            415,
            "content_type",
            "must be UTF-8",
        ),
        (b"[" + b"1," * 40 + b"1]", {"Content-Type": "application/json"}, 413, "size", "64 bytes"),
    ],
)
async def test_json_body_refusals(
    client: TestClient[web.Request, web.Application],
    body: bytes,
    headers: dict[str, str],
    status: int,
    reason: str,
    message: str,
) -> None:
    before = counter("citybrain_http_bad_bodies_total", "reason", reason)
    r = await client.post("/rules", data=body, headers={**headers, **bearer(ENGINEER)})
    assert r.status == status
    assert r.content_type == "application/json"
    assert message in (await r.json())["error"]
    assert counter("citybrain_http_bad_bodies_total", "reason", reason) == before + 1


@pytest.mark.asyncio
async def test_streamed_body_is_cut_off_at_the_limit(
    client: TestClient[web.Request, web.Application],
) -> None:
    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: chunked transfer
        yield b'{"pad": "'
        for _ in range(20):
            yield b"xxxxxxxx"
        yield b'"}'

    r = await client.post(
        "/rules",
        data=chunks(),
        headers={"Content-Type": "application/json", **bearer(ENGINEER)},
    )
    assert r.status == 413 and "larger than 64 bytes" in (await r.json())["error"]


@pytest.mark.asyncio
async def test_a_body_within_the_limit_and_a_json_variant(
    client: TestClient[web.Request, web.Application],
) -> None:
    r = await client.post(
        "/rules",
        data=b'{"rules": []}',
        headers={"Content-Type": "application/merge-patch+json", **bearer(ENGINEER)},
    )
    assert r.status == 200 and (await r.json())["got"] == {"rules": []}


@pytest.mark.asyncio
async def test_aiohttp_errors_take_the_json_shape(
    client: TestClient[web.Request, web.Application],
) -> None:
    r = await client.delete("/rules")
    assert r.status == 405 and r.headers["Allow"] == "POST"
    assert await r.json() == {"error": "DELETE is not allowed on /rules"}
    r = await client.get("/nowhere")
    assert r.status == 404 and await r.json() == {"error": "Not Found"}


def test_guard_without_setup_fails_loudly() -> None:
    from aiohttp.test_utils import make_mocked_request

    with pytest.raises(RuntimeError, match="setup"):
        guard.principal(make_mocked_request("GET", "/"))


@pytest.mark.parametrize(
    ("offered", "token"),
    [
        (None, None),
        ("", None),
        ("citybrain", None),
        ("citybrain, citybrain.bearer.abc_DEF-123", "abc_DEF-123"),
        ("citybrain.bearer.", None),
        ("chat, citybrain.bearer.t0ken", "t0ken"),
    ],
)
def test_a_browser_offers_its_token_as_a_websocket_subprotocol(
    offered: str | None, token: str | None
) -> None:
    assert protocol_token(offered) == token
