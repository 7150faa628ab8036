"""A partition's camera path over rounds (streams/pipeline/columnar/hot_path.py) against the
per-object reference: the cells a round measures (folded into, lost a reading to the
window, a camera gone stale), what it publishes (views that changed) and removes."""

from __future__ import annotations

from typing import Any

import h3
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.crowd.baseline import BaselineConfig
from alerts.crowd.camera_fusion import stale_cameras
from alerts.crowd.cell_metrics import (
    CellBaselines,
    CellContext,
    MetricsConfig,
    cell_metrics,
    sample_baselines,
)
from alerts.crowd.trend import RiseConfig, Series
from streams.pipeline.cellfold import CellState, Windows, add_all, expire, initial
from streams.pipeline.cellview import view
from streams.pipeline.columnar.camera_columns import columns_of
from streams.pipeline.columnar.camera_round import ContextTable
from streams.pipeline.columnar.hot_path import CameraHotPath
from streams.pipeline.events import CameraReading
from tests.unit.test_columnar_round import same

POINTS = [(23.0214, 113.1214), (23.0301, 113.1102), (22.9876, 113.0987)]
CELLS = [h3.latlng_to_cell(lat, lon, 9) for lat, lon in POINTS]
CONFIG = MetricsConfig(
    rise=RiseConfig(window_ms=120_000, bucket_ms=10_000, min_span_ms=30_000),
    camera_stale_ms=30_000,
    baseline=BaselineConfig(alpha=0.3, min_samples=2, min_sd=0.05, interval_ms=5_000),
)
WINDOWS = Windows(crowd_ms=90_000)
T0 = 1_780_000_000_000


def context(cell: str) -> CellContext:
    return CellContext(cell_area_m2=h3.cell_area(cell, unit="m^2"), walkable_m2=400.0)


def strip(v: dict[str, Any]) -> dict[str, Any]:
    return {k: x for k, x in v.items() if k != "updated_at"}


class Reference:
    """The per-object pipeline's choices, round by round."""

    def __init__(self) -> None:
        self.states: dict[str, CellState] = {}
        self.folded: set[str] = set()
        self.stale: dict[str, tuple[str, ...]] = {}
        self.series: dict[str, Series] = {}
        self.baselines: dict[str, CellBaselines] = {}
        self.published: dict[str, dict[str, Any]] = {}

    def fold(self, batch: list[CameraReading]) -> None:
        for cell in {r.cell for r in batch}:
            arrived = [r for r in batch if r.cell == cell]
            self.states[cell] = add_all(self.states.get(cell, initial(cell)), arrived)
            self.folded.add(cell)

    def round(self, now: int) -> tuple[dict[str, dict[str, Any]], set[str]]:
        views, removed = {}, set()
        for cell in sorted(self.states):
            state = self.states[cell]
            left = expire(state, now, WINDOWS)
            due = (
                cell in self.folded
                or left != state
                or stale_cameras(left.cameras, now, CONFIG.camera_stale_ms)
                != self.stale.get(cell, ())
            )
            self.states[cell] = left
            if not left.cameras:
                del self.states[cell]
                self.series.pop(cell, None)
                self.stale.pop(cell, None)
                if self.published.pop(cell, None) is not None:
                    removed.add(cell)
                continue
            if not due:
                continue
            m = cell_metrics(
                cell, cameras=left.cameras, sensors=(), tickets=(),
                trend=self.series.get(cell, Series()), context=context(cell),
                baselines=self.baselines.get(cell), now_ms=now, config=CONFIG,
            )  # fmt: skip
            self.series[cell] = m.trend_series
            sampled = sample_baselines(self.baselines.get(cell), m, now, CONFIG.baseline)
            if sampled is not None:
                self.baselines[cell] = sampled
            self.stale[cell] = stale_cameras(left.cameras, now, CONFIG.camera_stale_ms)
            v = view(left, m)
            before = self.published.get(cell)
            if before is None or strip(before) != strip(v):
                views[cell] = v
            self.published[cell] = v
        self.folded = set()
        return views, removed


def reading(camera: str, point: int, people: int) -> Any:
    lat, lon = POINTS[point]
    return lambda now: CameraReading(
        id=f"{camera}-{now}", ts=now, lat=lat, lon=lon, cell=CELLS[point], camera=camera,
        people=people, area_m2=200.0,
    )  # fmt: skip


plans = st.lists(
    st.tuples(
        st.sampled_from([1_000, 5_000, 20_000, 31_000, 60_000]),
        st.lists(
            st.builds(
                reading,
                st.sampled_from(["a", "b", "c", "d"]),
                st.integers(0, 2),
                st.sampled_from([0, 100, 400, 900]),
            ),
            max_size=4,
        ),
    ),
    min_size=1,
    max_size=14,
)


@settings(max_examples=150, deadline=None)
@given(plans)
def test_rounds_measure_publish_and_remove_as_the_reference(
    plan: list[tuple[int, list[Any]]],
) -> None:
    path = CameraHotPath(CONFIG, WINDOWS, ContextTable(context))
    ref = Reference()
    now = T0
    for step, made in plan:
        now += step
        batch = [make(now) for make in made]
        path.fold(columns_of(batch, list(range(len(batch)))))
        ref.fold(batch)
        out = path.round(now)
        views, removed = ref.round(now)
        got = {v["cell"]: v for v in out.views}
        assert got.keys() == views.keys()
        for cell, v in views.items():
            same(got[cell], v, cell)
        assert set(out.removed) == removed
