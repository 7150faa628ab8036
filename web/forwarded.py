"""Who the caller is behind trusted reverse proxies (pure): ``X-Forwarded-For``.

Behind a proxy every request comes from the proxy's address. A proxy that appends the
address it was called from to ``X-Forwarded-For`` (HAProxy's ``option forwardfor``,
nginx's ``$proxy_add_x_forwarded_for``) tells the server who its caller was; but anyone
can send that header, so it is believed only when the peer is a trusted proxy
(``web.trusted_proxies``), and only as far as the hops are trusted: read from the right,
the first address that is not itself a trusted proxy is the caller. Addresses to the
left of it were written by the caller and are ignored.

An entry that is not an IP address where the caller should be (a forged or garbled
header) makes the last trusted hop the caller: the proxy that saw it, never a value
the caller chose.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from citybrain.config.access import Network


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def trusted(address: str | None, proxies: tuple[Network, ...]) -> bool:
    """Whether ``address`` is one of the trusted proxies (False for None or a non-address)."""
    parsed = _address(address) if address is not None else None
    return parsed is not None and any(parsed in network for network in proxies)


def client_address(
    peer: str | None, forwarded_for: Iterable[str], proxies: tuple[Network, ...]
) -> str | None:
    """The caller's address: ``peer`` (the socket's), unless it is a trusted proxy; then
    the rightmost address of the ``X-Forwarded-For`` values (every header line, in order)
    that is not a trusted proxy (the module docstring). A forwarded address comes back
    canonical (``::1``, not ``[::1]``); ``peer`` as given."""
    if not proxies or not trusted(peer, proxies):
        return peer
    hops = [hop for line in forwarded_for for hop in line.split(",") if hop.strip()]
    caller = peer
    for hop in reversed(hops):
        address = _address(hop)
        if address is None:
            return caller  # garbled: the hop that reported it is the caller
        caller = str(address)
        if not any(address in network for network in proxies):
            return caller
    return caller  # every hop a trusted proxy: the farthest one
