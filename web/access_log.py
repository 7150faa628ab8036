"""The access log: one line per answered request that repeats nothing a caller chose (edge).

aiohttp's own access log writes the whole request line, so a token put in a query string
(``/api/cells?token=…``) or in a path lands in the log. Here a line names the caller's
address, the method, the *route* that answered (its pattern, ``/api/alerts/{id}/nearby``,
not the values it was called with), the status, the body size and the time taken::

    127.0.0.1 "GET /api/alerts/{id}/nearby" 404 41 B 1.2 ms

Query strings, header values (``Authorization``, ``Sec-WebSocket-Protocol``, ``Referer``,
``User-Agent``) and path parameters are never written. The one path written as sent is
that of a page file answered from ``web/static`` (200 or 304): it names a file that
exists, which :func:`web.routes.static_file` only serves under its canonical name.
"""

from __future__ import annotations

from typing import Final

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

STATIC_ROUTE: Final = "/{tail}"
"""The pattern of the page's files (the last route of :mod:`web.server`)."""
NO_ROUTE: Final = "-"
"""Written for a request that reached no route (a malformed request, see web/serving.py)."""
SERVED: Final = frozenset({200, 206, 304})
METHOD_CHARS: Final = 16
MALFORMED: web.RequestKey[bool] = web.RequestKey("citybrain.malformed")
"""Set by web/serving.py on the request it makes for a message it could not parse."""


def logged_target(route: str | None, path: str, status: int) -> str:
    """What the access log writes for a request to ``path`` answered by the route with
    pattern ``route`` (None: no route) with ``status``: the pattern, or ``path`` itself
    for a page file that was served."""
    if route is None:
        return NO_ROUTE
    if route == STATIC_ROUTE and status in SERVED:
        return path
    return route


def route_of(request: web.BaseRequest) -> str | None:
    """The pattern of the route that matched ``request``; None when none did."""
    if request.get(MALFORMED) or not isinstance(request, web.Request):
        return None  # a message that could not be parsed was routed nowhere
    info = request.match_info
    if info.http_exception is not None:
        return None
    return info.route.resource.canonical if info.route.resource is not None else None


class AccessLog(AbstractAccessLogger):
    """aiohttp access logger writing the line described in the module docstring (INFO)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        """Write one line; ``time`` is the handling time in seconds."""
        self.logger.info(
            '%s "%s %s" %d %d B %.1f ms',
            request.remote or "-",
            request.method[:METHOD_CHARS],
            logged_target(route_of(request), request.path, response.status),
            response.status,
            response.body_length,
            time * 1000,
        )
