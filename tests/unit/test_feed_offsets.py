"""The web feed's stored positions: written after the data, read back, and the rewinds
after Redis lost a tail or everything."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from web import store_feed
from web.feed_offsets import FeedOffsets, FeedPositions, rewinds


def test_positions_advance_and_report_only_what_moved() -> None:
    p = FeedPositions()
    p.done("alerts", 0, 5)
    p.done("alerts", 0, 3)  # an older record (a re-read) never moves it back
    p.done("cells.state", 1, 0)
    moved = p.changed()
    assert moved == {("alerts", 0): 6, ("cells.state", 1): 1}
    p.done("alerts", 0, 6)  # while the save was on its way
    p.saved(moved)
    assert p.changed() == {("alerts", 0): 7}
    p.saved(p.changed())
    assert p.changed() == {}


def test_rewinds_only_where_redis_is_behind_or_empty() -> None:
    reading = {("alerts", 0): 10, ("cells.state", 0): 50, ("cells.state", 1): 7}
    stored = {("alerts", 0): 10, ("cells.state", 0): 41}
    assert rewinds(stored, reading) == {("cells.state", 0): 41, ("cells.state", 1): None}
    assert rewinds(reading, reading) == {}


def test_offsets_round_trip_through_redis(redis_url: str) -> None:
    async def run() -> dict:
        redis = Redis.from_url(redis_url)
        try:
            offsets = FeedOffsets(redis, "test-feed-offsets:", "web-1")
            await redis.delete(offsets.key)
            await offsets.save({("p.alerts", 0): 12, ("p.cells.state", 3): 7})
            assert await offsets.load() == {}  # no epoch: not trusted
            await offsets.mark_epoch("1")
            await offsets.save({})
            await redis.hset(offsets.key, "garbage", "x")
            return await offsets.load()
        finally:
            await redis.aclose()

    assert asyncio.run(run()) == {("p.alerts", 0): 12, ("p.cells.state", 3): 7}


class _IdleConsumer:
    """What StoreFeed asks of a consumer when nothing is assigned."""

    def assignment(self) -> set:
        return set()


def test_watch_notices_a_wiped_store_and_resnapshots(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(store_feed, "WATCH_INTERVAL_S", 0.05)

    async def run() -> list[str]:
        redis = Redis.from_url(redis_url)
        events: list[str] = []

        async def resnapshot() -> None:
            events.append("snapshot")

        offsets = FeedOffsets(redis, "test-watch:", "web-1")
        feed = store_feed.StoreFeed(
            _IdleConsumer(),  # type: ignore[arg-type]
            redis,
            offsets,
            on_recovered=resnapshot,
            stopping=lambda: False,
        )
        watch = asyncio.create_task(feed.watch_loop())
        try:
            await offsets.mark_epoch("1")
            await offsets.save({("alerts", 0): 3})
            await asyncio.sleep(0.3)
            assert events == []
            await redis.delete(offsets.key)  # what FLUSHALL or a new empty Redis does to it
            await offsets.save({("alerts", 0): 4})  # a save re-creates it, without the epoch
            for _ in range(40):
                await asyncio.sleep(0.05)
                if events:
                    break
            return events
        finally:
            watch.cancel()
            await redis.aclose()

    assert asyncio.run(run()) == ["snapshot"]
