"""Which ``Host`` a request may name (pure): a defence against DNS rebinding.

A page on ``evil.example`` can make its own name resolve to this server's address
(DNS rebinding); the browser then treats the server as part of ``evil.example`` and
lets the page read its answers, with the anonymous viewer's rights or more. Every
such request names ``evil.example`` in ``Host``, so the server answers only requests
whose ``Host`` is one of its own names:

- ``localhost``, and the listen address (``web.host``) when it is a name or a specific
  address;
- the hosts of ``web.allowed_origins`` and the names in ``web.allowed_hosts``;
- any IP address: a page whose origin is an address cannot rebind it to another, so a
  ``Host`` that is an address is never a rebinding (and a server listening on
  ``0.0.0.0`` cannot know every address it is reached by).

A request without ``Host`` (HTTP/1.0 health checks) is allowed: browsers always send one.
Ports are not compared: a proxy or a port mapping may change them, and the Origin check
(:mod:`web.origin`) compares them where it matters.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from citybrain.config.access import host_name, parse_origin

LOCAL_NAMES = frozenset({"localhost"})


def is_address(name: str) -> bool:
    """Whether ``name`` (as :func:`host_name` gives it) is an IP address."""
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def allowed_hosts(
    listen_host: str, allowed_origins: Iterable[str], extra: Iterable[str]
) -> frozenset[str]:
    """The names (besides any IP address) a request's ``Host`` may give, normalised by
    :func:`host_name`. Raises ValueError on an entry that is not a host or an origin."""
    names = set(LOCAL_NAMES)
    if listen_host.strip():
        names.add(host_name(listen_host))
    names.update(parse_origin(o).host for o in allowed_origins)
    names.update(host_name(h) for h in extra)
    return frozenset(n for n in names if not is_address(n))


def host_allowed(host_header: str | None, names: frozenset[str]) -> bool:
    """Whether a request with ``Host: host_header`` may go on (the module docstring);
    a malformed ``Host`` may not."""
    if host_header is None:
        return True
    try:
        name = host_name(host_header)
    except ValueError:
        return False
    return is_address(name) or name in names
