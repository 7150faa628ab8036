"""Grid workers (网格员) on the web side: views, the live board, staleness, nearest, store, API.

A grid worker view (docs/protocol.md, "Grid workers") is
``{"id", "name", "grid", "lat", "lon", "status": "online"|"offline", "updated_at"}``,
WGS-84 degrees and epoch ms, one per ``workers.state`` record (streams/worker/workers_agent.py).

Pure parts: :func:`validate_worker_view`, :func:`shown` (staleness),
:class:`WorkerBoard` (coalescing between broadcasts), :func:`nearest_online`.
Edges: :class:`WorkerStore` (Redis hash ``<prefix>workers``) and :func:`routes`
(``GET /api/workers``).
"""

from __future__ import annotations

import heapq
import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any, Final, Literal

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError
from redis.asyncio import Redis

from geo.measure import EARTH_RADIUS_M, distance_m
from web import routes as answers
from web.guard import requires, signed_in

View = dict[str, Any]

_Ident = Annotated[StrictStr, Field(min_length=1, max_length=128)]
_Lat = Annotated[float, Field(strict=True, ge=-90, le=90, allow_inf_nan=False)]
_Lon = Annotated[float, Field(strict=True, ge=-180, le=180, allow_inf_nan=False)]


class _WorkerView(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)

    id: _Ident
    name: Annotated[StrictStr, Field(max_length=64)] | None = None
    grid: _Ident
    lat: _Lat
    lon: _Lon
    status: Literal["online", "offline"]
    updated_at: Annotated[StrictInt, Field(ge=0)]


def validate_worker_view(body: object) -> View:
    """A ``workers.state`` record value checked and reduced to the view's fields.

    Raises ValueError naming every bad field.
    """
    if not isinstance(body, dict):
        raise ValueError("grid worker view must be an object")
    try:
        return _WorkerView.model_validate(body).model_dump()
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        reason = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'view'}: {e['msg']}" for e in errors)
        raise ValueError(f"bad grid worker view: {reason}") from None


def shown(view: Mapping[str, Any], now_ms: int, stale_ms: int) -> View:
    """``view`` as the map shows it at ``now_ms``: ``offline`` once its worker has not
    been heard from for ``stale_ms`` or more (a phone that died says nothing)."""
    out = dict(view)
    if out["status"] == "online" and now_ms - out["updated_at"] >= stale_ms:
        out["status"] = "offline"
    return out


def shown_all(views: Iterable[Mapping[str, Any]], now_ms: int, stale_ms: int) -> list[View]:
    """:func:`shown` of every view, sorted by worker id."""
    return sorted((shown(v, now_ms, stale_ms) for v in views), key=lambda v: v["id"])


@dataclass(slots=True)
class WorkerBoard:
    """The newest view of each grid worker and what the clients were last sent.

    :meth:`apply` keeps a view unless an older ``updated_at`` than the one held (a
    late record); :meth:`take`, once per broadcast tick, gives the ``workers``
    message of every worker whose shown view changed since the last one, including
    those that went stale in between. ``stale_ms`` as for :func:`shown`.
    """

    stale_ms: int
    _views: dict[str, View] = field(default_factory=dict)
    _sent: dict[str, View] = field(default_factory=dict)

    def apply(self, view: View) -> bool:
        """Hold ``view`` (validated) unless it is older than the held one; True if held."""
        held = self._views.get(view["id"])
        if held is not None and view["updated_at"] < held["updated_at"]:
            return False
        self._views[view["id"]] = view
        return True

    def take(self, now_ms: int) -> dict[str, Any] | None:
        """The ``workers`` message for the changes since the last take, or None."""
        changed = []
        for worker, view in self._views.items():
            now_shown = shown(view, now_ms, self.stale_ms)
            if self._sent.get(worker) != now_shown:
                self._sent[worker] = now_shown
                changed.append(now_shown)
        if not changed:
            return None
        changed.sort(key=lambda v: v["id"])
        # Workers are never removed today; "removed" is part of the message contract.
        return {"type": "workers", "server_time": now_ms, "workers": changed, "removed": []}

    def views(self, now_ms: int) -> list[View]:
        """Every held worker as shown at ``now_ms``, by id."""
        return shown_all(self._views.values(), now_ms, self.stale_ms)


def nearest_online(
    workers: Iterable[Mapping[str, Any]],
    lat: float,
    lon: float,
    limit: int = 5,
    max_m: float = 3000.0,
) -> list[View]:
    """The ``limit`` nearest ``online`` workers within ``max_m`` metres of WGS-84
    ``(lat, lon)``, nearest first (ties by id), each view with ``distance_m``
    (great circle, m, 0.1 m). Pass views as shown (:func:`shown_all`) so stale
    workers count as offline. ValueError for a negative ``limit`` or ``max_m``."""
    if limit < 0 or not max_m >= 0:
        raise ValueError(f"limit and max_m must be >= 0, got {limit} and {max_m}")
    band = math.degrees(max_m / EARTH_RADIUS_M)  # no point further in latitude is in range
    found = []
    for view in workers:
        if view["status"] != "online" or abs(view["lat"] - lat) > band:
            continue
        d = distance_m(lat, lon, view["lat"], view["lon"])
        if d <= max_m:
            found.append((round(d, 1), view["id"], view))  # equal as shown: ties by id
    nearest = heapq.nsmallest(limit, found, key=lambda f: (f[0], f[1]))
    return [{**view, "distance_m": d} for d, _, view in nearest]


# Stores a view unless the hash holds a newer one of the same worker, atomically, so
# that several web servers (or one catching up) never put an older view back.
_PUT_NEWER: Final = """
local held = redis.call('HGET', KEYS[1], ARGV[1])
if held then
  local ok, view = pcall(cjson.decode, held)
  if ok and type(view) == 'table' and tonumber(view['updated_at'])
     and tonumber(view['updated_at']) > tonumber(ARGV[2]) then
    return 0
  end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
return 1
"""


class WorkerStore:
    """Grid worker views in the Redis hash ``<prefix>workers`` (field = worker id,
    value = the newest view as JSON, as reported: staleness is applied on reading)."""

    def __init__(self, redis: Redis, prefix: str) -> None:
        self.redis = redis
        self.key = f"{prefix}workers"
        self._put = redis.register_script(_PUT_NEWER)

    async def put(self, view: Mapping[str, Any]) -> bool:
        """Store ``view`` (validated) unless a newer one is held; True if stored."""
        args = [view["id"], view["updated_at"], orjson.dumps(view)]
        return bool(await self._put(keys=[self.key], args=args))

    async def all(self) -> list[View]:
        """Every stored view, by worker id."""
        raw = await self.redis.hgetall(self.key)
        return sorted((orjson.loads(v) for v in raw.values()), key=lambda v: v["id"])

    async def clear(self) -> None:
        await self.redis.delete(self.key)


def routes(app: web.Application, store: WorkerStore, stale_ms: int) -> None:
    """Add ``GET /api/workers`` (role viewer, signed in: not for anonymous viewers):
    ``{"workers": [view as shown…]}`` by id."""

    @requires("viewer")
    async def get_workers(request: web.Request) -> web.Response:
        signed_in(request)  # who and where the grid workers are: 401 for anonymous viewers
        now = int(time.time() * 1000)
        return answers.json_response({"workers": shown_all(await store.all(), now, stale_ms)})

    app.router.add_get("/api/workers", get_workers)
