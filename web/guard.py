"""aiohttp glue for :mod:`web.auth`: callers, required roles, bounded JSON bodies, JSON errors.

:func:`setup` installs two middlewares on an application:

- every error leaves as ``{"error": "<message>"}`` with the right status
  (:class:`ApiError` from handlers, and aiohttp's own 404/405/413 …);
- every request gets its caller (:func:`principal`) from its
  ``Authorization: Bearer <token>`` header. A header that is not a known
  token is refused with 401 on any path; no header means the anonymous
  caller with ``auth.anonymous_role``.

A handler declares the role it needs with :func:`requires`; a handler that
takes a body reads it with :func:`json_body`::

    @requires("engineer")
    async def upload_rules(request: web.Request) -> web.Response:
        body = await json_body(request)
        ...

Tokens are never logged nor echoed in a response.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware
from prometheus_client import Counter
from redis.exceptions import RedisError

from citybrain.config.access import Role
from web.auth import Principal, TokenTable, allows, authenticate, protocol_token

log = logging.getLogger(__name__)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class GuardConfig:
    """What the middlewares and helpers of one application use."""

    tokens: TokenTable
    anonymous_role: Role | None  # None: callers without a token may do nothing
    max_body_bytes: int


CONFIG = web.AppKey("citybrain.guard", GuardConfig)
_PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("citybrain.principal")
_TOKENLESS: web.RequestKey[bool] = web.RequestKey("citybrain.tokenless")

AUTH_REJECTED = Counter(
    "citybrain_http_auth_rejected_total",
    "Requests refused: bad or missing credentials (401) or a role that does not allow it (403)",
    ["status"],
)
STORE_UNAVAILABLE = Counter(
    "citybrain_http_store_unavailable_total",
    "Requests answered 503, and websockets closed 1013 before their snapshot, because Redis "
    "was away",
)
BODY_REJECTED = Counter(
    "citybrain_http_bad_bodies_total",
    "Request bodies refused",
    ["reason"],  # content_type, size, json
)

_CHALLENGE = 'Bearer realm="citybrain"'


class ApiError(Exception):
    """An error answered as ``{"error": message}`` with ``status`` (and extra ``headers``)."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


def error_response(
    status: int, message: str, headers: Mapping[str, str] | None = None
) -> web.Response:
    """The JSON error shape every endpoint uses: ``{"error": message}``."""
    return web.Response(
        status=status,
        body=orjson.dumps({"error": message}),
        headers={
            **(headers or {}),
            "Content-Type": "application/json",
            "Cache-Control": "no-cache",
            "X-Content-Type-Options": "nosniff",
        },
    )


def setup(
    app: web.Application, tokens: TokenTable, anonymous_role: Role | None, max_body_bytes: int
) -> None:
    """Install the error and authentication middlewares and their settings on ``app``.

    ``anonymous_role`` None: requests without a token may call only handlers
    that declare no role.
    """
    app[CONFIG] = GuardConfig(tokens, anonymous_role, max_body_bytes)
    app.middlewares.extend([_errors, _authenticate])


def add_gate(app: web.Application, middleware: Middleware) -> None:
    """Install ``middleware`` between the error and authentication middlewares of ``app``
    (after :func:`setup`): it sees every request before its token is looked at, and its
    ApiErrors take the JSON error shape."""
    app.middlewares.insert(app.middlewares.index(_authenticate), middleware)


@web.middleware
async def _errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as exc:
        return error_response(exc.status, exc.message, exc.headers)
    except (RedisError, ConnectionError) as exc:  # Redis away: the feed waits for it too
        STORE_UNAVAILABLE.inc()
        log.warning("%s %s: live store unavailable: %r", request.method, request.path, exc)
        return error_response(
            503, "the live store (Redis) is unavailable; try again shortly", {"Retry-After": "5"}
        )
    except web.HTTPException as exc:
        if exc.status < 400:
            raise  # redirects and the like stay as aiohttp made them
        message = exc.reason
        if exc.status == 405:
            message = f"{request.method} is not allowed on {request.path}"
        elif exc.text and not exc.text.startswith(f"{exc.status}:"):
            message = exc.text  # a specific reason, e.g. a websocket handshake error
        keep = {k: v for k, v in exc.headers.items() if k in ("Allow", "WWW-Authenticate")}
        return error_response(exc.status, message, keep)


