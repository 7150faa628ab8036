"""The rules endpoints: the set in force, its change log, and uploads by engineers.

The web server follows the ``rules`` topic like every worker does
(:mod:`streams.worker.rulesource`); the topic is the change log. An upload is
validated exactly as a worker would (:func:`alerts.rules.change.make_change`), in a
child process under a time and memory budget (:mod:`web.rule_check`) so that checking
never holds the event loop, and published to the topic — rejected uploads too, so the
log shows every attempt — and workers swap to an accepted set within seconds.

* ``GET /api/rules`` — the set in force (version, rules, author, files);
* ``GET /api/rules/changes[?limit=N]`` — changes, newest first, without file texts;

both without who made a change and where (author, comment, diff, problems) unless the
caller is an engineer (:mod:`web.rule_view`);
* ``POST /api/rules`` (role ``engineer``) — ``{"files": {"name.yaml": "<YAML>"},
  "comment": "…"}`` replaces the whole rule set: 202 with the new version, or 422
  with every problem as ``file:line:column: message``, or 422 with ``"budget": "time"``
  (or ``"memory"``) when the check went over its budget; 503 when too many checks wait.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from typing import Any

import orjson
from aiohttp import web
from aiokafka import AIOKafkaProducer
from prometheus_client import Counter

from alerts.rules.change import RuleChange, RuleChangeError, fit_record
from citybrain.config.settings import Settings
from citybrain.config.topics import RULES
from citybrain.topic_log import follow_log
from web.guard import ApiError, check, json_body
from web.params import integer
from web.rule_check import Busy, CheckBudget, CheckFailed, CheckRequest, OverBudget, RuleChecker
from web.rule_view import change_view

log = logging.getLogger(__name__)

UPLOADS = Counter("citybrain_rule_uploads_total", "Rule sets uploaded through the API", ["status"])
BAD_CHANGES = Counter("citybrain_web_bad_rule_changes_total", "Unusable rules-topic records")
CHECKS_REFUSED = Counter(
    "citybrain_rule_checks_refused_total",
    "Rule uploads whose check did not finish: over its time or memory budget, too many "
    "waiting (busy), or the check process failed",
    ["reason"],
)

#: Changes kept in memory for the API (the topic holds them all).
MAX_CHANGES = 1000


class RuleLog:
    """The web server's view of the rules topic."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.topic = settings.kafka.topic(RULES)
        self.changes: deque[RuleChange] = deque(maxlen=MAX_CHANGES)
        self.current: RuleChange | None = None  # newest accepted change
        self._producer: AIOKafkaProducer | None = None
        budget = CheckBudget(settings.rules.check_time_s, settings.rules.check_memory_mib)
        self.checker = RuleChecker(budget)

    def receive(self, value: bytes | None, offset: int, _live: bool = True) -> None:
        try:
            change = RuleChange.from_record(value)
        except RuleChangeError as exc:
            BAD_CHANGES.inc()
            log.error("rules topic offset %s: unusable record: %s", offset, exc)
            return
        self.changes.append(change)
        if change.accepted:
            self.current = change

    async def run(self) -> None:
        """Follow the topic for ever (cancel to stop)."""
        await follow_log(self.settings, self.topic, self.receive)

    async def start(self) -> None:
        self._producer = AIOKafkaProducer(bootstrap_servers=self.settings.kafka.bootstrap_servers())
        await self._producer.start()

    async def stop(self) -> None:
        if self._producer is not None:
            await self._producer.stop()

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/api/rules", self.get_rules)
        app.router.add_get("/api/rules/changes", self.get_changes)
        app.router.add_post("/api/rules", self.post_rules)

    # -- handlers ------------------------------------------------------------------------------
    async def get_rules(self, request: web.Request) -> web.Response:
        who = check(request, "viewer")
        if self.current is None:
            raise ApiError(404, "no rule set on the rules topic yet: is a worker running?")
        data = _summary(self.current) | {"files": dict(self.current.files)}
        return web.json_response(change_view(data, who), dumps=_dumps)

    async def get_changes(self, request: web.Request) -> web.Response:
        who = check(request, "viewer")
        limit = integer(request.query.get("limit", "100"), 1, MAX_CHANGES)
        if limit is None:
            raise ApiError(400, f"limit must be a whole number from 1 to {MAX_CHANGES}")
        newest = list(self.changes)[::-1][:limit]
        changes = [change_view(_summary(c), who) for c in newest]
        return web.json_response({"changes": changes}, dumps=_dumps)

    async def post_rules(self, request: web.Request) -> web.Response:
        who = check(request, "engineer")
        body = await json_body(request)
        if not isinstance(body, dict) or not isinstance(body.get("files"), dict):
            raise ApiError(400, 'body must be {"files": {"name.yaml": "<YAML text>"}, ...}')
        files, comment = body["files"], body.get("comment", "")
        if not all(isinstance(v, str) for v in files.values()) or not isinstance(comment, str):
            raise ApiError(400, "file contents and the comment must be text")
        upload = CheckRequest(
            files=files,
            previous=self.current,
            source="api",
            author=who.name,
            at_ms=int(time.time() * 1000),
            comment=comment[:500],
        )
        try:
            checked = await self.checker.check(upload)
        except RuleChangeError as exc:  # file names, size
            raise ApiError(400, str(exc)) from None
        except OverBudget as exc:
            CHECKS_REFUSED.labels(exc.budget).inc()
            change = await self._publish(_over_budget(upload, exc.message))
            UPLOADS.labels(change.status).inc()
            log.warning("rule upload by %s: %s", who.name, exc.message)
            refused: dict[str, Any] = {
                "error": f"{exc.message}; the rule set in force is unchanged",
                "budget": exc.budget,
                "problems": list(change.problems),
            }
            return web.json_response(refused, status=422, dumps=_dumps)
        except Busy as exc:
            CHECKS_REFUSED.labels("busy").inc()
            raise ApiError(503, str(exc), {"Retry-After": "60"}) from None
        except CheckFailed as exc:
            CHECKS_REFUSED.labels("failed").inc()
            log.error("rule upload by %s not checked: %s", who.name, exc)
            message = "the rule check failed (logged); the rule set in force is unchanged"
            raise ApiError(500, message) from None
        change = await self._publish(checked)
        UPLOADS.labels(change.status).inc()
        log.info("rule upload by %s: %s %s", who.name, change.status, change.version or "")
        if not change.accepted:
            # The caller gets every problem, also those the log had no room for.
            problems = checked.problems if not checked.accepted else change.problems
            data = {
                "error": f"{len(problems)} problem(s); the rule set in force is unchanged",
                "problems": list(problems),
            }
            return web.json_response(data, status=422, dumps=_dumps)
        return web.json_response(_summary(change), status=202, dumps=_dumps)

    async def _publish(self, change: RuleChange) -> RuleChange:
        """Log ``change`` on the rules topic as it fits a record (:func:`fit_record`: an
        accepted set too large to log becomes a rejected change); the change logged."""
        if self._producer is None:
            raise ApiError(503, "not connected to Kafka yet")
        logged = fit_record(change)
        await self._producer.send_and_wait(self.topic, logged.to_record())
        return logged


def _over_budget(request: CheckRequest, message: str) -> RuleChange:
    """The rejected change logged for an upload whose check went over budget (no diff: that
    is part of the work the budget cut short)."""
    return RuleChange(
        version="",
        files=request.files,
        source=request.source,
        author=request.author,
        at_ms=request.at_ms,
        status="rejected",
        previous=request.previous.version if request.previous else None,
        problems=(message,),
        comment=request.comment,
    )


def _summary(change: RuleChange) -> dict[str, Any]:
    data = change.to_dict()
    data.pop("files")
    return data


def _dumps(data: Any) -> str:
    return orjson.dumps(data).decode()
