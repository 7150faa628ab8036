"""One read shared by every caller that asks before it starts (edge helper).

A burst of websocket clients connecting at once each needs the snapshot of every cell;
reading it from Redis once per client exhausts the connection pool and repeats the same
work. :class:`SharedRead` gives every caller that asks before a read has *started* the
result of that one read; a caller that asks once it has started gets the next one. So
each caller's result is read after it asked — a client added to the fan-out before
asking misses no update between the two.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SharedRead(Generic[T]):
    """Coalesces calls of ``fetch`` that wait for the same next start."""

    def __init__(self, fetch: Callable[[], Awaitable[T]]) -> None:
        self._fetch = fetch
        self._next: asyncio.Future[T] | None = None
        self._reading: set[asyncio.Task[None]] = set()  # the loop keeps only weak references
        self.reads = 0  # fetches started (for tests and metrics)

    async def get(self) -> T:
        """The result of a fetch started after this call (raises what the fetch raised)."""
        future = self._next
        if future is None:
            future = self._next = asyncio.get_running_loop().create_future()
            task = asyncio.get_running_loop().create_task(self._read(future), name="shared-read")
            self._reading.add(task)
            task.add_done_callback(self._reading.discard)
        return await asyncio.shield(future)  # one caller going away cancels nothing shared

    async def _read(self, future: asyncio.Future[T]) -> None:
        self._next = None  # from here on, callers wait for the next read
        self.reads += 1
        try:
            result = await self._fetch()
        except Exception as exc:  # noqa: BLE001 - handed to every caller, each handles it
            future.set_exception(exc)
            future.exception()  # retrieved here too: no warning if all callers left
            return
        future.set_result(result)
