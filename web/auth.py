"""Who is calling, and what they may do (pure: no aiohttp, no I/O).

Callers present a bearer token; :class:`TokenTable` maps it to a
:class:`Principal` (a name and one role). Tokens are kept only as SHA-256
digests and compared in constant time, so neither the table nor a timing
measurement reveals them.

Roles, and what each one allows (``admin`` allows everything; every role
includes ``viewer``, the read-only view of the map and the API):

============  ============================================================
role          allows
============  ============================================================
viewer        viewer
dispatcher    dispatcher, viewer  (command-centre desk: handle alerts)
liaison       liaison, viewer     (110 / 12345 desk: handle routed alerts)
engineer      engineer, viewer    (rules, pipeline operations)
admin         every role
============  ============================================================

A handler states the one role it needs; :func:`allows` answers whether a
principal may call it. There is no ordering between dispatcher, liaison and
engineer: each is a separate duty.

Liaison staff are scoped to desks (110, 12345 …): they handle only the alerts
routed to one of their desks (:func:`may_handle`); dispatchers and admins
handle every alert.

A hotline ticket's unmasked text (docs/operations.md, "Personal data") is for
admins, and for liaison staff whose desks include the channel the ticket came in
on (:func:`may_read_ticket`); everyone else sees it masked.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from citybrain.config.access import GRANTS, Role

ANONYMOUS = "anonymous"


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller (or the anonymous one): a display name and a role."""

    name: str
    role: Role
    desks: tuple[str, ...] = ()  # a liaison's desks


def allows(principal: Principal | None, needed: Role) -> bool:
    """Whether ``principal`` may do what needs ``needed``; ``None`` (nobody) may do nothing."""
    return principal is not None and needed in GRANTS[principal.role]


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class TokenTable:
    """Token → principal lookup over SHA-256 digests; the tokens themselves are not kept."""

    def __init__(
        self,
        entries: Iterable[tuple[str, Role, str]],
        desks: Mapping[str, Iterable[str]] | None = None,
    ) -> None:
        """``entries``: ``(name, role, token)`` triples; ``desks``: name → desks (liaison
        staff). Raises ValueError on a repeated token."""
        self._entries: list[tuple[bytes, Principal]] = []
        for name, role, token in entries:
            digest = _digest(token)
            if any(hmac.compare_digest(digest, d) for d, _ in self._entries):
                raise ValueError(f"token of {name!r} is also given to another name")
            own = tuple((desks or {}).get(name, ()))
            self._entries.append((digest, Principal(name, role, own)))

    def __len__(self) -> int:
        return len(self._entries)

    def lookup(self, token: str) -> Principal | None:
        """The principal holding ``token``, or None.

        Every entry is compared, matching or not, so the time taken does not
        depend on which entry (if any) matches or on how much of it does.
        """
        presented = _digest(token)
        found = None
        for digest, principal in self._entries:
            if hmac.compare_digest(presented, digest):
                found = principal
        return found


WS_PROTOCOL = "citybrain"  # the websocket subprotocol the server selects
WS_BEARER = "citybrain.bearer."  # browsers offer their token as this subprotocol + token


def protocol_token(offered: str | None) -> str | None:
    """The token a browser offered in ``Sec-WebSocket-Protocol`` as
    ``citybrain.bearer.<token>`` (browsers cannot set ``Authorization`` on a websocket);
    None when it offered none."""
    for protocol in (offered or "").split(","):
        protocol = protocol.strip()
        if protocol.startswith(WS_BEARER) and len(protocol) > len(WS_BEARER):
            return protocol[len(WS_BEARER) :]
    return None


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header value.

    None when there is no header; ValueError (with a reason that never
    repeats the header) when it is present but not a bearer token.
    """
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise ValueError("expected 'Authorization: Bearer <token>'")
    return token


def authenticate(
    table: TokenTable, header: str | None, anonymous_role: Role | None
) -> Principal | None:
    """The caller of a request with ``Authorization`` header value ``header``.

    No header: the anonymous principal with ``anonymous_role``, or None when
    anonymous callers may do nothing. A header that is not a known bearer
    token raises ValueError: bad credentials are refused, never downgraded
    to anonymous.
    """
    token = bearer_token(header)
    if token is None:
        return Principal(ANONYMOUS, anonymous_role) if anonymous_role is not None else None
    principal = table.lookup(token)
    if principal is None:
        raise ValueError("unknown token")
    return principal


#: Roles that handle alerts (acknowledge, assign, resolve).
HANDLERS: tuple[Role, ...] = ("dispatcher", "liaison")


def may_handle(principal: Principal, alert_desks: Iterable[str]) -> str | None:
    """Why ``principal`` may not act on an alert routed to ``alert_desks``, or None.

    Dispatchers (and admins) handle every alert; liaison staff only those routed
    to one of their desks; other roles none.
    """
    if principal.role in ("admin", "dispatcher"):
        return None
    if principal.role != "liaison":
        return f"{principal.name} has role {principal.role!r}; this needs dispatcher or liaison"
    routed = tuple(alert_desks)
    if set(routed) & set(principal.desks):
        return None
    mine = ", ".join(principal.desks) or "none"
    return f"alert is routed to {', '.join(routed) or 'no desk'}; {principal.name}'s desks: {mine}"


#: The hotline channels a ticket comes in on; each is also a desk.
HOTLINE_CHANNELS: tuple[str, ...] = ("110", "12345")


def may_read_ticket(principal: Principal, channel: str | None) -> str | None:
    """Why ``principal`` may not read the unmasked text of a ticket that came in on
    ``channel`` (``"110"``, ``"12345"``), or None. ``channel`` None asks whether they could
    read some ticket's text (checked before a ticket is looked up, so that the answer
    tells nobody else whether it exists)."""
    if principal.role == "admin":
        return None
    if principal.role != "liaison":
        return (
            f"{principal.name} has role {principal.role!r}; unmasked ticket text needs admin, "
            "or liaison of the ticket's channel"
        )
    allowed = HOTLINE_CHANNELS if channel is None else (channel,)
    if set(allowed) & set(principal.desks):
        return None
    mine = ", ".join(principal.desks) or "none"
    came = f"ticket came in on {channel}" if channel else "tickets come in on 110 or 12345"
    return f"{came}; {principal.name}'s desks: {mine}"
