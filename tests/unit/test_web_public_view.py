"""What anonymous viewers are not shown (web/public_view.py)."""

from __future__ import annotations

from web.public_view import public_geojson, public_nearby, public_query

CAMERA = {"id": "c1", "name": "通济桥 1", "lat": 23.0, "lon": 113.1, "stream_url": "rtsp://x/1"}
WORKER = {"id": "w1", "name": "张三", "lat": 23.0, "lon": 113.1, "status": "online"}


def test_nearby_keeps_cameras_without_their_streams_and_drops_grid_workers() -> None:
    body = {"alert": "a", "center": [113.1, 23.0], "cameras": [CAMERA], "workers": [WORKER]}
    shown = public_nearby(body)
    assert shown["cameras"] == [{k: v for k, v in CAMERA.items() if k != "stream_url"}]
    assert shown["workers"] == [] and shown["center"] == body["center"]
    assert body["cameras"][0]["stream_url"] == "rtsp://x/1"  # the input is left as it was


def test_query_counts_grid_workers_but_lists_none_and_no_streams() -> None:
    answer = {
        "area_m2": 1.0,
        "cameras": {"count": 1, "items": [CAMERA]},
        "workers": {"count": 1, "online": 1, "items": [WORKER]},
    }
    shown = public_query(answer)
    assert shown["workers"] == {"count": 1, "online": 1, "items": []}
    assert "stream_url" not in shown["cameras"]["items"][0] and shown["cameras"]["count"] == 1


def test_layer_geojson_loses_stream_properties_only() -> None:
    fc = {
        "type": "FeatureCollection",
        "features": [
            {"type": "Feature", "geometry": None, "properties": {"name": "c", "stream_url": "u"}},
            {"type": "Feature", "geometry": None, "properties": None},
        ],
    }
    shown = public_geojson(fc)
    assert [f["properties"] for f in shown["features"]] == [{"name": "c"}, {}]
