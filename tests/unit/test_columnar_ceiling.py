"""The per-camera ingest ceiling over columns (streams/pipeline/columnar/device_ceiling.py)
against streams/pipeline/device_rate.py: the same readings pass and the same buckets remain,
batch after batch — floods, replays, late readings, new cameras and a full table."""

from __future__ import annotations

import h3
from hypothesis import given, settings
from hypothesis import strategies as st

from streams.pipeline.columnar.camera_columns import columns_of
from streams.pipeline.columnar.device_ceiling import CeilingTable
from streams.pipeline.device_rate import Ceiling, DeviceBuckets
from streams.pipeline.events import CameraReading

CEILING = Ceiling(per_s=2.0, burst=3)
CELL = h3.latlng_to_cell(23.02, 113.12, 9)
T0 = 1_780_000_000_000


def reading(camera: str, ts: int) -> CameraReading:
    return CameraReading(
        id=f"{camera}-{ts}", ts=ts, lat=23.02, lon=113.12, cell=CELL, camera=camera,
        people=1, area_m2=10.0,
    )  # fmt: skip


batches = st.lists(
    st.lists(
        st.builds(reading, st.sampled_from(["a", "b", "c", "d", "e"]), st.integers(T0, T0 + 5_000)),
        max_size=12,
    ),
    min_size=1,
    max_size=10,
)


@settings(max_examples=300, deadline=None)
@given(batches, st.sampled_from([2, 4, 200_000]))
def test_the_ceiling_over_columns_equals_the_scalar_one(
    plan: list[list[CameraReading]], max_devices: int
) -> None:
    table = CeilingTable(CEILING, max_devices=max_devices, capacity=1)
    scalar = DeviceBuckets(CEILING, max_devices=max_devices)
    for batch in plan:
        got = table.admit(columns_of(batch, list(range(len(batch)))))
        passed, _ = scalar.admit(list(batch))
        assert got.tolist() == [i in set(passed) for i in range(len(batch))]
        assert len(table) == len(scalar)
        for camera in "abcde":
            assert table.bucket(camera) == scalar.get(f"camera:{camera}")
