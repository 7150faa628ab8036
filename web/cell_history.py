"""The last hour of the heatmap: frames of every fine cell, for the time scrubber and trends.

Every ``web.history_interval_s`` (10 s) the web server writes one *frame* — the
fine cell views of the snapshot at that moment, in columns — to Redis, and drops
frames older than ``web.history_s`` (1 h):

* ``<prefix>history`` — sorted set, score = frame time (epoch ms), member = the
  frame as JSON (its time inside makes every member unique);
* ``<prefix>history:cell:<cell>`` — list of ``[t, people, density, risk, los]``,
  the same figures per cell, newest last, trimmed to the kept span and expiring
  with it, so a trend chart reads one short list instead of decoding an hour of
  frames (measured: decoding 360 frames to pick one cell took 164 ms at 1,500
  cells and 2.0 s at 18,000).

Size: a frame costs ~51 bytes per cell (measured with simulated views: 1,500
cells → 76 KB, 18,000 → 0.9 MB), so an hour at 10 s is ~27 MB for the demo
district and ~330 MB at 18,000 cells, plus ~40 bytes per cell and frame for the
series — lengthen the interval for big cities. Several web servers may each
record; a frame replaces any other frame of the same millisecond.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import h3
import orjson
from aiohttp import web
from prometheus_client import Counter
from redis.asyncio import Redis

from alerts.crowd.los import LosConfig
from geo.cells import is_cell
from web import routes
from web.guard import ApiError, check
from web.live import rollup_views
from web.params import EPOCH_MS_MAX, integer

log = logging.getLogger(__name__)

FRAMES = Counter("citybrain_history_frames_total", "History frames written", ["outcome"])
#: Columns kept per cell (those a heatmap, a roll-up and a trend need).
COLUMNS = ("people", "area_m2", "density", "risk", "los", "tickets_total", "alarms")


@dataclass(frozen=True, slots=True)
class Frame:
    """Fine cell views at one moment (epoch ms), in columns."""

    at: int
    cells: tuple[str, ...]
    columns: dict[str, list[Any]]

    @classmethod
    def of(cls, at: int, views: list[dict[str, Any]]) -> Frame:
        good = [v for v in views if isinstance(v.get("cell"), str)]
        return cls(
            at=at,
            cells=tuple(v["cell"] for v in good),
            columns={name: [v.get(name) for v in good] for name in COLUMNS},
        )

    def encode(self) -> bytes:
        return orjson.dumps({"at": self.at, "cells": self.cells, **self.columns})

    @classmethod
    def decode(cls, raw: bytes) -> Frame:
        """A stored frame; ValueError when it is not one."""
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise ValueError(f"history frame is not JSON: {exc}") from None
        if not isinstance(body, dict) or not isinstance(body.get("at"), int):
            raise ValueError("history frame needs an integer 'at'")
        cells = body.get("cells")
        if not isinstance(cells, list) or not all(isinstance(c, str) for c in cells):
            raise ValueError("history frame needs a list of cell ids")
        columns = {name: body.get(name) or [None] * len(cells) for name in COLUMNS}
        if any(not isinstance(col, list) or len(col) != len(cells) for col in columns.values()):
            raise ValueError("history frame columns must match its cells")
        return cls(body["at"], tuple(cells), columns)

    def views(self) -> list[dict[str, Any]]:
        """The cell views of the frame (``cell``, ``lat``, ``lon`` and the columns)."""
        out = []
        for i, cell in enumerate(self.cells):
            lat, lon = h3.cell_to_latlng(cell)
            view = {"cell": cell, "lat": round(lat, 6), "lon": round(lon, 6)}
            view.update({name: col[i] for name, col in self.columns.items()})
            out.append(view)
        return out


class HistoryStore:
    """Frames in a Redis sorted set (module docstring)."""

    def __init__(self, redis: Redis, prefix: str, interval_s: float, keep_s: int) -> None:
        self.redis = redis
        self.key = f"{prefix}history"
        self.interval_s = interval_s
        self.keep_ms = keep_s * 1000

    @property
    def _per_cell(self) -> int:
        """Series entries kept per cell: the kept span's frames, and one for rounding."""
        return int(self.keep_ms / 1000 / self.interval_s) + 1

    async def record(self, frame: Frame) -> None:
        """Add ``frame`` and drop frames older than the kept span (one transaction), and
        append each cell's figures to its series."""
        pipe = self.redis.pipeline(transaction=True)
        pipe.zremrangebyscore(self.key, frame.at, frame.at)  # another server's frame that ms
        pipe.zadd(self.key, {frame.encode(): frame.at})
        pipe.zremrangebyscore(self.key, "-inf", f"({frame.at - self.keep_ms}")
        await pipe.execute()
        keep, ttl = self._per_cell, int(self.keep_ms / 1000)
        pipe = self.redis.pipeline(transaction=False)
        c = frame.columns
        for i, cell in enumerate(frame.cells):
            key = f"{self.key}:cell:{cell}"
            point = [frame.at, c["people"][i], c["density"][i], c["risk"][i], c["los"][i]]
            pipe.rpush(key, orjson.dumps(point))
            pipe.ltrim(key, -keep, -1)
            pipe.expire(key, ttl)
        await pipe.execute()

    async def index(self) -> dict[str, Any]:
        first = await self.redis.zrange(self.key, 0, 0, withscores=True)
        last = await self.redis.zrange(self.key, -1, -1, withscores=True)
        count = await self.redis.zcard(self.key)
        return {
            "from": int(first[0][1]) if first else None,
            "to": int(last[0][1]) if last else None,
            "interval_s": self.interval_s,
            "frames": count,
        }

    async def frame_at(self, at_ms: int) -> Frame | None:
        """The newest frame at or before ``at_ms``."""
        raw = await self.redis.zrevrangebyscore(self.key, at_ms, "-inf", start=0, num=1)
        if not raw:
            return None
        member = raw[0]
        if not isinstance(member, bytes):  # a client with decode_responses would give str
            raise ValueError(f"unexpected history member type {type(member).__name__}")
        return Frame.decode(member)

    async def cell_series(self, cell: str, minutes: int, now_ms: int) -> list[dict[str, Any]]:
        """The cell's figures over the last ``minutes``, oldest first."""
        since = now_ms - minutes * 60_000
        points = []
        for raw in await self.redis.lrange(f"{self.key}:cell:{cell}", 0, -1):
            try:
                t, people, density, risk, los = orjson.loads(raw)
            except (orjson.JSONDecodeError, ValueError, TypeError) as exc:
                FRAMES.labels("unreadable").inc()
                log.warning("skipped a history point of %s: %s", cell, exc)
                continue
            if isinstance(t, int) and t >= since:
                points.append(
                    {"t": t, "people": people, "density": density, "risk": risk, "los": los}
                )
        return sorted(points, key=lambda p: p["t"])

    async def clear(self) -> None:
        keys = [k async for k in self.redis.scan_iter(match=f"{self.key}:cell:*")]
        await self.redis.delete(self.key, *keys)


