"""The desks' endpoints: alert queues, one alert, its audit trail, and people's actions.

* ``GET /api/desks`` — the desks and their names;
* ``GET /api/alerts[?desk=D][&state=S,…][&shadow=1]`` — alerts newest first,
  a desk's queue with ``desk``; ``shadow=1`` (engineers): shadow-rule incidents;
* ``GET /api/alerts/{id}`` — one alert;
* ``GET /api/alerts/{id}/audit`` — its trail, oldest first (staff roles);
* ``GET /api/audit[?limit=N][&before=MS]`` — everyone's newest entries (dispatcher);
* ``POST /api/alerts/{id}/ack|assign|resolve`` (dispatcher, or liaison for
  alerts routed to one of their desks) — checked against the alert's state
  here, then published on ``alerts.actions`` for the worker that owns the
  incident to apply (:mod:`alerts.incidents.lifecycle`); 202 with the action, and the
  changed alert follows on the websocket.
"""

from __future__ import annotations

import logging
import time
import uuid
from typing import Annotated, Any

from aiohttp import web
from aiokafka import AIOKafkaProducer
from prometheus_client import Counter
from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError

from alerts.incidents.action_record import NAME_MAX, NOTE_MAX, ActionRecord
from alerts.incidents.lifecycle import ACTION_KINDS, LIFECYCLE_STATES, Lifecycle, refusal
from alerts.rules.vocabulary import DESK_NAMES, DESKS
from citybrain.config.access import Role
from citybrain.config.settings import Settings
from citybrain.config.topics import ALERTS_ACTIONS
from web import routes
from web.audit import AuditStore
from web.auth import Principal, allows, may_handle
from web.guard import ApiError, caller, check, json_body
from web.params import EPOCH_MS_MAX, integer
from web.snapshot import Snapshot

log = logging.getLogger(__name__)

ACTIONS = Counter("citybrain_web_actions_total", "Alert actions requested", ["kind", "status"])

Note = Annotated[str, StringConstraints(strip_whitespace=True, max_length=NOTE_MAX)]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=NAME_MAX)]
STAFF: tuple[Role, ...] = ("dispatcher", "liaison", "engineer")  # may read audit trails
AUDIT_PAGE_MAX = 500


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")
    note: Note | None = None


class _AssignBody(_Body):
    assignee: Name


def _ms() -> int:
    return int(time.time() * 1000)


def _staff(request: web.Request) -> Principal:
    """The caller if they hold a staff role (or admin); 401/403 otherwise."""
    who = caller(request)
    if any(allows(who, role) for role in STAFF):
        return who
    return check(request, "dispatcher")  # raises the right 401/403 with a clear message


