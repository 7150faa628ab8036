"""Closed alerts leave the live snapshot after their keep time; open ones never do."""

from __future__ import annotations

import time

import pytest
from redis.asyncio import Redis

from web.snapshot import Snapshot

T0 = 1_790_000_000_000


def alert(id: str, state: str, closed_at: int | None) -> dict:
    return {"id": id, "rule": "r", "severity": "warning", "state": state, "cell": "c",
            "opened_at": T0, "closed_at": closed_at}  # fmt: skip


@pytest.mark.asyncio
async def test_prune_drops_only_alerts_closed_before_the_limit(redis_url: str) -> None:
    redis = Redis.from_url(redis_url)
    snap = Snapshot(redis, f"prune-{time.monotonic_ns()}:")
    try:
        for a in [
            alert("old-resolved", "resolved", T0 + 1_000),
            alert("old-expired", "expired", T0 + 2_000),
            alert("new-resolved", "resolved", T0 + 9_000),
            alert("open", "open", None),
            alert("acked", "acknowledged", None),
        ]:
            await snap.put_alert(a)
        await snap.put_alert(alert("old-shadow", "expired", T0), shadow=True)
        assert await snap.prune_closed(T0 + 5_000) == 3
        assert sorted(a["id"] for a in await snap.alerts()) == ["acked", "new-resolved", "open"]
        assert await snap.alerts(shadow=True) == []
        assert await snap.prune_closed(T0 + 5_000) == 0
    finally:
        await snap.clear()
        await redis.aclose()
