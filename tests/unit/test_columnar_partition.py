"""A partition with its camera cells in columns (streams/pipeline/columnar/partition_path.py)
against the per-object pipeline alone, on generated steps of camera readings, sensor
readings and hotline tickets in a few cells (cells with cameras only, with sensors or
tickets only, with both, and cells moving between those as readings come and expire).

Each step runs with a sweep and a camera round at the same event time on both sides;
after each, what the map shows (views applied, removals applied) and the alerts and
audit entries published must be the same.
"""

from __future__ import annotations

from typing import Any

import h3
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.crowd.baseline import BaselineConfig
from alerts.crowd.cell_metrics import MetricsConfig
from alerts.crowd.trend import RiseConfig
from streams.pipeline.cellfold import Windows
from streams.pipeline.columnar.camera_columns import columns_of
from streams.pipeline.columnar.partition_path import PartitionPath
from streams.pipeline.events import CameraReading, Event, SensorReading, Ticket
from streams.pipeline.step import process_batch
from streams.pipeline.step_data import PipelineConfig, Stores
from tests.unit.test_columnar_round import same

POINTS = [(23.0214, 113.1214), (23.0301, 113.1102), (22.9876, 113.0987)]
CELLS = [h3.latlng_to_cell(lat, lon, 9) for lat, lon in POINTS]
CONFIG = PipelineConfig(
    windows=Windows(crowd_ms=90_000, sensor_ms=60_000, hotline_ms=120_000),
    metrics=MetricsConfig(
        rise=RiseConfig(window_ms=120_000, bucket_ms=10_000, min_span_ms=30_000),
        camera_stale_ms=30_000,
        baseline=BaselineConfig(alpha=0.3, min_samples=2, min_sd=0.05, interval_ms=5_000),
    ),
)
T0 = 1_780_000_000_000


def camera(name: str, point: int, people: int) -> Any:
    lat, lon = POINTS[point]
    return lambda now, n: CameraReading(
        id=f"{name}-{now}", ts=now, lat=lat, lon=lon, cell=CELLS[point], camera=name,
        people=people, area_m2=200.0,
    )  # fmt: skip


def sensor(name: str, point: int, value: float, alarm: bool) -> Any:
    lat, lon = POINTS[point]
    return lambda now, n: SensorReading(
        id=f"{name}-{now}", ts=now, lat=lat, lon=lon, cell=CELLS[point], sensor=name,
        type="smoke", value=value, alarm=alarm,
    )  # fmt: skip


def ticket(point: int) -> Any:
    lat, lon = POINTS[point]
    return lambda now, n: Ticket(
        id=f"t-{now}-{n}", ts=now, channel="12345", category="noise", text="噪音",
        lat=lat, lon=lon, cell=CELLS[point],
    )  # fmt: skip


events = st.one_of(
    st.builds(
        camera,
        st.sampled_from(["a", "b", "c"]),
        st.integers(0, 2),
        st.sampled_from([0, 100, 480, 900]),
    ),
    st.builds(
        sensor, st.sampled_from(["s1", "s2"]), st.integers(0, 2), st.floats(0, 80), st.booleans()
    ),
    st.builds(ticket, st.integers(0, 2)),
)
plans = st.lists(
    st.tuples(
        st.sampled_from([1_000, 5_000, 11_000, 31_000, 70_000]),
        st.lists(events, max_size=6),
    ),
    min_size=1,
    max_size=14,
)


class Screen:
    """What a client applying the published views and removals shows, and the alert
    versions and audit entries each step published."""

    def __init__(self) -> None:
        self.cells: dict[str, dict[str, Any]] = {}
        self.alerts: list[list[tuple[Any, ...]]] = []
        self.audit: list[list[tuple[Any, ...]]] = []

    def apply(self, out: Any) -> None:
        for cell in out.removed:
            self.cells.pop(cell, None)
        self.cells.update(out.cells)
        # one step's alerts and audit entries are independent of each other: as sets
        self.alerts.append(
            sorted(
                (a.id, a.rule, a.severity, a.state, a.cell, a.active) for a in out.alerts.values()
            )
        )
        self.audit.append(sorted((e.id, e.action, e.to_state) for e in out.audit))


def strip(view: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in view.items() if k != "updated_at"}


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(plans)
def test_a_partition_in_columns_shows_and_alerts_as_the_per_object_pipeline(
    plan: list[tuple[int, list[Any]]],
) -> None:
    ref_stores, ref = Stores.in_memory(), Screen()
    path, got = PartitionPath(Stores.in_memory(), 0, CONFIG), Screen()
    now = T0
    for step, made in plan:
        now += step
        batch: list[Event] = [make(now, n) for n, make in enumerate(made)]
        cams = [e for e in batch if isinstance(e, CameraReading)]
        rest = [e for e in batch if not isinstance(e, CameraReading)]
        # A round sees its cells after the step's other events, in H3 order: so does the
        # reference (where two cells join one alert at once, the first one anchors it).
        ordered = [*rest, *sorted(cams, key=lambda r: h3.str_to_int(r.cell))]
        ref.apply(
            process_batch(
                ordered, stores=ref_stores, partition=0, now_ms=now, config=CONFIG, sweep=True
            )
        )
        got.apply(path.step(rest, columns_of(cams, [0] * len(cams)), now_ms=now, sweep=True))
        assert got.cells.keys() == ref.cells.keys()
        for cell, v in ref.cells.items():  # a view differing in its time alone is not sent
            same(strip(got.cells[cell]), strip(v), cell)
        assert got.alerts == ref.alerts
        assert got.audit == ref.audit
