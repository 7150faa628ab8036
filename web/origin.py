"""Which browser origins may open the websocket or change state (pure).

A browser sends ``Origin`` with every websocket handshake and every ``POST``
(and other state-changing methods). A page on another site must not be able to
ride on a user's browser to read the live feed or act on alerts (cross-site
websocket hijacking, CSRF), so such a request is allowed only when its origin
is the server's own — the same host and port as the request's ``Host`` header,
over ``http`` or ``https`` — or one of the configured ``web.allowed_origins``.
Requests without ``Origin`` come from programs, not pages, and are left to the
token checks.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from citybrain.config.access import DEFAULT_PORTS, Origin, parse_origin


def is_own_origin(origin: Origin, host_header: str | None) -> bool:
    """True when ``origin`` names the host and port the request was sent to (its ``Host``
    header; a Host without a port means the origin scheme's default port)."""
    if not host_header:
        return False
    try:
        parts = urlsplit(f"//{host_header.strip()}")
        port = parts.port
    except ValueError:
        return False
    if not parts.hostname or parts.path or parts.username is not None:
        return False
    return (parts.hostname, port or DEFAULT_PORTS[origin.scheme]) == (origin.host, origin.port)


def origin_allowed(
    origin_header: str | None, host_header: str | None, allowed: frozenset[str]
) -> bool:
    """Whether a request with these headers may go on (see the module docstring).

    ``allowed`` comes from :func:`allowed_set`. No ``Origin``: allowed (not a
    browser page). An unparsable ``Origin`` (including ``null``, sent by sandboxed
    frames and local files) is refused.
    """
    if origin_header is None:
        return True
    try:
        origin = parse_origin(origin_header)
    except ValueError:
        return False
    return is_own_origin(origin, host_header) or str(origin) in allowed
