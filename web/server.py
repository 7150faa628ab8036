"""The web server: Kafka → Redis snapshot → websocket fan-out, plus the HTTP API.

One asyncio process: a Kafka consumer of ``cells.state`` and ``alerts`` keeps
the Redis snapshot current and feeds the clients; cell changes are coalesced
and broadcast once per ``web.broadcast_interval_s``; alerts go out at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from http import HTTPStatus
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Gauge, generate_latest
from redis.asyncio import Redis
from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from alerts.los import LosConfig
from alerts.zone_metrics import zone_cell_areas, zone_metrics
from citybrain.settings import Settings
from geo.district import district_geojson, load_district
from geo.zones import zones_geojson
from streams.config import zone_index
from web import routes
from web.live import (
    CellDelta,
    parse_resolution,
    rollup_views,
    validate_alert,
    validate_cells_body,
    zone_cell,
    zone_features,
)
from web.snapshot import Snapshot

log = logging.getLogger(__name__)

WS_CLIENTS = Gauge("citybrain_ws_clients", "Connected websocket clients")
WS_MESSAGES = Counter("citybrain_ws_messages_total", "Messages broadcast", ["type"])
WS_BAD_INPUT = Counter("citybrain_ws_bad_messages_total", "Unusable client messages")
FEED_BAD = Counter("citybrain_web_bad_records_total", "Unusable Kafka records", ["topic"])


def _now_ms() -> int:
    return int(time.time() * 1000)


class WebServer:
    """Start with :meth:`start`, stop with :meth:`stop`; ``port`` is known after start."""

    def __init__(self, settings: Settings, instance: str = "web-1") -> None:
        self.settings = settings
        self.instance = instance
        self.redis = Redis.from_url(settings.redis.url.get_secret_value())
        self.snapshot = Snapshot(self.redis, settings.redis.key_prefix)
        self.delta = CellDelta()
        self.clients: set[ServerConnection] = set()
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._consumer: AIOKafkaConsumer | None = None
        district = load_district()
        self._district = orjson.dumps(district_geojson(district))
        lat, lon = district.centroid
        self._config = {
            "center": [round(lon, 6), round(lat, 6)],
            "zoom": 12.5,
            "h3_resolution": settings.pipeline.h3_resolution,
            "tile_url": settings.web.tile_url,
            "district": "/api/district",
            "district_name": district.name,
            "zones": "/api/zones",
        }
        self.port: int = settings.web.port
        self._los = LosConfig.from_mapping(settings.pipeline.los)  # the worker's bands
        self._zones = zone_index(settings)
        self._zone_areas = zone_cell_areas(self._zones) if self._zones else {}
        self._zone_layer = zones_geojson(self._zones.zones.values()) if self._zones else None

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        k = self.settings.kafka
        self._consumer = AIOKafkaConsumer(
            k.topic("cells.state"),
            k.topic("alerts"),
            bootstrap_servers=k.bootstrap_servers(),
            group_id=f"{k.topic_prefix}citybrain-{self.instance}",
            auto_offset_reset="earliest",
            enable_auto_commit=True,
            session_timeout_ms=int(k.session_timeout_s * 1000),
            heartbeat_interval_ms=int(k.heartbeat_interval_s * 1000),
            rebalance_timeout_ms=int(k.rebalance_timeout_s * 1000),
        )
        await self._consumer.start()
        w = self.settings.web
        self._server = await serve(
            self._handle,
            w.host,
            w.port,
            process_request=self._http,
            max_size=w.max_message_bytes,
            compression=None,
            ping_interval=20,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._tasks = [
            asyncio.create_task(self._feed(), name="kafka-feed"),
            asyncio.create_task(self._broadcast_loop(), name="broadcast"),
        ]
        log.info("web server on http://%s:%d/", w.host, self.port)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        if self._consumer is not None:
            await self._consumer.stop()
        await self.redis.aclose()

    async def serve_forever(self, stop: asyncio.Event) -> None:
        await self.start()
        try:
            await stop.wait()
        finally:
            await self.stop()

    # -- Kafka → Redis → clients -----------------------------------------------------------
    async def _feed(self) -> None:
        assert self._consumer is not None
        alerts_topic = self.settings.kafka.topic("alerts")
        async for record in self._consumer:
            try:
                body = orjson.loads(record.value) if record.value is not None else None
                if record.topic == alerts_topic:
                    alert = validate_alert(body)
                    await self.snapshot.put_alert(alert)
                    self._send({"type": "alert", "server_time": _now_ms(), "alert": alert})
                else:
                    cells = validate_cells_body(body)
                    await self.snapshot.apply_cells(cells)
                    self.delta.apply(cells)
            except (orjson.JSONDecodeError, ValueError) as exc:
                FEED_BAD.labels(record.topic).inc()
                log.warning("skipped bad record %s@%d: %s", record.topic, record.offset, exc)

    async def _broadcast_loop(self) -> None:
        interval = self.settings.web.broadcast_interval_s
        while True:
            await asyncio.sleep(interval)
            if self.delta:
                self._send(self.delta.take(_now_ms()))

    def _send(self, message: dict[str, Any]) -> None:
        WS_MESSAGES.labels(message["type"]).inc()
        broadcast(self.clients, orjson.dumps(message).decode())

    # -- websocket -------------------------------------------------------------------------
    async def _handle(self, ws: ServerConnection) -> None:
        self.clients.add(ws)  # before the snapshot read, so no update falls between the two
        WS_CLIENTS.set(len(self.clients))
        try:
            snapshot = {
                "type": "snapshot",
                "server_time": _now_ms(),
                "resolution": self.settings.pipeline.h3_resolution,
                "cells": await self.snapshot.cells(),
                "alerts": await self.snapshot.alerts(),
            }
            await ws.send(orjson.dumps(snapshot).decode())
            async for message in ws:
                await ws.send(orjson.dumps(self._answer(message)).decode())
        except ConnectionClosed:
            pass  # the client left; nothing to clean up beyond the finally
        finally:
            self.clients.discard(ws)
            WS_CLIENTS.set(len(self.clients))

    def _answer(self, message: str | bytes) -> dict[str, Any]:
        try:
            body = orjson.loads(message)
        except orjson.JSONDecodeError:
            body = None
        if isinstance(body, dict) and body.get("type") == "ping":
            return {"type": "pong", "server_time": _now_ms()}
        WS_BAD_INPUT.inc()
        return {"type": "error", "error": 'unsupported message; send {"type":"ping"}'}

    # -- HTTP ------------------------------------------------------------------------------
    async def _cells(self, query: str) -> Response:
        """Fine cell views, or roll-ups with ``?res=N`` (N below the fine resolution)."""
        fine = self.settings.pipeline.h3_resolution
        try:
            res = parse_resolution(query, fine)
        except ValueError as exc:
            return routes.error(400, str(exc))
        cells = await self.snapshot.cells()
        if res is None or res == fine:
            return routes.json_response({"resolution": fine, "cells": cells})
        return routes.json_response(
            {"resolution": res, "cells": rollup_views(cells, res, self._los)}
        )

    async def _zone_view(self) -> Response:
        """The zone layer (WGS-84 GeoJSON) with live per-zone crowd and risk figures."""
        if self._zones is None or self._zone_layer is None:
            return routes.json_response({"type": "FeatureCollection", "features": []})
        live = {v["cell"]: zone_cell(v) for v in await self.snapshot.cells()}
        figures = zone_metrics(self._zones, self._zone_areas, live, self._los)
        return routes.json_response(zone_features(self._zone_layer, figures))

    async def _http(self, connection: ServerConnection, request: Request) -> Response | None:
        path = request.path.split("?", 1)[0]
        if path == "/ws":
            if request.headers.get("Upgrade", "").lower() != "websocket":
                return connection.respond(HTTPStatus.UPGRADE_REQUIRED, "websocket only\n")
            return None
        if path == "/healthz":
            return routes.json_response({"status": "ok"})
        if path == "/metrics":
            return routes.response(200, generate_latest(), CONTENT_TYPE_LATEST)
        if path == "/api/config":
            return routes.json_response(self._config)
        if path == "/api/district":
            return routes.response(200, self._district, "application/geo+json")
        if path == "/api/cells":
            return await self._cells(request.path.partition("?")[2])
        if path == "/api/zones":
            return await self._zone_view()
        if path == "/api/alerts":
            return routes.json_response({"alerts": await self.snapshot.alerts()})
        if path.startswith("/api/"):
            return routes.error(404, f"no such endpoint: {path}")
        return routes.static_file(path)
