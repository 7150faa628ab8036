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

from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True, slots=True)
class Origin:
    """``scheme://host:port`` with the scheme and host lower-cased and the port explicit."""

    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host  # an IPv6 literal
        return f"{self.scheme}://{host}:{self.port}"


def parse_origin(text: str) -> Origin:
    """An ``Origin`` header value (or an allow-list entry) as an :class:`Origin`.

    Raises ValueError unless it is ``http(s)://host[:port]`` with nothing after
    (``null``, a path, a query or user info are refused).
    """
    try:
        parts = urlsplit(text.strip())
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"not an origin: {text[:100]!r} ({exc})") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError(f"not an origin: {text[:100]!r}; expected http(s)://host[:port]")
    if parts.path not in ("", "/") or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"an origin has no path, query or user: {text[:100]!r}")
    return Origin(parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme])


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


def allowed_set(origins: Iterable[str]) -> frozenset[str]:
    """Allow-list entries in the form :func:`origin_allowed` compares; raises ValueError."""
    return frozenset(str(parse_origin(o)) for o in origins)


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
