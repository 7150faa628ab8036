"""Camera columns on ``cells.ingest`` (streams/pipeline/columnar/camera_body.py): bodies read back
to the same readings, cut under the size limit; routing gives each reading the partition
and key that the per-object path's placement gives its cell."""

from __future__ import annotations

import h3
import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from citybrain.config.settings import Settings
from streams.pipeline import config
from streams.pipeline.columnar.camera_body import (
    ColumnRouter,
    decode_body,
    encode_bodies,
    is_camera_body,
)
from streams.pipeline.columnar.camera_columns import columns_of
from streams.pipeline.events import CameraReading, rows_body
from streams.pipeline.placement import partition_of


def reading(
    cam: str, ts: int, lat: float, lon: float, people: int, area: float, flow: float | None
) -> CameraReading:
    return CameraReading(
        id=f"{cam}-{ts}",
        ts=ts,
        lat=lat,
        lon=lon,
        cell=h3.latlng_to_cell(lat, lon, 9),
        camera=cam,
        people=people,
        area_m2=area,
        flow_in=flow,
        flow_out=None,
    )


readings = st.builds(
    reading,
    st.text("abcdefghij-中文", min_size=1, max_size=40),
    st.integers(0, 2**53),
    st.floats(22.9, 23.1),
    st.floats(113.0, 113.2),
    st.integers(0, 10**6),
    st.floats(0.5, 10**6),
    st.none() | st.floats(0, 1e4),
)


@settings(max_examples=100, deadline=None)
@given(st.lists(readings, max_size=60), st.sampled_from([300, 2_000, 900_000]))
def test_bodies_read_back_to_the_same_readings(batch: list[CameraReading], limit: int) -> None:
    columns = columns_of(batch, list(range(len(batch))))
    bodies = list(encode_bodies(columns, max_bytes=limit))
    assert all(is_camera_body(b) for b in bodies)
    assert all(len(b) <= max(limit, 300) + 200 for b in bodies)
    back = [r for b in bodies for r in decode_body(b).readings()]
    assert back == batch
    assert [int(x) for b in bodies for x in decode_body(b).record] == list(range(len(batch)))
    assert not is_camera_body(rows_body(batch))  # the per-object body is told apart


def test_a_body_that_is_not_one_is_refused() -> None:
    with pytest.raises(ValueError):
        decode_body(b"[1,2]")
    with pytest.raises((ValueError, msgspec.DecodeError)):
        decode_body(b"CB1\x00\x93\xa1x")


@settings(max_examples=50, deadline=None)
@given(st.lists(readings, min_size=1, max_size=80))
def test_routing_follows_the_placement(batch: list[CameraReading]) -> None:
    settings_ = Settings().with_overrides(kafka={"partitions": 6})
    placement = config.placement(settings_, config.zone_index(settings_))
    router = ColumnRouter(placement)
    parts = router.split(columns_of(batch, list(range(len(batch)))))
    seen = []
    for partition, key, part in parts:
        for r in part.readings():
            assert placement.partition(r.cell) == partition
        assert placement.partition(h3.int_to_str(int(part.cell[0]))) == partition
        assert partition_of(key, 6) == partition
        seen.extend(int(x) for x in part.record)
    assert sorted(seen) == list(range(len(batch)))
