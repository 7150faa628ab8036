"""A burst of callers shares one read, and no caller gets a read that started before it asked."""

from __future__ import annotations

import asyncio

import pytest

from web.shared_read import SharedRead


class Source:
    def __init__(self) -> None:
        self.version = 0
        self.release = asyncio.Event()
        self.fail = False

    async def fetch(self) -> int:
        seen = self.version  # what the read sees is what was there when it started
        await self.release.wait()
        if self.fail:
            raise ConnectionError("no connection available")
        return seen


@pytest.mark.asyncio
async def test_callers_before_the_start_share_one_read_later_ones_get_the_next() -> None:
    source = Source()
    shared = SharedRead(source.fetch)
    early = [asyncio.create_task(shared.get()) for _ in range(50)]
    await asyncio.sleep(0)  # the read starts
    await asyncio.sleep(0)
    source.version = 1  # an update after the read started
    late = asyncio.create_task(shared.get())
    source.release.set()
    assert await asyncio.gather(*early) == [0] * 50
    assert await late == 1  # its own read, which saw the update
    assert shared.reads == 2


@pytest.mark.asyncio
async def test_a_failed_read_fails_each_caller_and_the_next_one_reads_again() -> None:
    source = Source()
    shared = SharedRead(source.fetch)
    source.fail = True
    source.release.set()
    results = await asyncio.gather(shared.get(), shared.get(), return_exceptions=True)
    assert all(isinstance(r, ConnectionError) for r in results)
    source.fail = False
    assert await shared.get() == 0 and shared.reads == 2


@pytest.mark.asyncio
async def test_a_caller_that_leaves_does_not_cancel_the_read_for_the_others() -> None:
    source = Source()
    shared = SharedRead(source.fetch)
    leaving, staying = asyncio.create_task(shared.get()), asyncio.create_task(shared.get())
    await asyncio.sleep(0)
    leaving.cancel()
    source.release.set()
    assert await staying == 0
    with pytest.raises(asyncio.CancelledError):
        await leaving
