"""End to end: grid workers, video linkage and "draw a circle" on the real stack.

Grid-worker reports and a crowd go through Kafka; the web server answers with the
nearest cameras (the generated camera registry) and online grid workers for the
alert, and counts static layers and the live crowd inside a circle. Anonymous viewers
get the same answers without who and where the grid workers are and without the
cameras' stream addresses, on the websocket as over HTTP.
"""

from __future__ import annotations

import asyncio
import time

import numpy as np
import orjson
import pytest
from aiokafka import AIOKafkaProducer
from websockets.asyncio.client import connect

from citybrain.config.settings import Settings
from citybrain.stack import EmbeddedStack
from geo.cells import cell_of
from geo.spatial import haversine_m
from tests.e2e.kit import AlertWatch, crowd, http, wait_for

pytestmark = [pytest.mark.e2e]
HERE = (23.0105, 113.1205)  # south of the old town; no other test uses it


async def report_workers(settings: Settings, reports: list[dict]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers())
    await producer.start()
    try:
        await producer.send_and_wait(settings.kafka.topic("events.worker"), orjson.dumps(reports))
    finally:
        await producer.stop()


def test_nearby_cameras_and_grid_workers_and_a_drawn_circle(stack: EmbeddedStack) -> None:
    s = stack.live
    api = f"http://127.0.0.1:{s.web.port}/api/"
    now = int(time.time() * 1000)
    lat, lon = HERE
    workers = [
        {"id": f"w-near-{now}", "ts": now, "lat": lat + 0.001, "lon": lon, "worker": "t-near",
         "status": "online", "grid": "G-T1", "name": "测试 近"},
        {"id": f"w-far-{now}", "ts": now, "lat": lat + 0.01, "lon": lon, "worker": "t-far",
         "status": "online", "grid": "G-T1"},
        {"id": f"w-off-{now}", "ts": now, "lat": lat, "lon": lon + 0.0005, "worker": "t-off",
         "status": "offline", "grid": "G-T1"},
        {"id": f"w-bad-{now}", "ts": now, "lat": 123.0, "lon": lon, "worker": "t-bad",
         "status": "online", "grid": "G-T1"},  # latitude out of range: dead-lettered
    ]  # fmt: skip
    cell = cell_of(lat, lon, s.pipeline.h3_resolution)

    async def scenario() -> dict:
        await report_workers(s, workers)
        async with AlertWatch(f"ws://127.0.0.1:{s.web.port}/ws") as watch:
            feed = asyncio.create_task(crowd(s, lat, lon, seconds=18, tag="nearby"))
            (alert,) = await watch.wait(
                lambda alerts: [a for a in alerts if a["cell"] == cell], 40, "crowd alert"
            )
            await feed
            return alert

    alert = asyncio.run(scenario())
    token = stack.token_files["dispatcher"].read_text().strip()

    def listed_workers() -> dict[str, dict]:
        found = http("GET", api + "workers", token)[1]["workers"]
        return {w["id"]: w for w in found if w["id"].startswith("t-")}

    listed = wait_for(lambda: len(listed_workers()) >= 3 and listed_workers(), 10, "grid workers")
    assert set(listed) == {"t-near", "t-far", "t-off"}  # the bad report never arrives
    assert listed["t-near"]["name"] == "测试 近" and listed["t-off"]["status"] == "offline"

    status, near = http("GET", f"{api}alerts/{alert['id']}/nearby?radius_m=3000", token)
    assert status == 200
    ours = [w["id"] for w in near["workers"] if w["id"].startswith("t-")]
    assert ours[:1] == ["t-near"] and "t-off" not in ours
    assert all(w["status"] == "online" for w in near["workers"])
    distances = [w["distance_m"] for w in near["workers"]]
    assert distances == sorted(distances) and len(near["workers"]) <= 5
    cams = near["cameras"]
    assert cams and len(cams) <= 20
    assert [c["distance_m"] for c in cams] == sorted(c["distance_m"] for c in cams)
    for c in cams:  # the distances are the registry cameras' own
        d = float(
            haversine_m(alert["lat"], alert["lon"], np.array([c["lat"]]), np.array([c["lon"]]))[0]
        )
        assert abs(d - c["distance_m"]) < 1.0 and d <= 3000
        assert c["stream_url"].endswith(c["id"])
    assert http("GET", f"{api}alerts/{alert['id']}/nearby?radius_m=0")[0] == 400
    assert http("GET", f"{api}alerts/a-none/nearby")[0] == 404

    # draw a circle around the crowd: static layers and the live crowd inside
    circle = {"center": [lon, lat], "radius_m": 800}
    status, inside = http("POST", api + "query", token, circle)
    assert status == 200, inside
    assert inside["buildings"]["count"] > 0 and inside["buildings"]["residents"] > 0
    assert inside["live"]["people"] >= 1000  # our camera counts 1000 in this cell
    online = [w["id"] for w in inside["workers"]["items"] if w["id"].startswith("t-")]
    assert "t-near" in online and "t-far" not in online  # t-far is ~1.1 km away
    status, bad = http("POST", api + "query", None, {"center": [lon, lat], "radius_m": -5})
    assert status in (400, 422) and "radius" in bad["error"]
    status, layers = http("GET", api + "layers")
    kinds = {layer["kind"] for layer in layers["layers"]}
    assert {"building", "enterprise", "camera", "grid"} <= kinds

    # anonymous viewers: the same picture, without the grid workers and the streams
    assert http("GET", api + "workers")[0] == 401
    status, public = http("GET", f"{api}alerts/{alert['id']}/nearby?radius_m=3000")
    assert status == 200 and public["workers"] == []
    assert [c["id"] for c in public["cameras"]] == [c["id"] for c in cams]
    assert all("stream_url" not in c for c in public["cameras"])
    status, public_inside = http("POST", api + "query", None, circle)
    assert status == 200 and public_inside["workers"]["items"] == []
    assert public_inside["workers"]["count"] == inside["workers"]["count"]
    assert public_inside["cameras"]["count"] == inside["cameras"]["count"] > 0
    assert all("stream_url" not in c for c in public_inside["cameras"]["items"])
    cameras_layer = next(x["id"] for x in layers["layers"] if x["kind"] == "camera")
    url = f"http://127.0.0.1:{s.web.port}/api/layers/{cameras_layer}.geojson"
    signed = http("GET", url, token)[1]
    anonymous = http("GET", url)[1]
    assert any("stream_url" in f["properties"] for f in signed["features"])
    assert not any("stream_url" in f["properties"] for f in anonymous["features"])
    assert len(anonymous["features"]) == len(signed["features"])

    async def snapshots() -> tuple[dict, dict]:
        ws_url = f"ws://127.0.0.1:{s.web.port}/ws"
        headers = {"Authorization": f"Bearer {token}"}
        async with connect(ws_url, additional_headers=headers, max_size=None) as ws:
            signed_in = orjson.loads(await ws.recv())
        async with connect(ws_url, max_size=None) as ws:
            anonymous = orjson.loads(await ws.recv())
        return signed_in, anonymous

    signed_snapshot, public_snapshot = asyncio.run(snapshots())
    assert "t-near" in {w["id"] for w in signed_snapshot["workers"]}
    assert public_snapshot["workers"] == []
    assert len(public_snapshot["cells"]) > 0 and public_snapshot["alerts"]
