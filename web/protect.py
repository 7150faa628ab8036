"""aiohttp glue for :mod:`web.hosts`, :mod:`web.forwarded`, :mod:`web.signin_limit`,
:mod:`web.origin` and :mod:`web.ratelimit`: who is calling from where, and how much.

:func:`setup`, after :func:`web.guard.setup` (whose error middleware turns every refusal
here into the JSON error shape), installs two middlewares. The first, the gate, runs
before the caller's token is looked at:

- **Host.** A request (the ``/ws`` handshake too) whose ``Host`` is not one of the
  server's names (:mod:`web.hosts`: a DNS-rebinding page) is refused with 421, counted
  in ``citybrain_http_host_refused_total``.
- **Caller address.** From a trusted proxy (``web.trusted_proxies``) the caller is the
  address ``X-Forwarded-For`` gives (:mod:`web.forwarded`); the request goes on with
  that as ``request.remote``, so the limits below and every log see the caller.
- **Failed sign-ins.** A request presenting a token (``Authorization`` or the
  websocket's bearer subprotocol) that the guard refuses with 401 is counted in
  ``citybrain_http_signin_failures_total`` against its address; past
  ``web.signin_max_failures`` within ``web.signin_window_s`` every request from that
  address presenting a token is refused with 429 and ``Retry-After`` for
  ``web.signin_lockout_s`` (``citybrain_rate_limited_total{route_class="signin"}``).

The second runs after authentication (it needs the caller the guard found):

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

Budgets and failure counts live in each web server's memory: with ``web.replicas``
servers behind one load balancer each enforces its share (:func:`web.ratelimit.share`).
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Literal

from aiohttp import web
from prometheus_client import Counter

from citybrain.config.access import Network, allowed_set, networks
from citybrain.config.settings import WebSettings
from web import guard
from web.auth import Principal, protocol_token
from web.forwarded import client_address
from web.hosts import allowed_hosts, host_allowed
from web.origin import origin_allowed
from web.ratelimit import Bucket, BucketStore, Budget, full, share, take
from web.signin_limit import FailureLog, SigninPolicy

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
    "Requests (read, write, static), websocket messages (ws_message) and requests from an "
    "address locked out after failed sign-ins (signin) refused by a rate limit",
    ["route_class"],
)
HOST_REFUSED = Counter(
    "citybrain_http_host_refused_total",
    "Requests refused (421) because their Host is not one of the server's names",
)
SIGNIN_FAILURES = Counter(
    "citybrain_http_signin_failures_total",
    "Requests that presented a token the server does not know (401)",
)

DEFAULT_SIGNIN = SigninPolicy(max_failures=10, window_s=60.0, lockout_s=300.0)
"""The failed sign-in policy of the settings' defaults."""


@dataclass(frozen=True, slots=True)
class ProtectConfig:
    """The Origin allow-list (normalised by :func:`web.origin.allowed_set`), budgets (this
    process's share), the server's host names (:func:`web.hosts.allowed_hosts`), the
    trusted proxies and the failed sign-in policy."""

    allowed_origins: frozenset[str]
    read: Budget
    write: Budget
    ws_message: Budget
    static: Budget = STATIC_DEFAULT
    hosts: frozenset[str] = frozenset({"localhost"})
    trusted_proxies: tuple[Network, ...] = ()
    signin: SigninPolicy = DEFAULT_SIGNIN

    @classmethod
    def from_settings(cls, w: WebSettings) -> ProtectConfig:
        return cls(
            allowed_origins=allowed_set(w.allowed_origins),
            read=share(Budget(w.read_rate_per_s, w.read_burst), w.replicas),
            write=share(Budget(w.write_rate_per_s, w.write_burst), w.replicas),
            ws_message=Budget(w.ws_message_rate_per_s, w.ws_message_burst),  # per connection
            static=share(Budget(w.static_rate_per_s, w.static_burst), w.replicas),
            hosts=allowed_hosts(w.host, w.allowed_origins, w.allowed_hosts),
            trusted_proxies=networks(w.trusted_proxies),
            signin=SigninPolicy(
                max(1, w.signin_max_failures // w.replicas), w.signin_window_s, w.signin_lockout_s
            ),
        )


@dataclass(slots=True)
class _State:
    config: ProtectConfig
    stores: dict[RouteClass, BucketStore] = field(default_factory=dict)
    failures: FailureLog | None = None


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
    """Install the gate (before authentication) and the Origin and rate-limit middleware
    (after it); call after :func:`web.guard.setup`."""
    stores: dict[RouteClass, BucketStore] = {
        "read": BucketStore(config.read),
        "write": BucketStore(config.write),
        "static": BucketStore(config.static),
    }
    app[_STATE] = _State(config, stores, FailureLog(config.signin))
    guard.add_gate(app, _gate)
    app.middlewares.append(_protect)


def presents_token(request: web.Request) -> bool:
    """Whether ``request`` offers credentials: ``Authorization``, or a browser websocket's
    bearer subprotocol."""
    return "Authorization" in request.headers or (
        protocol_token(request.headers.get("Sec-WebSocket-Protocol")) is not None
    )


@web.middleware
async def _gate(request: web.Request, handler: guard.Handler) -> web.StreamResponse:
    state = request.app[_STATE]
    config = state.config
    host = request.headers.get("Host")
    if not host_allowed(host, config.hosts):
        HOST_REFUSED.inc()
        log.info(
            "refused %s %s from %s: Host %.100r", request.method, request.path, request.remote, host
        )
        raise guard.ApiError(
            421,
            f"Host {(host or '')[:100]!r} is not a name of this server (web.allowed_hosts, "
            "web.allowed_origins)",
        )
    if config.trusted_proxies:
        caller = client_address(
            request.remote, request.headers.getall("X-Forwarded-For", ()), config.trusted_proxies
        )
        if caller is not None and caller != request.remote:
            request = request.clone(remote=caller)
    if not presents_token(request):
        return await handler(request)
    assert state.failures is not None  # made by setup()
    address = request.remote or "unknown"
    wait = state.failures.wait_s(address, time.monotonic())
    if wait > 0:
        RATE_LIMITED.labels("signin").inc()
        retry = str(max(1, math.ceil(wait)))
        raise guard.ApiError(
            429,
            f"too many failed sign-ins from this address: at most {config.signin.max_failures}"
            f" in {config.signin.window_s:g} s; retry after {retry} s",
            {"Retry-After": retry},
        )
    try:
        return await handler(request)
    except guard.ApiError as exc:
        if exc.status == 401:  # with a token presented: the guard did not know it
            SIGNIN_FAILURES.inc()
            if state.failures.fail(address, time.monotonic()):
                log.warning(
                    "sign-ins from %s refused for %g s: more than %d failures in %g s",
                    address,
                    config.signin.lockout_s,
                    config.signin.max_failures,
                    config.signin.window_s,
                )
        raise


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
