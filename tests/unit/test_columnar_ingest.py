"""The camera ingest stage in columns against the per-object stage, on generated batches.

:meth:`CameraIngest.take` must pass the readings and word the rejections that
:func:`streams.pipeline.records.decode_record` record by record plus the ceiling per camera
(:func:`streams.pipeline.device_rate.admit`) pass and word: the same rejections, in order, for
each record; the same readings, in order, on each ``cells.ingest`` partition; bodies
whose key the placement maps to that partition.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from citybrain.config.settings import Settings
from streams.pipeline.columnar.camera_body import decode_body
from streams.pipeline.columnar.camera_ingest import CameraIngest
from streams.pipeline.config import placement, zone_index
from streams.pipeline.decode import Limits
from streams.pipeline.device_rate import Ceiling, DeviceBuckets, admit
from streams.pipeline.events import CameraReading
from streams.pipeline.placement import partition_of
from streams.pipeline.records import decode_record
from tests.unit.test_columnar_camera import NOW, record_value

LIMITS = Limits()
CEILING = Ceiling(per_s=1.0, burst=3)  # low: generated cameras repeat, some get refused
PLACEMENT = placement(s := Settings().with_overrides(kafka={"partitions": 4}), zone_index(s))


def reference(
    values: list[bytes | None],
) -> tuple[dict[int, list[tuple[str, int | None]]], dict[int, list[CameraReading]]]:
    """(rejections by record, readings by partition) as the per-object stage gives them."""
    buckets = DeviceBuckets(CEILING)
    rejected: dict[int, list[tuple[str, int | None]]] = {}
    by_partition: dict[int, list[CameraReading]] = {}
    for index, raw in enumerate(values):
        decoded = decode_record("camera", raw, NOW, LIMITS)
        within, flooding = admit(decoded, buckets)
        refused = [*decoded.rejections, *flooding]
        if refused:
            rejected[index] = [(r.error, r.index) for r in refused]
        for event in within:
            assert isinstance(event, CameraReading) and event.cell is not None
            by_partition.setdefault(PLACEMENT.partition(event.cell), []).append(event)
    return rejected, by_partition


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(record_value(), min_size=1, max_size=12), st.integers(1, 3))
def test_camera_ingest_equals_the_per_object_stage(
    values: list[bytes | None], fetches: int
) -> None:
    want_rejected, want = reference(values)
    stage = CameraIngest(LIMITS, CEILING, PLACEMENT)
    got: dict[int, list[CameraReading]] = {}
    got_rejected: dict[int, list[tuple[str, int | None]]] = {}
    step = -(-len(values) // fetches)  # the same records over several fetches: one table
    for start in range(0, len(values), step):
        batch = stage.take(values[start : start + step], NOW)
        for index, rejections in batch.rejected.items():
            got_rejected[start + index] = [(r.error, r.index) for r in rejections]
        for key, body in batch.bodies:
            readings = decode_body(body).readings()
            partition = PLACEMENT.partition(readings[0].cell or "")
            assert all(PLACEMENT.partition(r.cell or "") == partition for r in readings)
            assert partition_of(key, PLACEMENT.partitions) == partition
            got.setdefault(partition, []).extend(readings)
        assert batch.readings == sum(len(decode_body(b).readings()) for _, b in batch.bodies)
    assert got_rejected == want_rejected
    assert got == want
