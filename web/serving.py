"""How the application is served (edge): aiohttp's runner with two changes.

- **Requests aiohttp cannot parse** (a header or request line over its 8190-byte limit, a
  malformed header, a bad method, …) never reach the application: aiohttp answers them
  itself with a plain-text 400 that quotes the start of the offending line — a token's
  first bytes when the line is an ``Authorization`` header — and logs that text with a
  traceback. Here they are answered ``{"error": "<what was wrong>"}`` with no input
  repeated, logged as one line without the input, and counted in
  ``citybrain_http_malformed_total{reason}``. An error no handler caught (a bug) is
  answered ``{"error": "internal server error"}`` (500), logged with its traceback.
- **The access log** is :class:`web.access_log.AccessLog` (no query strings, no
  header values, no path parameters).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Final

from aiohttp import web
from aiohttp.http_exceptions import (
    BadHttpMethod,
    BadStatusLine,
    HttpProcessingError,
    InvalidHeader,
    InvalidURLError,
    LineTooLong,
    PayloadEncodingError,
)
from prometheus_client import Counter

from web.access_log import MALFORMED, METHOD_CHARS, NO_ROUTE, AccessLog, route_of
from web.guard import error_response
from web.headers import SERVER

log = logging.getLogger(__name__)

MALFORMED_REQUESTS = Counter(
    "citybrain_http_malformed_total",
    "Requests answered before reaching the application: unparsable (400), timed out (504), "
    "or failed in a way no handler caught (500)",
    ["reason"],
)

# Most specific first: BadHttpMethod is a BadStatusLine.
_REASONS: Final[tuple[tuple[type[Exception], str, str], ...]] = (
    (LineTooLong, "line_too_long", "request line or header line too long"),
    (BadHttpMethod, "bad_method", "malformed request method"),
    (BadStatusLine, "bad_request_line", "malformed request line"),
    (InvalidURLError, "bad_target", "malformed request target"),
    (InvalidHeader, "bad_header", "malformed header"),
    (PayloadEncodingError, "bad_body", "malformed request body encoding"),
)


def malformed_answer(status: int, exc: BaseException | None) -> tuple[int, str, str]:
    """``(status, reason, message)`` for an error aiohttp answers itself: ``status`` as
    aiohttp chose it (400 unparsable, 504 timed out, 500 uncaught), ``exc`` what it caught.
    ``reason`` is a metric label; neither it nor ``message`` repeats any input."""
    if status == 504:
        return 504, "timeout", "the request took too long to handle"
    if isinstance(exc, HttpProcessingError) and 400 <= status < 500:
        for kind, reason, message in _REASONS:
            if isinstance(exc, kind):
                return 400, reason, message
        return 400, "malformed", "malformed HTTP request"
    return 500, "internal", "internal server error"


class RequestHandler(web.RequestHandler):
    """aiohttp's connection handler, its own error answers in the API's JSON shape."""

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """The answer to a request aiohttp could not parse or whose handler failed (the
        connection is closed after it); ``message`` (aiohttp's, which quotes input) is
        not used."""
        status, reason, text = malformed_answer(status, exc)
        MALFORMED_REQUESTS.labels(reason).inc()
        if status == 500:  # a bug: the route's pattern and the traceback, to report it
            where = f"{request.method[:METHOD_CHARS]} {route_of(request) or NO_ROUTE}"
            log.error("uncaught error in a handler of %s", where, exc_info=exc)
        else:
            if isinstance(exc, HttpProcessingError):
                request[MALFORMED] = True  # routed nowhere (web/access_log.py)
            log.info("refused a request from %s: %s (%s)", request.remote, text, status)
        if request.writer.output_size > 0:  # as aiohttp: part of an answer is out already
            raise ConnectionError("answer already being sent; cannot send an error instead")
        response = error_response(status, text)
        # An unparsable request reached no application, so web/headers.py did not run.
        response.headers["Server"] = SERVER
        response.force_close()
        return response


class Server(web.Server):
    """aiohttp's low-level server, serving each connection with :class:`RequestHandler`."""

    def __init__(self, made: web.Server, **handler_options: Any) -> None:
        """The server ``made`` by aiohttp's runner, with the same handler and request
        factory; ``handler_options`` go to every :class:`RequestHandler`."""
        super().__init__(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            **handler_options,
        )
        self.handler_options = handler_options
        self.loop = asyncio.get_running_loop()

    def __call__(self) -> RequestHandler:
        return RequestHandler(self, loop=self.loop, **self.handler_options)


class AppRunner(web.AppRunner):
    """:class:`aiohttp.web.AppRunner` serving with :class:`Server` and :class:`AccessLog`."""

    def __init__(self, app: web.Application, *, shutdown_timeout: float) -> None:
        super().__init__(
            app, handle_signals=False, shutdown_timeout=shutdown_timeout, access_log_class=AccessLog
        )

    async def _make_server(self) -> web.Server:
        # The runner's one hook for the server it serves with; aiohttp's own starts the
        # application (on_startup) and freezes it, then ours takes its handler over.
        made = await super()._make_server()
        return Server(made, access_log_class=AccessLog)