@web.middleware
async def _authenticate(request: web.Request, handler: Handler) -> web.StreamResponse:
    config = request.app[CONFIG]
    header = request.headers.get("Authorization")
    if header is None and (
        offered := protocol_token(request.headers.get("Sec-WebSocket-Protocol"))
    ):
        header = f"Bearer {offered}"  # a browser's websocket: the token as a subprotocol
    try:
        request[_PRINCIPAL] = authenticate(config.tokens, header, config.anonymous_role)
        request[_TOKENLESS] = header is None
    except ValueError as exc:  # the message names the problem, never the token
        AUTH_REJECTED.labels("401").inc()
        raise ApiError(
            401, f"{exc}", {"WWW-Authenticate": f'{_CHALLENGE}, error="invalid_token"'}
        ) from None
    return await handler(request)


def principal(request: web.Request) -> Principal | None:
    """The caller of ``request``: a token holder, the anonymous caller, or None (nobody).

    Raises RuntimeError when :func:`setup` was not applied to the application.
    """
    try:
        return request[_PRINCIPAL]
    except KeyError:
        raise RuntimeError("web.guard.setup() was not applied to this application") from None


def check(request: web.Request, needed: Role) -> Principal:
    """The caller, if allowed to do what needs ``needed``; otherwise raises ApiError.

    401 (with ``WWW-Authenticate: Bearer``) when the request carries no token:
    a token might help. 403 when it carries a valid token whose role does not
    allow it.
    """
    caller = principal(request)
    if caller is not None and allows(caller, needed):
        return caller
    if "Authorization" not in request.headers:
        AUTH_REJECTED.labels("401").inc()
        raise ApiError(
            401,
            f"authentication required: this needs role {needed!r}",
            {"WWW-Authenticate": _CHALLENGE},
        )
    assert caller is not None  # a token was accepted by the middleware
    AUTH_REJECTED.labels("403").inc()
    raise ApiError(403, f"{caller.name} has role {caller.role!r}; this needs role {needed!r}")


def requires(needed: Role) -> Callable[[Handler], Handler]:
    """Decorate a handler so that only callers whose role allows ``needed`` reach it."""

    def decorate(handler: Handler) -> Handler:
        @functools.wraps(handler)
        async def guarded(request: web.Request) -> web.StreamResponse:
            check(request, needed)
            return await handler(request)

        return guarded

    return decorate


def anonymous(request: web.Request) -> bool:
    """Whether the caller came without a token (the anonymous viewer, when enabled): it
    sees the heatmap and the incidents, not who the grid workers are or where, nor the
    cameras' stream addresses (docs/operations.md, "Roles")."""
    return bool(request.get(_TOKENLESS, True))


def signed_in(request: web.Request) -> Principal:
    """The caller, if it presented a token; 401 for the anonymous caller."""
    found = principal(request)
    if found is None or anonymous(request):
        AUTH_REJECTED.labels("401").inc()
        raise ApiError(
            401, "sign in to see this (anonymous viewers do not)", {"WWW-Authenticate": _CHALLENGE}
        )
    return found


def caller(request: web.Request) -> Principal:
    """The caller, anonymous or not; 401 when anonymous callers may do nothing."""
    found = principal(request)
    if found is None:
        AUTH_REJECTED.labels("401").inc()
        raise ApiError(401, "authentication required", {"WWW-Authenticate": _CHALLENGE})
    return found


def _reject_body(reason: str, status: int, message: str) -> ApiError:
    BODY_REJECTED.labels(reason).inc()
    return ApiError(status, message)


async def json_body(request: web.Request, max_bytes: int | None = None) -> Any:
    """The request body parsed as JSON, at most ``max_bytes`` (default ``web.max_body_bytes``).

    Raises ApiError: 415 unless the body is ``application/json`` (or ``…+json``)
    in UTF-8; 413 when it is larger than the limit (refused from
    ``Content-Length`` before reading, or as soon as a streamed body passes
    it); 400 when it is empty or not valid JSON. Each refusal is counted in
    ``citybrain_http_bad_bodies_total{reason}``.
    """
    limit = max_bytes if max_bytes is not None else request.app[CONFIG].max_body_bytes
    kind = request.content_type
    if kind != "application/json" and not (
        kind.startswith("application/") and kind.endswith("+json")
    ):
        raise _reject_body(
            "content_type", 415, f"Content-Type must be application/json, got {kind[:100]!r}"
        )
    if (request.charset or "utf-8").lower() not in ("utf-8", "utf8"):
        raise _reject_body("content_type", 415, "a JSON body must be UTF-8")
    too_big = f"body larger than {limit} bytes"
    if request.content_length is not None and request.content_length > limit:
        raise _reject_body("size", 413, too_big)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            raise _reject_body("size", 413, too_big)
        chunks.append(chunk)
    if size == 0:
        raise _reject_body("json", 400, "empty body: expected a JSON document")
    try:
        return orjson.loads(b"".join(chunks))
    except orjson.JSONDecodeError as exc:
        raise _reject_body("json", 400, f"body is not valid JSON: {exc}") from None
