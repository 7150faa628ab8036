"""The audit trail in Redis: every lifecycle transition of every alert, kept for good.

Entries arrive on ``alerts.audit`` (:class:`alerts.incidents.lifecycle.AuditEntry` as JSON)
and are stored idempotently — an entry's id is unique (``<alert>/<version>``,
or ``<alert>/refused/<action id>``), so reading the topic again after a restart
writes nothing new:

* ``<prefix>audit:<alert id>`` — hash, entry id → entry JSON (one alert's trail);
* ``<prefix>audit`` — sorted set of entry ids scored by time (everyone's trail).

Redis runs with AOF (the embedded stack turns it on), so the trail survives a
Redis restart as well as the web server's.
"""

from __future__ import annotations

from typing import Any

import orjson
from redis.asyncio import Redis


def validate_entry(body: object) -> dict[str, Any]:
    """Check an ``alerts.audit`` record; ValueError with the reason."""
    if not isinstance(body, dict):
        raise ValueError("audit entry must be an object")
    for name in ("id", "alert", "action", "by", "from", "to"):
        if not isinstance(body.get(name), str):
            raise ValueError(f"audit field {name!r} must be a string")
    if not isinstance(body.get("at"), int) or isinstance(body.get("at"), bool):
        raise ValueError("audit field 'at' must be epoch ms")
    if not body["id"].startswith(body["alert"] + "/"):
        raise ValueError("audit entry id must start with its alert id")
    return body


class AuditStore:
    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.prefix = prefix
        self.all_key = f"{prefix}audit"

    def _key(self, alert: str) -> str:
        return f"{self.prefix}audit:{alert}"

    async def put(self, entry: dict[str, Any]) -> None:
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self._key(entry["alert"]), entry["id"], orjson.dumps(entry))
        pipe.zadd(self.all_key, {entry["id"]: entry["at"]})
        await pipe.execute()

    async def trail(self, alert: str) -> list[dict[str, Any]]:
        """One alert's entries, oldest first (ties in time: in version order)."""
        raw = await self.redis.hgetall(self._key(alert))
        entries = [orjson.loads(v) for v in raw.values()]
        return sorted(entries, key=_order)

    async def recent(self, limit: int, before: int | None = None) -> list[dict[str, Any]]:
        """Everyone's newest entries (at most ``limit``), newest first; ``before``: epoch ms."""
        top = f"({before}" if before is not None else "+inf"
        ids = await self.redis.zrevrangebyscore(self.all_key, top, "-inf", start=0, num=limit)
        pipe = self.redis.pipeline(transaction=False)
        for raw_id in ids:
            entry_id = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
            pipe.hget(self._key(entry_id.split("/", 1)[0]), entry_id)
        found = [orjson.loads(v) for v in await pipe.execute() if v is not None]
        return sorted(found, key=_order, reverse=True)

    async def clear(self) -> None:
        keys = [k async for k in self.redis.scan_iter(match=f"{self.prefix}audit:*")]
        await self.redis.delete(self.all_key, *keys)


def _order(entry: dict[str, Any]) -> tuple[int, int, str]:
    tail = entry["id"].rsplit("/", 1)[-1]
    return entry["at"], int(tail) if tail.isdigit() else 0, entry["id"]