class AlertDesk:
    """Lifecycle endpoints of the web server; :meth:`start` before serving, :meth:`stop` after."""

    def __init__(self, settings: Settings, snapshot: Snapshot, audit: AuditStore) -> None:
        self.settings = settings
        self.snapshot = snapshot
        self.audit = audit
        self.topic = settings.kafka.topic(ALERTS_ACTIONS)
        self._producer: AIOKafkaProducer | None = None

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.settings.kafka.bootstrap_servers(), linger_ms=0
        )
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    def routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/api/desks", self.get_desks)
        r.add_get("/api/alerts", self.get_alerts)
        r.add_get("/api/alerts/{id}", self.get_alert)
        r.add_get("/api/alerts/{id}/audit", self.get_trail)
        r.add_get("/api/audit", self.get_audit)
        for kind in ACTION_KINDS:
            r.add_post(f"/api/alerts/{{id}}/{kind}", self._post(kind))

    # -- reading -----------------------------------------------------------------------------
    async def get_desks(self, request: web.Request) -> web.Response:
        check(request, "viewer")
        desks = [{"id": d, "zh": DESK_NAMES[d][0], "en": DESK_NAMES[d][1]} for d in DESKS]
        return routes.json_response({"desks": desks})

    async def get_alerts(self, request: web.Request) -> web.Response:
        check(request, "viewer")
        q = request.query
        shadow = q.get("shadow", "0")
        if shadow not in ("0", "1"):
            raise ApiError(400, "shadow must be 0 or 1")
        if shadow == "1":
            check(request, "engineer")
        desk = q.get("desk")
        if desk is not None and desk not in DESKS:
            raise ApiError(400, f"unknown desk {desk[:20]!r}; desks are {', '.join(DESKS)}")
        states = [s for s in q.get("state", "").split(",") if s]
        bad = [s for s in states if s not in LIFECYCLE_STATES]
        if bad:
            raise ApiError(
                400, f"unknown state {bad[0][:20]!r}; states: {', '.join(LIFECYCLE_STATES)}"
            )
        alerts = await self.snapshot.alerts(shadow=shadow == "1")
        if desk is not None:
            alerts = [a for a in alerts if desk in (a.get("desks") or ())]
        if states:
            alerts = [a for a in alerts if a.get("state") in states]
        return routes.json_response({"alerts": alerts})

    async def _alert(self, request: web.Request) -> dict[str, Any]:
        alert_id = request.match_info["id"]
        alert = await self.snapshot.alert(alert_id)
        if alert is None:
            raise ApiError(404, f"no such alert: {alert_id[:64]}")
        return alert

    async def get_alert(self, request: web.Request) -> web.Response:
        check(request, "viewer")
        return routes.json_response({"alert": await self._alert(request)})

    async def get_trail(self, request: web.Request) -> web.Response:
        _staff(request)
        alert = await self._alert(request)
        return routes.json_response({"audit": await self.audit.trail(alert["id"])})

    async def get_audit(self, request: web.Request) -> web.Response:
        check(request, "dispatcher")
        limit = integer(request.query.get("limit", "100"), 1, AUDIT_PAGE_MAX)
        if limit is None:
            raise ApiError(400, f"limit must be an integer from 1 to {AUDIT_PAGE_MAX}")
        before_raw = request.query.get("before")
        before = integer(before_raw, 0, EPOCH_MS_MAX)
        if before_raw is not None and before is None:
            raise ApiError(400, "before must be epoch ms")
        return routes.json_response({"audit": await self.audit.recent(limit, before)})

    # -- acting ------------------------------------------------------------------------------
    def _post(self, kind: str) -> Any:
        async def handle(request: web.Request) -> web.Response:
            try:
                return await self._act(request, kind)
            except ApiError as exc:
                ACTIONS.labels(kind, str(exc.status)).inc()
                raise

        return handle

    async def _act(self, request: web.Request, kind: str) -> web.Response:
        who = caller(request)
        if not (allows(who, "dispatcher") or allows(who, "liaison")):
            if "Authorization" not in request.headers:
                check(request, "dispatcher")  # 401 with the Bearer challenge: a token may help
            raise ApiError(403, may_handle(who, ()) or "not allowed")
        body = await json_body(request, max_bytes=4096)
        try:
            parsed = (_AssignBody if kind == "assign" else _Body).model_validate(body)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "body"
            raise ApiError(422, f"{where}: {first['msg']}") from None
        alert = await self._alert(request)
        if alert.get("evidence", {}).get("shadow"):
            raise ApiError(409, "shadow incidents are not handled by desks")
        why = may_handle(who, alert.get("desks") or ())
        if why is not None:
            raise ApiError(403, why)
        state = alert.get("state")
        if state not in LIFECYCLE_STATES:
            raise ApiError(409, f"alert state {str(state)[:20]!r} cannot be acted on")
        current = Lifecycle(state=state, acked_by=alert.get("acked_by"))
        reason = refusal(current, kind)  # type: ignore[arg-type]
        if reason is not None:
            raise ApiError(409, reason)
        anchor = (alert.get("evidence") or {}).get("anchor") or alert["cell"]
        record = ActionRecord(
            id=uuid.uuid4().hex,
            alert=alert["id"],
            anchor=anchor,
            kind=kind,
            by=who.name,
            role=who.role,
            at=_ms(),
            note=parsed.note or None,
            assignee=getattr(parsed, "assignee", None),
        )
        assert self._producer is not None, "AlertDesk.start() was not awaited"
        await self._producer.send_and_wait(self.topic, record.to_bytes(), key=alert["id"].encode())
        ACTIONS.labels(kind, "202").inc()
        log.info("action %s %s on %s by %s (%s)", record.id, kind, alert["id"], who.name, who.role)
        return routes.json_response({"action": record.model_dump()}, status=202)
