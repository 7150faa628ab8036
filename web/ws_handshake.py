"""The websocket subprotocol offer aiohttp gets to see (edge).

A browser offers its token as the subprotocol ``citybrain.bearer.<token>`` (web/auth.py),
normally next to ``citybrain``, which the server selects. aiohttp logs a warning quoting
the whole offer when it names no protocol the server knows, so a client offering the
bearer protocol alone would put its token in the log. The handshake therefore sees only
what the server may select: ``citybrain`` when it was offered, else no offer at all (the
answer then names no protocol, as RFC 6455 asks). The caller was already authenticated
from the full offer by :mod:`web.guard`.
"""

from __future__ import annotations

from aiohttp import hdrs, web
from multidict import CIMultiDict

from web.auth import WS_PROTOCOL
from web.guard import ApiError


def kept_offer(offered: list[str]) -> str | None:
    """What of the ``Sec-WebSocket-Protocol`` header values ``offered`` the handshake
    sees: ``citybrain`` when one of them lists it, else None (no header)."""
    names = {name.strip() for value in offered for name in value.split(",")}
    return WS_PROTOCOL if WS_PROTOCOL in names else None


def handshake_request(request: web.Request) -> web.Request:
    """``request`` for :meth:`aiohttp.web.WebSocketResponse.prepare`, its subprotocol offer
    cut down to :func:`kept_offer`; ``request`` itself when there is nothing to cut.

    Raises ApiError 400 when a header cannot be carried over (not UTF-8).
    """
    offered = request.headers.getall(hdrs.SEC_WEBSOCKET_PROTOCOL, [])
    kept = kept_offer(offered)
    if offered == ([kept] if kept else []):
        return request
    headers = CIMultiDict(request.headers)
    headers.popall(hdrs.SEC_WEBSOCKET_PROTOCOL, None)
    if kept is not None:
        headers[hdrs.SEC_WEBSOCKET_PROTOCOL] = kept
    try:
        return request.clone(headers=headers)
    except UnicodeEncodeError:  # aiohttp keeps undecodable header bytes as surrogates
        raise ApiError(400, "request headers must be UTF-8") from None
