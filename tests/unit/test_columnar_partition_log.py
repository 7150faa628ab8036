"""A partition's camera state through its log records (streams/pipeline/columnar/partition_log.py):
restored from the last snapshot and the deltas after it, over generated steps of the
partition path, it is the state the path holds — readings and cells' times, density,
hotline and sensor baselines to the bit — and its trend rings are those of the snapshot.
Records are cut small here, so every part is split across several."""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from streams.pipeline.columnar.camera_columns import columns_of
from streams.pipeline.columnar.camera_round import PartitionState
from streams.pipeline.columnar.partition_log import PartitionLog
from streams.pipeline.columnar.partition_path import PartitionPath
from streams.pipeline.events import CameraReading, Event
from streams.pipeline.step_data import Stores
from tests.unit.test_columnar_camera import held
from tests.unit.test_columnar_partition import CONFIG, T0, plans


def rings_of(state: PartitionState) -> dict[int, list[tuple[int, float]]]:
    r = state.rings
    return {
        c: sorted(zip(r.ts[row].tolist(), r.value[row].tolist(), strict=True))
        for c, row in r.index.items()
    }


def baselines_of(state: PartitionState) -> tuple[Any, ...]:
    cells = sorted({*state.density.index, *state.hotline.index})
    return (
        {c: state.density.baseline(c) for c in cells},
        {c: state.hotline.baseline(c) for c in cells},
        dict(state.sensor_baselines),
    )


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans, st.lists(st.booleans(), min_size=14, max_size=14))
def test_restored_from_the_log_the_state_is_the_writers(
    plan: list[tuple[int, list[Any]]], snapshots: list[bool]
) -> None:
    stores = Stores.in_memory()
    path = PartitionPath(stores, 0, CONFIG)
    path.log = PartitionLog(path.hot.state, max_bytes=300)  # several records per part
    since_snapshot: list[bytes] = path.log_records(full=True)
    rings_at_snapshot = rings_of(path.hot.state)
    now = T0
    for (step, made), full in zip(plan, snapshots, strict=False):
        now += step
        batch: list[Event] = [make(now, n) for n, make in enumerate(made)]
        cams = [e for e in batch if isinstance(e, CameraReading)]
        rest = [e for e in batch if not isinstance(e, CameraReading)]
        path.step(rest, columns_of(cams, [0] * len(cams)), now_ms=now, sweep=True)
        records = path.log_records(full=full)
        if full:
            since_snapshot, rings_at_snapshot = records, rings_of(path.hot.state)
        else:
            since_snapshot.extend(records)
    back = PartitionPath.restored(stores, 0, CONFIG, since_snapshot)
    state, restored = path.hot.state, back.hot.state
    assert held(restored.cameras) == held(state.cameras)
    assert restored.cameras.updated_at == state.cameras.updated_at
    assert baselines_of(restored) == baselines_of(state)
    assert rings_of(restored) == rings_at_snapshot
    assert back.held == path.held and back.mixed == path.mixed
    assert set(np.concatenate([np.zeros(0, np.uint64), *back.hot.dirty]).tolist()) == back.held
