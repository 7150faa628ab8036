"""Unmasked hotline ticket text on the web side: where it is kept, who may read it, and the
record of every reading (docs/operations.md, "Personal data").

Everything else the web server holds or sends carries ticket text masked
(:mod:`streams.pipeline.privacy`). The unmasked text arrives on ``hotline.private``
(``{"id", "channel", "ts", "text"}``, one record per ticket) and is kept:

* ``<prefix>ticket:<id>`` — the record as JSON, expiring ``privacy.ticket_text_s``
  after the ticket's time (records already that old are not stored).

``GET /api/tickets/{id}[?alert=A]`` answers it to admins, and to liaison staff whose
desks include the ticket's channel (:func:`web.auth.may_read_ticket`); every answer
leaves one entry in the view audit first:

* ``<prefix>ticket_views`` — sorted set of view entries (JSON) scored by time, ms;
  entries older than ``privacy.view_audit_s`` are dropped whenever one is added.

``GET /api/audit/views[?limit=N][&before=MS]`` lists them, newest first (engineer, admin).
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Annotated, Any, Literal

import orjson
from aiohttp import web
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError
from redis.asyncio import Redis

from web import routes
from web.auth import Principal, may_read_ticket
from web.guard import ApiError, caller, check
from web.params import EPOCH_MS_MAX, integer

log = logging.getLogger(__name__)

VIEWS = Counter(
    "citybrain_ticket_text_views_total", "Unmasked ticket texts answered (each audited)", ["role"]
)
REFUSED = Counter(
    "citybrain_ticket_text_refused_total",
    "Requests for unmasked ticket text refused",
    ["status"],  # 400, 401, 403, 404
)
VIEWS_PAGE_MAX = 500
TEXT_MAX = 4000  # the decoder's limit on a ticket's text, characters
ID_MAX = 128


class _PrivateText(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: Annotated[StrictStr, Field(min_length=1, max_length=ID_MAX)]
    channel: Literal["110", "12345"]
    ts: Annotated[StrictInt, Field(ge=0)]
    text: Annotated[StrictStr, Field(max_length=TEXT_MAX)]


def validate_private_text(body: object) -> dict[str, Any]:
    """A ``hotline.private`` record value checked and reduced to its fields.

    ValueError naming the bad fields; the message never repeats the text.
    """
    if not isinstance(body, dict):
        raise ValueError("hotline.private record must be an object")
    try:
        return _PrivateText.model_validate(body).model_dump()
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        raise ValueError(
            "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors)
        ) from None


class TicketTexts:
    """Unmasked ticket texts in Redis, each expiring ``keep_ms`` after its ticket's time."""

    def __init__(self, redis: Redis, prefix: str, keep_ms: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.keep_ms = keep_ms

    def _key(self, ticket: str) -> str:
        return f"{self.prefix}ticket:{ticket}"

    async def put(self, record: dict[str, Any], now_ms: int) -> bool:
        """Store a validated record until its ticket's time + ``keep_ms``; False (nothing
        stored) when that has passed already."""
        until = record["ts"] + self.keep_ms
        if until <= now_ms:
            return False
        await self.redis.set(self._key(record["id"]), orjson.dumps(record), pxat=until)
        return True

    async def get(self, ticket: str) -> dict[str, Any] | None:
        raw = await self.redis.get(self._key(ticket))
        return orjson.loads(raw) if raw is not None else None

    async def clear(self) -> None:
        keys = [k async for k in self.redis.scan_iter(match=f"{self.prefix}ticket:*")]
        if keys:
            await self.redis.delete(*keys)


class ViewAudit:
    """Who read which ticket's unmasked text, when: a Redis sorted set scored by time (ms),
    kept ``keep_ms``."""

    def __init__(self, redis: Redis, prefix: str, keep_ms: int) -> None:
        self.redis = redis
        self.key = f"{prefix}ticket_views"
        self.keep_ms = keep_ms

    async def add(self, entry: dict[str, Any]) -> None:
        """Record ``entry`` (with ``id`` and ``at``, ms) and drop entries older than kept."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.zadd(self.key, {orjson.dumps(entry): entry["at"]})
        pipe.zremrangebyscore(self.key, "-inf", f"({entry['at'] - self.keep_ms}")
        await pipe.execute()

    async def recent(self, limit: int, before: int | None = None) -> list[dict[str, Any]]:
        """The newest entries (at most ``limit``), newest first; ``before``: epoch ms."""
        top = f"({before}" if before is not None else "+inf"
        raw = await self.redis.zrevrangebyscore(self.key, top, "-inf", start=0, num=limit)
        return [orjson.loads(r) for r in raw if isinstance(r, bytes | str)]  # members: JSON

    async def clear(self) -> None:
        await self.redis.delete(self.key)


def view_entry(
    who: Principal, record: dict[str, Any], alert: str | None, at_ms: int
) -> dict[str, Any]:
    """The view-audit entry of ``who`` reading ``record``'s text at ``at_ms``."""
    return {
        "id": uuid.uuid4().hex,
        "at": at_ms,
        "by": who.name,
        "role": who.role,
        "ticket": record["id"],
        "channel": record["channel"],
        "alert": alert,
    }


def _ms() -> int:
    return int(time.time() * 1000)


def _alert_param(request: web.Request) -> str | None:
    alert = request.query.get("alert")
    if alert is None:
        return None
    if not 1 <= len(alert) <= ID_MAX or not alert.isprintable():
        raise ApiError(400, f"alert must be an alert id of 1 to {ID_MAX} printable characters")
    return alert


def add_routes(app: web.Application, texts: TicketTexts, views: ViewAudit) -> None:
    """``GET /api/tickets/{id}`` (admin, liaison of the ticket's channel) and
    ``GET /api/audit/views`` (engineer, admin)."""

    async def read(request: web.Request) -> web.Response:
        who = caller(request)
        if may_read_ticket(who, None) is not None:
            if "Authorization" not in request.headers:
                check(request, "liaison")  # 401 with the Bearer challenge: a token may help
            raise ApiError(403, may_read_ticket(who, None) or "not allowed")
        ticket_id = request.match_info["id"]
        alert = _alert_param(request)
        record = await texts.get(ticket_id)
        if record is None:
            raise ApiError(404, f"no unmasked text held for ticket {ticket_id[:ID_MAX]}")
        why = may_read_ticket(who, record["channel"])
        if why is not None:
            raise ApiError(403, why)
        await views.add(view_entry(who, record, alert, _ms()))  # no answer without its entry
        VIEWS.labels(who.role).inc()
        log.info("ticket %s text read by %s (%s)", record["id"], who.name, who.role)
        # personal data: never kept by a browser or proxy cache
        body = orjson.dumps({"ticket": record})
        return routes.response(200, body, "application/json", cache="no-store")

    async def get_ticket(request: web.Request) -> web.Response:
        try:
            return await read(request)
        except ApiError as exc:
            REFUSED.labels(str(exc.status)).inc()
            raise

    async def get_views(request: web.Request) -> web.Response:
        check(request, "engineer")
        limit = integer(request.query.get("limit", "100"), 1, VIEWS_PAGE_MAX)
        if limit is None:
            raise ApiError(400, f"limit must be an integer from 1 to {VIEWS_PAGE_MAX}")
        before_raw = request.query.get("before")
        before = integer(before_raw, 0, EPOCH_MS_MAX)
        if before_raw is not None and before is None:
            raise ApiError(400, "before must be epoch ms")
        return routes.json_response({"views": await views.recent(limit, before)})

    app.router.add_get("/api/tickets/{id}", get_ticket)
    app.router.add_get("/api/audit/views", get_views)
