"""The live snapshot in Redis: cell views and alerts as JSON in two hashes.

Keys: ``<prefix>cells`` (field = cell id), ``<prefix>alerts`` (field = alert id) and
``<prefix>alerts:shadow`` (incidents of shadow rules, for engineers).
Several web servers may write the same values; the writes are idempotent.
"""

from __future__ import annotations

from typing import Any

import orjson
from redis.asyncio import Redis


class Snapshot:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.cells_key = f"{prefix}cells"
        self.alerts_key = f"{prefix}alerts"
        self.shadow_key = f"{prefix}alerts:shadow"

    async def apply_cells(self, body: dict[str, Any]) -> None:
        pipe = self.redis.pipeline(transaction=False)
        cells = body.get("cells", [])
        if cells:
            pipe.hset(self.cells_key, mapping={v["cell"]: orjson.dumps(v) for v in cells})
        if body.get("removed"):
            pipe.hdel(self.cells_key, *body["removed"])
        await pipe.execute()

    async def put_alert(self, alert: dict[str, Any], *, shadow: bool = False) -> None:
        key = self.shadow_key if shadow else self.alerts_key
        await self.redis.hset(key, alert["id"], orjson.dumps(alert))

    async def alert(self, alert_id: str, *, shadow: bool = False) -> dict[str, Any] | None:
        raw = await self.redis.hget(self.shadow_key if shadow else self.alerts_key, alert_id)
        return orjson.loads(raw) if raw is not None else None

    async def cells(self) -> list[dict[str, Any]]:
        raw = await self.redis.hgetall(self.cells_key)
        return [orjson.loads(v) for v in raw.values()]

    async def alerts(self, *, shadow: bool = False) -> list[dict[str, Any]]:
        raw = await self.redis.hgetall(self.shadow_key if shadow else self.alerts_key)
        alerts = [orjson.loads(v) for v in raw.values()]
        return sorted(alerts, key=lambda a: a.get("opened_at", 0), reverse=True)

    async def prune_closed(self, closed_before_ms: int) -> int:
        """Drop resolved or expired alerts closed before ``closed_before_ms`` (epoch ms)
        from the live snapshot; their audit trail stays. Returns how many went."""
        gone = 0
        for key in (self.alerts_key, self.shadow_key):
            stale = []
            async for field, raw in self.redis.hscan_iter(key):
                alert = orjson.loads(raw)
                closed = alert.get("closed_at")
                done = alert.get("state") in ("resolved", "expired")
                if done and isinstance(closed, int) and closed < closed_before_ms:
                    stale.append(field)
            if stale:
                gone += await self.redis.hdel(key, *stale)
        return gone

    async def clear(self) -> None:
        await self.redis.delete(self.cells_key, self.alerts_key, self.shadow_key)
