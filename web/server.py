"""The web server: Kafka → Redis snapshot → websocket fan-out, plus the HTTP API.

One asyncio process (aiohttp): a Kafka consumer of ``cells.state`` and ``alerts``
keeps the Redis snapshot current and feeds the clients; cell changes are
coalesced and broadcast once per ``web.broadcast_interval_s``; alerts go out at
once. Each message is serialised once and fanned out by :mod:`web.fanout`.
Callers and roles: :mod:`web.guard`. Ticket text in alerts is stored and sent
masked; the unmasked text (``hotline.private``) only through :mod:`web.tickets`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import orjson
from aiohttp import WebSocketError, WSCloseCode, WSMsgType, web
from aiokafka import AIOKafkaConsumer, ConsumerRecord
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import RedisError

from alerts.crowd.los import LosConfig
from alerts.crowd.zone_metrics import zone_cell_areas, zone_metrics
from citybrain.config.settings import Settings
from citybrain.config.topics import (
    ALERTS,
    ALERTS_AUDIT,
    ALERTS_SHADOW,
    CELLS_STATE,
    HOTLINE_PRIVATE,
    WORKERS_STATE,
)
from geo.district import district_geojson, load_district
from geo.places import place_namer
from geo.zones import zones_geojson
from streams.io.background import keep_running
from streams.io.broker_watch import BrokerWatch
from streams.io.lag import refresh_forever
from streams.pipeline.config import zone_index
from streams.pipeline.privacy import redact_alert
from web import guard, headers, protect, routes, serving, telemetry
from web.audit import AuditStore, validate_entry
from web.auth import WS_PROTOCOL, TokenTable
from web.cell_history import HistoryRecorder, HistoryStore
from web.cell_history import add_routes as history_routes
from web.desk_api import AlertDesk
from web.fanout import Audience, Fanout
from web.feed_offsets import FeedOffsets
from web.live import (
    CellDelta,
    parse_resolution,
    rollup_views,
    validate_alert,
    validate_cells_body,
    zone_cell,
    zone_features,
)
from web.params import integer
from web.places_api import PlaceRoutes
from web.public_view import public_nearby
from web.query_api import SpatialQueries, load_layers
from web.rules_api import RuleLog
from web.shared_read import SharedRead
from web.snapshot import Snapshot
from web.store_feed import StoreFeed
from web.tickets import TicketTexts, ViewAudit, validate_private_text
from web.tickets import add_routes as ticket_routes
from web.workers import (
    WorkerBoard,
    WorkerStore,
    nearest_online,
    shown_all,
    validate_worker_view,
)
from web.workers import routes as worker_routes
from web.ws_handshake import handshake_request

log = logging.getLogger(__name__)

WS_MESSAGES = Counter("citybrain_ws_messages_total", "Messages broadcast", ["type"])
WS_BAD_INPUT = Counter("citybrain_ws_bad_messages_total", "Unusable client messages")
WS_TOO_BIG = Counter(
    "citybrain_ws_too_big_total", "Client messages larger than web.max_message_bytes (closed, 1009)"
)
FEED_BAD = Counter("citybrain_web_bad_records_total", "Unusable Kafka records", ["topic"])
PING_INTERVAL_S = 20.0  # websocket keep-alive; a client silent for half of it more is closed
SHUTDOWN_TIMEOUT_S = 5.0
CANCEL_GRACE_S = 1.0  # stop(): a background task still running this long is cancelled again
CANCEL_ATTEMPTS = 10
READY_TIMEOUT_S = 2.0
PRUNE_INTERVAL_S = 60.0
NEARBY_MAX_M = 3000  # video linkage: largest radius asked for
NEARBY_CAMERAS = 20
NEARBY_WORKERS = 5


def _now_ms() -> int:
    return int(time.time() * 1000)


async def cancel_and_wait(task: asyncio.Task[None], grace_s: float = CANCEL_GRACE_S) -> None:
    """Cancel ``task`` and wait until it has ended, cancelling again while it carries on.

    One cancellation is not always enough: on Python 3.11, ``asyncio.wait_for`` returns
    the inner result instead of raising when the cancellation arrives just as the inner
    operation finishes (CPython gh-86296), and redis-py wraps every socket write in it when
    a ``socket_timeout`` is set (its default is 5 s). ``_feed`` catching up on a long
    history writes to Redis almost all the time, so its cancellation was often lost: it
    went on to wait for the next record and :meth:`WebServer.stop` awaited it for ever.
    ``_feed`` also checks ``_stopping`` between records; a repeated cancel reaches it
    while it waits for Kafka, where nothing swallows it.
    """
    for attempt in range(1, CANCEL_ATTEMPTS + 1):
        task.cancel()
        await asyncio.wait([task], timeout=grace_s)
        if task.done():
            break
        log.warning(
            "task %s still running %g s after cancel #%d", task.get_name(), grace_s, attempt
        )
    else:
        log.error("task %s did not stop after %d cancellations", task.get_name(), CANCEL_ATTEMPTS)
        return
    if not task.cancelled() and (exc := task.exception()) is not None:
        log.error("task %s had failed: %r", task.get_name(), exc, exc_info=exc)


class WebServer:
    """Start with :meth:`start`, stop with :meth:`stop`; ``port`` is known after start."""

    def __init__(self, settings: Settings, instance: str = "web-1") -> None:
        self.settings = settings
        self.instance = instance
        r = settings.redis
        self.redis = Redis(  # blocking: a burst of clients waits for a connection, none fails
            connection_pool=BlockingConnectionPool.from_url(
                r.url.get_secret_value(),
                max_connections=r.max_connections,
                timeout=r.pool_timeout_s,
            )
        )
        self.snapshot = Snapshot(self.redis, settings.redis.key_prefix)
        # A burst of clients connecting shares each snapshot read (web/shared_read.py).
        self._snapshots = SharedRead(self._snapshot_texts)
        self.delta = CellDelta()
        self._worker_stale_ms = round(settings.web.worker_stale_s * 1000)
        self.workers = WorkerBoard(self._worker_stale_ms)
        self.worker_store = WorkerStore(self.redis, settings.redis.key_prefix)
        w = settings.web
        self.fanout = Fanout(queue_max=w.send_queue_max, send_timeout_s=w.send_timeout_s)
        self._runner: serving.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._consumer: AIOKafkaConsumer | None = None
        self.broker = BrokerWatch(settings.kafka.bootstrap_servers())
        self._stopping = False  # set by stop(): _feed ends even if its cancellation was lost
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
            "layers": "/api/layers",
        }
        self.port: int = settings.web.port
        self._los = LosConfig.from_mapping(settings.pipeline.los)  # the worker's bands
        self._zones = zone_index(settings)
        self._zone_areas = zone_cell_areas(self._zones) if self._zones else {}
        self._zone_layer = zones_geojson(self._zones.zones.values()) if self._zones else None
        self.rules = RuleLog(settings)
        self.layers = load_layers(settings.layers.paths, settings.layers.generated_dir)
        self.places = PlaceRoutes(
            place_namer(settings.pipeline.h3_resolution, self._zones, self.layers.outlines)
        )
        self.queries = SpatialQueries(
            self.layers, self.snapshot.cells, self._worker_views, self._los
        )
        self.audit = AuditStore(self.redis, settings.redis.key_prefix)
        w = settings.web
        self.history = HistoryStore(
            self.redis, settings.redis.key_prefix, w.history_interval_s, w.history_s
        )
        self.desk = AlertDesk(settings, self.snapshot, self.audit)
        privacy = settings.privacy
        self.ticket_texts = TicketTexts(
            self.redis, settings.redis.key_prefix, privacy.ticket_text_s * 1000
        )
        self.ticket_views = ViewAudit(
            self.redis, settings.redis.key_prefix, privacy.view_audit_s * 1000
        )
        self.app = self._build_app()

    def _build_app(self) -> web.Application:
        a = self.settings.auth
        app = web.Application(client_max_size=self.settings.web.max_body_bytes)
        tokens = TokenTable(
            ((t.name, t.role, t.token.get_secret_value()) for t in a.tokens),
            desks={t.name: t.desks for t in a.tokens},
        )
        anonymous = None if a.anonymous_role == "none" else a.anonymous_role
        guard.setup(app, tokens, anonymous, self.settings.web.max_body_bytes)
        protect.setup(app, protect.ProtectConfig.from_settings(self.settings.web))
        headers.setup(app, self.settings.web.tile_url)
        viewer = guard.requires("viewer")  # reading the live picture
        r = app.router
        r.add_get("/ws", viewer(self._websocket), allow_head=False)
        r.add_get("/healthz", self._healthz)
        r.add_get("/readyz", self._readyz)
        r.add_get("/metrics", viewer(self._metrics))
        r.add_get("/api/config", viewer(self._api_config))
        r.add_get("/api/district", viewer(self._api_district))
        r.add_get("/api/cells", viewer(self._cells))
        r.add_get("/api/zones", viewer(self._zone_view))
        r.add_get("/api/whoami", self._whoami)
        self.desk.routes(app)
        r.add_get("/api/alerts/{id}/nearby", viewer(self._nearby))
        self.rules.routes(app)
        self.queries.routes(app)
        self.places.routes(app)
        worker_routes(app, self.worker_store, self._worker_stale_ms)
        history_routes(app, self.history, self.settings.pipeline.h3_resolution, self._los)
        ticket_routes(app, self.ticket_texts, self.ticket_views)
        r.add_get("/api/{tail:.*}", viewer(self._no_endpoint))  # no probing without a token
        r.add_get("/{tail:.*}", self._static)
        return app

    # -- lifecycle -------------------------------------------------------------------------
    async def start(self) -> None:
        k = self.settings.kafka
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=k.bootstrap_servers(),
            group_id=f"{k.topic_prefix}citybrain-{self.instance}",
            auto_offset_reset="earliest",
            enable_auto_commit=True,
            session_timeout_ms=int(k.session_timeout_s * 1000),
            heartbeat_interval_ms=int(k.heartbeat_interval_s * 1000),
            rebalance_timeout_ms=int(k.rebalance_timeout_s * 1000),
            fetch_max_wait_ms=k.fetch_max_wait_ms,
        )
        self.feed = StoreFeed(
            self._consumer,
            self.redis,
            FeedOffsets(self.redis, self.settings.redis.key_prefix, self.instance),
            on_recovered=self._resnapshot,
            stopping=lambda: self._stopping,
        )
        topics = (CELLS_STATE, ALERTS, ALERTS_SHADOW, ALERTS_AUDIT, WORKERS_STATE, HOTLINE_PRIVATE)
        self._consumer.subscribe([k.topic(t) for t in topics], listener=self.feed.listener)
        await self._consumer.start()
        await self.rules.start()
        await self.desk.start()
        w = self.settings.web
        # JSON answers to unparsable requests, an access log without queries (web/serving.py)
        self._runner = serving.AppRunner(self.app, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
        await self._runner.setup()
        await web.TCPSite(self._runner, w.host, w.port).start()
        self.port = int(self._runner.addresses[0][1])
        self._tasks = [
            asyncio.create_task(self.feed.run(self._apply_record), name="kafka-feed"),
            asyncio.create_task(self.feed.save_loop(), name="feed-positions"),
            asyncio.create_task(self.feed.watch_loop(), name="redis-watch"),
            asyncio.create_task(keep_running("broker probe", self.broker.run), name="broker-watch"),
            asyncio.create_task(self._broadcast_loop(), name="broadcast"),
            asyncio.create_task(self.rules.run(), name="rules-log"),
            asyncio.create_task(
                HistoryRecorder(self.history, self.snapshot.cells).run(), name="history"
            ),
            asyncio.create_task(self._prune_loop(), name="prune-closed"),
            asyncio.create_task(
                keep_running("alert counts", lambda: telemetry.follow_alert_counts(self.snapshot)),
                name="alert-counts",
            ),
            asyncio.create_task(
                keep_running(
                    "consumer lag",
                    lambda: refresh_forever(lambda: telemetry.feed_offsets(self._consumer)),
                ),
                name="lag",
            ),
        ]
        log.info("web server on http://%s:%d/", w.host, self.port)

    async def stop(self) -> None:
        self._stopping = True
        await asyncio.gather(*(cancel_and_wait(task) for task in self._tasks))
        await self.fanout.close_all()  # 1001 going away, as clients expect on a restart
        if self._runner is not None:
            await self._runner.cleanup()
        if self._consumer is not None:
            await self._consumer.stop()
        await self.rules.stop()
        await self.desk.stop()
        await self.redis.aclose(close_connection_pool=True)  # ours: passed in, not owned

    async def serve_forever(self, stop: asyncio.Event) -> None:
        """Start, serve until ``stop`` is set, stop. A stop asked for while starting (a
        broker or Redis that does not answer makes starting wait) ends the start and
        stops what it had started, within the shutdown timeouts."""
        starting = asyncio.create_task(self.start(), name="start")
        stopped = asyncio.create_task(stop.wait(), name="stop-signal")
        try:
            await asyncio.wait({starting, stopped}, return_when=asyncio.FIRST_COMPLETED)
            if starting.done():
                starting.result()  # a failed start raises here
                await stopped
            else:
                log.info("stop asked for while starting: starting abandoned")
                self._stopping = True  # what waits for Redis gives up (web/store_feed.py)
                await cancel_and_wait(starting)
        finally:
            stopped.cancel()
            await self.stop()

    # -- Kafka → Redis → clients -----------------------------------------------------------
    async def _apply_record(self, record: ConsumerRecord[Any, Any]) -> None:
        """Write one Kafka record into Redis and queue what clients must hear of it.
        Redis errors propagate (web/store_feed.py waits and retries); a bad record is
        counted, logged and skipped."""
        k = self.settings.kafka
        try:
            body = orjson.loads(record.value) if record.value is not None else None
            if record.topic == k.topic(WORKERS_STATE):
                view = validate_worker_view(body)
                if self.workers.apply(view):  # an older view than the one held is dropped
                    await self.worker_store.put(view)  # (a retry applies the same view again)
            elif record.topic == k.topic(ALERTS_AUDIT):  # who did what: kept for good
                await self.audit.put(validate_entry(body))
            elif record.topic == k.topic(HOTLINE_PRIVATE):  # unmasked: GET /api/tickets only
                await self.ticket_texts.put(validate_private_text(body), _now_ms())
            elif record.topic == k.topic(ALERTS_SHADOW):  # engineers read these; no desk
                alert = self.places.name_alert(redact_alert(validate_alert(body)))
                await self.snapshot.put_alert(alert, shadow=True)
            elif record.topic == k.topic(ALERTS):
                # masked even from older workers; named by its place (web/places_api.py)
                alert = self.places.name_alert(redact_alert(validate_alert(body)))
                await self.snapshot.put_alert(alert)
                sent = _now_ms()
                self._send({"type": "alert", "server_time": sent, "alert": alert})
                telemetry.observe_broadcast("alert", [record.timestamp], sent)
            else:
                cells = validate_cells_body(body)
                await self.snapshot.apply_cells(cells)
                self.delta.apply(cells, record.timestamp)
        except (orjson.JSONDecodeError, ValueError) as exc:
            FEED_BAD.labels(record.topic).inc()
            log.warning("skipped bad record %s@%d: %s", record.topic, record.offset, exc)

    async def _snapshot_message(self) -> dict[str, Any]:
        """Everything a client needs to start from (the ``snapshot`` message)."""
        return {
            "type": "snapshot",
            "server_time": _now_ms(),
            "resolution": self.settings.pipeline.h3_resolution,
            "cells": await self.snapshot.cells(),
            "alerts": await self.snapshot.alerts(),
            "workers": await self._worker_views(),
        }

    async def _snapshot_texts(self) -> tuple[str, str]:
        """The snapshot message serialised once: for signed-in clients, and for anonymous
        viewers (the same without grid workers; the cells are not serialised twice)."""
        message = await self._snapshot_message()
        workers = message.pop("workers")
        base = orjson.dumps(message)[:-1]  # the object without its closing brace
        full = base + b',"workers":' + orjson.dumps(workers) + b"}"
        return full.decode(), (base + b',"workers":[]}').decode()

    async def _resnapshot(self) -> None:
        """Redis came back: every client starts again from what Redis holds now."""
        full, public = await self._snapshot_texts()
        self.delta = CellDelta()  # contained in the snapshot
        WS_MESSAGES.labels("snapshot").inc()
        self.fanout.broadcast(full, to="signed_in")
        self.fanout.broadcast(public, to="public")

    async def _broadcast_loop(self) -> None:
        interval = self.settings.web.broadcast_interval_s
        while True:
            await asyncio.sleep(interval)
            if self.delta:
                sent = _now_ms()
                message, records = self.delta.take_with_records(sent)
                self._send(message)
                telemetry.observe_broadcast("cells", records, sent)
            workers = self.workers.take(_now_ms())  # new reports, and workers gone stale
            if workers is not None:
                self._send(workers, to="signed_in")  # who and where: not for anonymous viewers

    async def _prune_loop(self) -> None:
        """Once a minute, let alerts closed longer than ``web.closed_alerts_s`` go from the
        live view (bounded Redis; the audit trail keeps them)."""
        keep_ms = self.settings.web.closed_alerts_s * 1000
        while True:
            try:
                gone = await self.snapshot.prune_closed(_now_ms() - keep_ms)
                if gone:
                    log.info("pruned %d closed alerts from the live view", gone)
            except (OSError, RedisError, orjson.JSONDecodeError) as exc:
                log.warning("pruning closed alerts failed (next minute again): %r", exc)
            await asyncio.sleep(PRUNE_INTERVAL_S)

    def _send(self, message: dict[str, Any], to: Audience = "all") -> None:
        """Serialise ``message`` once and queue it for the clients ``to``; never waits."""
        WS_MESSAGES.labels(message["type"]).inc()
        self.fanout.broadcast(orjson.dumps(message).decode(), to=to)

    # -- websocket -------------------------------------------------------------------------
    async def _websocket(self, request: web.Request) -> web.StreamResponse:
        """``/ws``: the snapshot, then broadcasts; pings answered, anything else refused."""
        if request.headers.get("Upgrade", "").lower() != "websocket":
            return routes.response(426, b"websocket only\n", "text/plain; charset=utf-8")
        ws = web.WebSocketResponse(
            max_msg_size=self.settings.web.max_message_bytes + 1,  # aiohttp refuses size ≥ this
            protocols=(WS_PROTOCOL,),  # chosen when a browser offers its token (web/auth.py)
            compress=False,  # ~70 KiB less per connection; cell JSON is small and frequent
            heartbeat=PING_INTERVAL_S,
        )
        await ws.prepare(handshake_request(request))  # no token reaches aiohttp's log
        transport = request.transport
        public = guard.anonymous(request)
        client = self.fanout.add(  # before the snapshot read, so no update falls between
            ws,
            peer=str(request.remote),
            abort=transport.abort if transport else lambda: None,
            public=public,
        )
        limiter = protect.message_limiter(request.app)  # this connection's message budget
        try:
            try:
                full, public_snapshot = await self._snapshots.get()
            except (RedisError, ConnectionError) as exc:
                # After the upgrade an HTTP 503 would be garbage on the socket: say it in
                # a close frame instead (1013: try again later; the map reconnects).
                guard.STORE_UNAVAILABLE.inc()
                log.warning("websocket %s: no snapshot, live store away: %r", request.remote, exc)
                await client.close(WSCloseCode.TRY_AGAIN_LATER, b"live store unavailable")
                return ws
            client.start(public_snapshot if public else full)
            async for message in ws:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    if not limiter.allow(time.monotonic()):
                        log.info("websocket %s: too many messages; closed", request.remote)
                        await client.close(WSCloseCode.POLICY_VIOLATION, b"too many messages")
                        break
                    client.offer(orjson.dumps(self._answer(message.data)).decode())
                elif message.type is WSMsgType.ERROR:  # e.g. too big: aiohttp closes (1009)
                    error = message.data
                    too_big = WSCloseCode.MESSAGE_TOO_BIG
                    if isinstance(error, WebSocketError) and error.code == too_big:
                        WS_TOO_BIG.inc()
                    log.info("websocket %s: %s", request.remote, error)
        finally:
            await self.fanout.remove(client)
        return ws

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
    async def _healthz(self, request: web.Request) -> web.Response:
        return routes.json_response({"status": "ok"})

    async def _readyz(self, request: web.Request) -> web.Response:
        """Ready to serve: Redis answers, the Kafka feed has its partitions and runs.
        503 with the failing checks otherwise (open to all, like /healthz)."""
        checks = {
            "broker": self.broker.up,
            "redis": False,
            "kafka_assigned": False,
            "feed_running": False,
        }
        try:
            checks["redis"] = bool(await asyncio.wait_for(self.redis.ping(), READY_TIMEOUT_S))
        except (TimeoutError, OSError, RedisError) as exc:
            log.warning("readyz: redis: %r", exc)
        if self._consumer is not None:
            checks["kafka_assigned"] = bool(self._consumer.assignment())
        feed = next((t for t in self._tasks if t.get_name() == "kafka-feed"), None)
        checks["feed_running"] = feed is not None and not feed.done()
        ready = all(checks.values())
        return routes.json_response(
            {"status": "ready" if ready else "not ready", "checks": checks},
            status=200 if ready else 503,
        )

    async def _metrics(self, request: web.Request) -> web.Response:
        return routes.response(200, generate_latest(), CONTENT_TYPE_LATEST)

    async def _api_config(self, request: web.Request) -> web.Response:
        return routes.json_response(self._config)

    async def _api_district(self, request: web.Request) -> web.Response:
        return routes.response(200, self._district, "application/geo+json")

    async def _worker_views(self) -> list[dict[str, Any]]:
        """Grid workers as the map shows them (stale ones offline)."""
        return shown_all(await self.worker_store.all(), _now_ms(), self._worker_stale_ms)

    async def _nearby(self, request: web.Request) -> web.Response:
        """Video linkage: cameras within ``radius_m`` (default 500, ≤ 3000) of an alert,
        nearest first, and the nearest online grid workers (≤ 5, within 3 km)."""
        radius = integer(request.query.get("radius_m", "500"), 1, NEARBY_MAX_M)
        if radius is None:
            return routes.error(400, f"radius_m must be an integer from 1 to {NEARBY_MAX_M}")
        alert_id = request.match_info["id"]
        alert = await self.snapshot.alert(alert_id)
        if alert is None:
            return routes.error(404, f"no such alert: {alert_id[:64]}")
        lat, lon = float(alert["lat"]), float(alert["lon"])
        body = {
            "alert": alert_id,
            "center": [lon, lat],
            "radius_m": radius,
            "cameras": self.queries.nearby_cameras(lat, lon, radius, NEARBY_CAMERAS),
            "workers": nearest_online(
                await self._worker_views(), lat, lon, limit=NEARBY_WORKERS, max_m=3000.0
            ),
        }
        return routes.json_response(public_nearby(body) if guard.anonymous(request) else body)

    async def _whoami(self, request: web.Request) -> web.Response:
        """The caller: ``{"name", "role", "desks"}``; anonymous callers get name ``anonymous``."""
        caller = guard.caller(request)
        return routes.json_response(
            {"name": caller.name, "role": caller.role, "desks": list(caller.desks)}
        )

    async def _cells(self, request: web.Request) -> web.Response:
        """Fine cell views, or roll-ups with ``?res=N`` (N below the fine resolution)."""
        fine = self.settings.pipeline.h3_resolution
        try:
            res = parse_resolution(request.rel_url.raw_query_string, fine)
        except ValueError as exc:
            return routes.error(400, str(exc))
        cells = await self.snapshot.cells()
        if res is None or res == fine:
            return routes.json_response({"resolution": fine, "cells": cells})
        return routes.json_response(
            {"resolution": res, "cells": rollup_views(cells, res, self._los)}
        )

    async def _zone_view(self, request: web.Request) -> web.Response:
        """The zone layer (WGS-84 GeoJSON) with live per-zone crowd and risk figures."""
        if self._zones is None or self._zone_layer is None:
            return routes.json_response({"type": "FeatureCollection", "features": []})
        live = {v["cell"]: zone_cell(v) for v in await self.snapshot.cells()}
        figures = zone_metrics(self._zones, self._zone_areas, live, self._los)
        return routes.json_response(zone_features(self._zone_layer, figures))

    async def _no_endpoint(self, request: web.Request) -> web.Response:
        return routes.error(404, f"no such endpoint: {request.path}")

    async def _static(self, request: web.Request) -> web.StreamResponse:
        return routes.static_file(request.path)
