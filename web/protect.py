"""aiohttp glue for :mod:`web.origin` and :mod:`web.ratelimit`: cross-site requests and
rate limits.

:func:`setup` installs one middleware, after :func:`web.guard.setup` (it needs the
caller the guard found, and the guard's middleware turns its refusals into the JSON
error shape):

- **Origin.** A ``/ws`` handshake, or a ``POST``/``PUT``/``PATCH``/``DELETE``, that
  carries an ``Origin`` header naming another site is refused with 403 and counted in
  ``citybrain_http_origin_refused_total{kind}`` (``ws``, ``http``).
- **Rate limits**, per caller: a token holder by name, an anonymous caller by remote
  address. Each route class has its own budget: ``write`` (state-changing methods:
  alert actions, ``POST /api/query``, rule uploads) and ``read`` (``GET``/``HEAD`` of
  ``/api/…``, ``/ws`` handshakes, ``/metrics``), and a generous ``static`` for everything
  else (the page's files, and any other path a client tries). ``/healthz`` and
  ``/readyz`` are not limited. A refusal is 429 with ``Retry-After`` (whole seconds),
  counted in ``citybrain_rate_limited_total{route_class}``.

Websocket messages are limited per connection: :func:`message_limiter` gives each
connection its own bucket (route class ``ws_message``).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web
from prometheus_client import Counter

from citybrain.config.access import allowed_set
from citybrain.config.settings import WebSettings
from web import guard
from web.auth import Principal
from web.origin import origin_allowed
from web.ratelimit import Bucket, BucketStore, Budget, full, take

log = logging.getLogger(__name__)

RouteClass = Literal["read", "write", "static"]
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WS_PATH = "/ws"
STATIC_DEFAULT = Budget(rate_per_s=50.0, burst=500)  # web.static_rate_per_s, web.static_burst
PROBES = frozenset({"/healthz", "/readyz"})  # orchestrators poll these: never limited

ORIGIN_REFUSED = Counter(
    "citybrain_http_origin_refused_total",
    "Websocket handshakes (ws) and state-changing requests (http) refused for a foreign Origin",
    ["kind"],
)
RATE_LIMITED = Counter(
    "citybrain_rate_limited_total",
    "Requests (read, write, static) and websocket messages (ws_message) refused by a rate limit",
    ["route_class"],
)


@dataclass(frozen=True, slots=True)
class ProtectConfig:
    """The Origin allow-list (normalised by :func:`web.origin.allowed_set`) and budgets."""

    allowed_origins: frozenset[str]
    read: Budget
    write: Budget
    ws_message: Budget
    static: Budget = STATIC_DEFAULT

    @classmethod
    def from_settings(cls, w: WebSettings) -> ProtectConfig:
        return cls(
            allowed_origins=allowed_set(w.allowed_origins),
            read=Budget(w.read_rate_per_s, w.read_burst),
            write=Budget(w.write_rate_per_s, w.write_burst),
            ws_message=Budget(w.ws_message_rate_per_s, w.ws_message_burst),
            static=Budget(w.static_rate_per_s, w.static_burst),
        )


@dataclass(slots=True)
class _State:
    config: ProtectConfig
    stores: dict[RouteClass, BucketStore] = field(default_factory=dict)


_STATE = web.AppKey("citybrain.protect", _State)


def route_class(method: str, path: str) -> RouteClass | None:
    """The budget a request draws on; None for requests that are not limited."""
    if method.upper() in STATE_CHANGING:
        return "write"
    if path.startswith("/api/") or path in (WS_PATH, "/metrics"):
        return "read"
    if path in PROBES:
        return None
    return "static"


def caller_key(caller: Principal | None, has_token: bool, remote: str | None) -> str:
    """Whose budget a request draws on: a token holder's name, else the remote address."""
    if has_token and caller is not None:
        return f"token:{caller.name}"
    return f"addr:{remote or 'unknown'}"


def setup(app: web.Application, config: ProtectConfig) -> None:
    """Install the Origin and rate-limit middleware; call after :func:`web.guard.setup`."""
    stores: dict[RouteClass, BucketStore] = {
        "read": BucketStore(config.read),
        "write": BucketStore(config.write),
        "static": BucketStore(config.static),
    }
    app[_STATE] = _State(config, stores)
    app.middlewares.append(_protect)


@web.middleware
async def _protect(request: web.Request, handler: guard.Handler) -> web.StreamResponse:
    state = request.app[_STATE]
    method, path = request.method, request.path
    if path == WS_PATH or method in STATE_CHANGING:
        origin = request.headers.get("Origin")
        host = request.headers.get("Host")
        if origin is not None and not origin_allowed(origin, host, state.config.allowed_origins):
            kind = "ws" if path == WS_PATH else "http"
            ORIGIN_REFUSED.labels(kind).inc()
            log.info("refused %s %s from %s: Origin %.100r", method, path, request.remote, origin)
            raise guard.ApiError(
                403,
                f"cross-site request refused: Origin {origin[:100]!r} is not this server's "
                "origin nor in web.allowed_origins",
            )
    cls = route_class(method, path)
    if cls is not None:
        key = caller_key(
            guard.principal(request), "Authorization" in request.headers, request.remote
        )
        decision = state.stores[cls].take(key, time.monotonic())
        if not decision.granted:
            RATE_LIMITED.labels(cls).inc()
            budget = state.stores[cls].budget
            raise guard.ApiError(
                429,
                f"rate limit: at most {budget.rate_per_s:g} {cls} requests per second "
                f"(bursts of {budget.burst}) per caller; retry after "
                f"{decision.retry_after_header} s",
                {"Retry-After": decision.retry_after_header},
            )
    return await handler(request)


class MessageLimiter:
    """One websocket connection's budget for the messages its client sends."""

    def __init__(self, budget: Budget, now_s: float) -> None:
        self.budget = budget
        self._bucket: Bucket = full(budget, now_s)

    def allow(self, now_s: float) -> bool:
        """Take one message at ``now_s`` (monotonic seconds); counts a refusal."""
        self._bucket, decision = take(self._bucket, self.budget, now_s)
        if not decision.granted:
            RATE_LIMITED.labels("ws_message").inc()
        return decision.granted


def message_limiter(app: web.Application) -> MessageLimiter:
    """A fresh budget for one websocket connection of ``app``."""
    return MessageLimiter(app[_STATE].config.ws_message, time.monotonic())
