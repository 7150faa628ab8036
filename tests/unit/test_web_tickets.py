"""Unmasked ticket text on the web side (web/tickets.py) in a real redis-server: who may read
it (web.auth.may_read_ticket), expiry, the view audit, the API's answers and counters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from web import guard
from web.auth import Principal, TokenTable, may_read_ticket
from web.tickets import TicketTexts, ViewAudit, add_routes, validate_private_text

TOKENS = {
    "admin": ("ops", "admin", ()),
    "desk-12345": ("desk-12345", "liaison", ("12345",)),
    "desk-110": ("desk-110", "liaison", ("110",)),
    "dispatcher": ("wang", "dispatcher", ()),
    "engineer": ("li.wei", "engineer", ()),
}
SECRET = {name: f"{name}-token-0123456789abcdef" for name in TOKENS}
TEXT = "楼上装修太吵，联系我13812345678，身份证44060419900101123X"
DAY_MS = 86_400_000


# -- who may read ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("who", "channel", "allowed"),
    [
        (Principal("ops", "admin"), "110", True),
        (Principal("ops", "admin"), "12345", True),
        (Principal("a", "liaison", ("12345",)), "12345", True),
        (Principal("a", "liaison", ("12345",)), "110", False),
        (Principal("b", "liaison", ("110", "12345")), "110", True),
        (Principal("a", "liaison", ("12345",)), None, True),  # might read some ticket
        (Principal("c", "liaison", ("chengguan",)), None, False),  # never a hotline channel
        (Principal("w", "dispatcher"), "12345", False),
        (Principal("w", "dispatcher"), None, False),
        (Principal("e", "engineer"), "110", False),
        (Principal("anonymous", "viewer"), "110", False),
    ],
)
def test_only_admins_and_liaisons_of_the_channel_read_unmasked_text(
    who: Principal, channel: str | None, allowed: bool
) -> None:
    why = may_read_ticket(who, channel)
    assert (why is None) == allowed
    if why is not None:
        assert who.name in why


def test_private_records_are_checked_without_repeating_their_text() -> None:
    good = {"id": "t-1", "channel": "12345", "ts": 5, "text": TEXT, "extra": 1}
    assert validate_private_text(good) == {"id": "t-1", "channel": "12345", "ts": 5, "text": TEXT}
    for bad, reason in [
        ([], "must be an object"),
        ({**good, "channel": "911"}, "channel"),
        ({**good, "ts": "5"}, "ts"),
        ({**good, "text": TEXT * 100}, "text"),
        ({**good, "id": ""}, "id"),
    ]:
        with pytest.raises(ValueError, match=reason) as err:
            validate_private_text(bad)
        assert "13812345678" not in str(err.value)


# -- the stores and the API ----------------------------------------------------------------------
@pytest_asyncio.fixture
async def stores(redis_url: str) -> AsyncIterator[tuple[TicketTexts, ViewAudit]]:
    redis = Redis.from_url(redis_url)
    prefix = f"test-{time.monotonic_ns()}:"
    texts, views = TicketTexts(redis, prefix, 7 * DAY_MS), ViewAudit(redis, prefix, 30 * DAY_MS)
    try:
        yield texts, views
    finally:
        await texts.clear()
        await views.clear()
        await redis.aclose()


Client = TestClient[web.Request, web.Application]


@pytest_asyncio.fixture
async def client(stores: tuple[TicketTexts, ViewAudit]) -> AsyncIterator[Client]:
    app = web.Application()
    table = TokenTable(
        ((name, role, SECRET[key]) for key, (name, role, _) in TOKENS.items()),
        desks={name: desks for name, _, desks in TOKENS.values()},
    )
    guard.setup(app, table, "viewer", 1 << 20)
    add_routes(app, *stores)
    async with TestClient(TestServer(app)) as c:
        yield c


def _as(who: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {SECRET[who]}"} if who else {}


def _count(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


@pytest.mark.asyncio
async def test_texts_expire_a_retention_after_their_ticket(
    stores: tuple[TicketTexts, ViewAudit],
) -> None:
    texts, _ = stores
    now = int(time.time() * 1000)
    fresh = {"id": "t-1", "channel": "12345", "ts": now, "text": TEXT}
    assert await texts.put(fresh, now)
    assert await texts.get("t-1") == fresh
    ttl_ms = await texts.redis.pttl(f"{texts.prefix}ticket:t-1")
    assert 7 * DAY_MS - 60_000 < ttl_ms <= 7 * DAY_MS
    old = {**fresh, "id": "t-old", "ts": now - 7 * DAY_MS - 1}
    assert not await texts.put(old, now) and await texts.get("t-old") is None
    soon = {**fresh, "id": "t-soon", "ts": now - 7 * DAY_MS + 300}  # 0.3 s left
    assert await texts.put(soon, now)
    await asyncio.sleep(0.6)
    assert await texts.get("t-soon") is None


@pytest.mark.asyncio
async def test_liaison_of_the_channel_reads_the_text_and_is_recorded(
    stores: tuple[TicketTexts, ViewAudit], client: Client
) -> None:
    texts, _ = stores
    now = int(time.time() * 1000)
    await texts.put({"id": "t-1", "channel": "12345", "ts": now, "text": TEXT}, now)
    views_before = _count("citybrain_ticket_text_views_total", role="liaison")
    refused = {s: _count("citybrain_ticket_text_refused_total", status=s) for s in ("401", "403")}

    r = await client.get("/api/tickets/t-1?alert=a-1", headers=_as("desk-12345"))
    assert r.status == 200 and r.headers["Cache-Control"] == "no-store"
    assert (await r.json())["ticket"] == {"id": "t-1", "channel": "12345", "ts": now, "text": TEXT}
    r = await client.get("/api/tickets/t-1", headers=_as("admin"))
    assert r.status == 200

    r = await client.get("/api/tickets/t-1")
    assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    for who, reason in [
        ("desk-110", "ticket came in on 12345; desk-110's desks: 110"),
        ("dispatcher", "wang has role 'dispatcher'"),
        ("engineer", "li.wei has role 'engineer'"),
    ]:
        r = await client.get("/api/tickets/t-1", headers=_as(who))
        assert r.status == 403 and (await r.json())["error"].startswith(reason)
        assert TEXT not in await r.text()
    r = await client.get("/api/tickets/t-2", headers=_as("desk-12345"))
    assert r.status == 404
    r = await client.get("/api/tickets/t-2", headers=_as("dispatcher"))  # existence not told
    assert r.status == 403
    r = await client.get("/api/tickets/t-1?alert=", headers=_as("desk-12345"))
    assert r.status == 400

    assert _count("citybrain_ticket_text_views_total", role="liaison") == views_before + 1
    assert _count("citybrain_ticket_text_refused_total", status="403") == refused["403"] + 4
    assert _count("citybrain_ticket_text_refused_total", status="401") == refused["401"] + 1

    # the view audit: engineers and admins read it, newest first; refusals left no entry
    r = await client.get("/api/audit/views?limit=10", headers=_as("engineer"))
    views = (await r.json())["views"]
    assert [(v["by"], v["role"], v["ticket"], v["channel"], v["alert"]) for v in views] == [
        ("ops", "admin", "t-1", "12345", None),
        ("desk-12345", "liaison", "t-1", "12345", "a-1"),
    ]
    assert all(now <= v["at"] <= now + 60_000 and len(v["id"]) == 32 for v in views)
    assert all(TEXT not in str(v) for v in views)
    r = await client.get(f"/api/audit/views?limit=1&before={views[0]['at']}", headers=_as("admin"))
    assert r.status == 200
    assert len((await r.json())["views"]) <= 1
    for who, status in [(None, 401), ("dispatcher", 403), ("desk-12345", 403)]:
        assert (await client.get("/api/audit/views", headers=_as(who))).status == status
    for query in ("limit=0", "limit=501", "limit=x", "before=yesterday"):
        r = await client.get(f"/api/audit/views?{query}", headers=_as("engineer"))
        assert r.status == 400


@pytest.mark.asyncio
async def test_view_audit_entries_are_kept_for_their_retention(
    stores: tuple[TicketTexts, ViewAudit],
) -> None:
    _, views = stores
    now = int(time.time() * 1000)
    for i, age_days in enumerate((40, 31, 29, 0)):
        await views.add({"id": f"v{i}", "at": now - age_days * DAY_MS, "by": "x"})
    assert [v["id"] for v in await views.recent(10)] == ["v3", "v2"]  # 30 days kept