class HistoryRecorder:
    """Writes a frame of ``cells()`` every interval; failures are logged, counted, retried."""

    def __init__(
        self, store: HistoryStore, cells: Callable[[], Awaitable[list[dict[str, Any]]]]
    ) -> None:
        self.store = store
        self.cells = cells

    async def run(self) -> None:
        while True:
            try:
                views = await self.cells()
                await self.store.record(Frame.of(int(time.time() * 1000), views))
                FRAMES.labels("written").inc()
            except asyncio.CancelledError:
                raise
            except Exception:  # Redis away for a moment: the next frame tries again
                FRAMES.labels("failed").inc()
                log.exception("history frame not written")
            await asyncio.sleep(self.store.interval_s)


def add_routes(app: web.Application, store: HistoryStore, fine: int, los: LosConfig) -> None:
    """``GET /api/history/index``, ``/api/history?at=MS[&res=N]``,
    ``/api/cells/{cell}/history?minutes=M`` (role viewer)."""

    async def index(request: web.Request) -> web.Response:
        check(request, "viewer")
        return routes.json_response(await store.index())

    async def frame(request: web.Request) -> web.Response:
        check(request, "viewer")
        at = integer(request.query.get("at"), 0, EPOCH_MS_MAX)
        if at is None:
            raise ApiError(400, "at must be epoch ms")
        res = integer(request.query.get("res", str(fine)), 0, fine)
        if res is None:
            raise ApiError(400, f"res must be an integer from 0 to {fine}")
        found = await store.frame_at(at)
        if found is None:
            raise ApiError(404, "no history at or before that time")
        views = found.views()
        cells = views if res == fine else rollup_views(views, res, los)
        return routes.json_response({"at": found.at, "resolution": res, "cells": cells})

    async def series(request: web.Request) -> web.Response:
        check(request, "viewer")
        cell = request.match_info["cell"]
        if not is_cell(cell, fine):
            raise ApiError(400, f"{cell[:20]!r} is not an H3 cell at resolution {fine}")
        minutes = integer(request.query.get("minutes", "60"), 1, 60)
        if minutes is None:
            raise ApiError(400, "minutes must be an integer from 1 to 60")
        now = int(time.time() * 1000)
        points = await store.cell_series(cell, minutes, now)
        return routes.json_response({"cell": cell, "points": points})

    app.router.add_get("/api/history/index", index)
    app.router.add_get("/api/history", frame)
    app.router.add_get("/api/cells/{cell}/history", series)
