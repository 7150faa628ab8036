"""Who may do what, and from which origins: the vocabulary the settings validate against.

Roles and what each allows (the table in :mod:`web.auth`), browser origins as the
web server compares them (:mod:`web.origin`), host names as it compares ``Host`` headers
(:mod:`web.hosts`) and proxy networks (:mod:`web.forwarded`). Kept here, below every
package that reads settings, so the settings need nothing of the web server to check a
token list or an allow-list.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, get_args
from urllib.parse import urlsplit

Role = Literal["viewer", "dispatcher", "liaison", "engineer", "admin"]
ROLES: tuple[Role, ...] = get_args(Role)

GRANTS: dict[Role, frozenset[Role]] = {
    "viewer": frozenset({"viewer"}),
    "dispatcher": frozenset({"dispatcher", "viewer"}),
    "liaison": frozenset({"liaison", "viewer"}),
    "engineer": frozenset({"engineer", "viewer"}),
    "admin": frozenset(ROLES),
}

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


def allowed_set(origins: Iterable[str]) -> frozenset[str]:
    """Allow-list entries in the form :func:`web.origin.origin_allowed` compares; raises
    ValueError."""
    return frozenset(str(parse_origin(o)) for o in origins)


Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def host_name(text: str) -> str:
    """A host as the web server compares them: a name lower-cased without a trailing dot,
    or an IP address in its canonical form (an IPv6 one without brackets). ``text`` may
    carry a port (``map.example.cn:8080``, ``[::1]:8080``), which is dropped.

    Raises ValueError for anything else (user info, a path, an empty or bad port).
    """
    stripped = text.strip()
    try:
        return str(ipaddress.ip_address(stripped.strip("[]")))
    except ValueError:
        pass  # not a bare address: read below as name[:port] or [address]:port
    try:
        parts = urlsplit(f"//{stripped}")
        parts.port  # noqa: B018 - parsing the port raises on a bad one
    except ValueError as exc:
        raise ValueError(f"not a host: {text[:100]!r} ({exc})") from None
    name = (parts.hostname or "").rstrip(".")
    if not name or parts.path or parts.query or parts.fragment or "@" in parts.netloc:
        raise ValueError(f"not a host: {text[:100]!r}; expected a name or address[:port]")
    try:
        return str(ipaddress.ip_address(name))
    except ValueError:
        return name  # a name, not an address


def networks(entries: Iterable[str]) -> tuple[Network, ...]:
    """Addresses (``10.0.0.2``) and networks (``10.0.0.0/24``, ``fd00::/8``) as networks;
    raises ValueError naming the first entry that is neither."""
    found = []
    for entry in entries:
        try:
            found.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise ValueError(f"not an IP address or network: {entry[:100]!r}") from None
    return tuple(found)
