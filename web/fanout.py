"""Fan-out of server messages to websocket clients.

A message is serialised once by the caller and the same ``str`` is offered to
every client. Each client has a bounded queue and one writer task, so sends
to different clients run concurrently and a client's messages keep their
order. A client that cannot keep up is dropped rather than allowed to hold
memory or delay the others: when its queue is full, or when one send takes
longer than ``send_timeout_s``, or fails. Drops are counted in
``citybrain_ws_dropped_total{reason}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Literal, Protocol

from aiohttp import WSCloseCode
from prometheus_client import Counter, Gauge

log = logging.getLogger(__name__)

WS_CLIENTS = Gauge("citybrain_ws_clients", "Connected websocket clients")
WS_DROPPED = Counter(
    "citybrain_ws_dropped_total",
    "Websocket clients dropped by the server because they could not keep up",
    ["reason"],
)

DropReason = Literal["queue_full", "send_timeout", "send_failed"]
Audience = Literal["all", "signed_in", "public"]
"""Who a broadcast is for: everyone, the clients that presented a token, or the others."""


class Socket(Protocol):
    """What the fan-out needs of a websocket (aiohttp's ``WebSocketResponse`` has it)."""

    @property
    def closed(self) -> bool: ...

    async def send_str(self, data: str, compress: int | None = None) -> None: ...

    async def close(self, *, code: int = ..., message: bytes = ..., drain: bool = ...) -> bool: ...


class Client:
    """The outbound side of one websocket client.

    Nothing is sent until :meth:`start`; messages offered before wait in the
    queue, behind the ``first`` message given to :meth:`start` (the snapshot).
    """

    def __init__(
        self,
        ws: Socket,
        *,
        peer: str,
        queue_max: int,
        send_timeout_s: float,
        abort: Callable[[], None],
        public: bool = False,
    ) -> None:
        """``abort`` tears the connection down at once, for a peer that stopped reading;
        ``public``: an anonymous viewer, not sent restricted broadcasts."""
        self.ws = ws
        self.public = public
        self.peer = peer
        self.dropped: DropReason | None = None
        self._open = True  # False once dropped or closing: offers are ignored
        self._queue: asyncio.Queue[str] = asyncio.Queue(queue_max)
        self._timeout = send_timeout_s
        self._abort = abort
        self._writer: asyncio.Task[None] | None = None
        self._closer: asyncio.Task[None] | None = None

    def start(self, first: str) -> None:
        """Send ``first``, then the queued messages in order, from a writer task."""
        self._writer = asyncio.create_task(self._write(first), name=f"ws-writer {self.peer}")

    def offer(self, data: str) -> None:
        """Queue ``data`` without waiting; drops the client when its queue is full."""
        if not self._open:
            return
        try:
            self._queue.put_nowait(data)
        except asyncio.QueueFull:
            self.drop("queue_full")

    async def _write(self, first: str) -> None:
        data = first
        while True:
            try:
                async with asyncio.timeout(self._timeout):  # no task per send, unlike wait_for
                    await self.ws.send_str(data)
            except TimeoutError:
                self.drop("send_timeout")
                return
            except ConnectionError as exc:  # aiohttp: the transport is closing
                if self.ws.closed:
                    return  # the client said goodbye while a message was on its way
                log.debug("send to %s failed: %r", self.peer, exc)
                self.drop("send_failed")
                return
            data = await self._queue.get()

    def drop(self, reason: DropReason) -> None:
        """Stop sending to this client, count why, and close its connection."""
        if not self._open:
            return
        self._open = False
        self.dropped = reason
        WS_DROPPED.labels(reason).inc()
        log.warning("dropping websocket client %s: %s", self.peer, reason)
        if self._writer is not None and self._writer is not asyncio.current_task():
            self._writer.cancel()
        self._closer = asyncio.create_task(
            self.close(WSCloseCode.TRY_AGAIN_LATER, b"too slow"), name=f"ws-drop {self.peer}"
        )

    async def close(self, code: int, message: bytes) -> None:
        """Close the connection with ``code``; abort it if the close handshake stalls."""
        self._open = False
        try:
            async with asyncio.timeout(self._timeout):
                await self.ws.close(code=code, message=message)
        except TimeoutError:
            log.info("websocket %s did not close within %.0f s; aborted", self.peer, self._timeout)
            self._abort()
        except asyncio.CancelledError:
            # aiohttp: a send cut off by its timeout leaves the connection's shared "may
            # write again" future cancelled, and close() then fails with that instead of
            # timing out; a peer that never reads would keep its connection for good.
            log.info("websocket %s could not be closed; aborted", self.peer)
            self._abort()
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # this task itself is being cancelled

    async def stop(self) -> None:
        """End the writer and wait for a pending drop to finish; idempotent."""
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._writer
        if self._closer is not None:
            await self._closer


class Fanout:
    """The connected clients, and a broadcast that never waits for any of them."""

    def __init__(self, *, queue_max: int, send_timeout_s: float) -> None:
        self.clients: set[Client] = set()
        self._queue_max = queue_max
        self._timeout = send_timeout_s

    def add(
        self, ws: Socket, *, peer: str, abort: Callable[[], None], public: bool = False
    ) -> Client:
        """Register a client; it receives broadcasts from now on (queued until started).
        ``public``: an anonymous viewer (no restricted broadcasts)."""
        client = Client(
            ws,
            peer=peer,
            queue_max=self._queue_max,
            send_timeout_s=self._timeout,
            abort=abort,
            public=public,
        )
        self.clients.add(client)
        WS_CLIENTS.set(len(self.clients))
        return client

    async def remove(self, client: Client) -> None:
        """Unregister a client whose connection has ended."""
        self.clients.discard(client)
        WS_CLIENTS.set(len(self.clients))
        await client.stop()

    def broadcast(self, data: str, *, to: Audience = "all") -> None:
        """Offer the same ``data`` to every client of ``to`` that is still being served:
        ``all``, ``signed_in`` (not the public clients) or ``public`` (only them)."""
        for client in list(self.clients):
            if to == "all" or client.public == (to == "public"):
                client.offer(data)

    async def close_all(self, code: int = WSCloseCode.GOING_AWAY) -> None:
        """Close every connection (server shutdown), concurrently and each in bounded time."""
        await asyncio.gather(*(c.close(code, b"server shutdown") for c in list(self.clients)))
