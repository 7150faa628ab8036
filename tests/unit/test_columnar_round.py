"""A measurement round of camera cells (streams/pipeline/columnar/camera_round.py) against the
per-object path: :func:`alerts.crowd.cell_metrics.cell_metrics` and
:func:`streams.pipeline.cellview.view`
over the same readings, round after round (the trend builds up), with and without a
walkable-area layer, walkway widths and standing crowds, with the hour-of-week
baselines scoring and learning as they go, and with sensors and tickets beside the
cameras of a cell (located finely or not)."""

from __future__ import annotations

import math
from typing import Any

import h3
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.crowd.baseline import BaselineConfig
from alerts.crowd.cell_metrics import (
    CellBaselines,
    CellContext,
    MetricsConfig,
    cell_metrics,
    sample_baselines,
)
from alerts.crowd.trend import RiseConfig, Series
from alerts.rules.catalog import METRICS
from streams.pipeline.cellfold import CellState, add_all, initial
from streams.pipeline.cellview import view
from streams.pipeline.columnar.camera_columns import columns_of
from streams.pipeline.columnar.camera_round import (
    CellContexts,
    CellExtras,
    PartitionState,
    measure_cameras,
    updated_at_of,
)
from streams.pipeline.columnar.camera_views import camera_views, round_like_python
from streams.pipeline.columnar.rule_filter import cell_metrics_of
from streams.pipeline.events import CameraReading, SensorReading, Ticket

NOW = 1_780_000_000_000
CELL_METRICS = [m.name for m in METRICS.values() if m.subject == "cell"]
POINTS = [(23.0214, 113.1214), (23.0301, 113.1102), (22.9876, 113.0987)]
CELLS = [h3.latlng_to_cell(lat, lon, 9) for lat, lon in POINTS]
RISE = RiseConfig(window_ms=120_000, bucket_ms=10_000, min_span_ms=30_000)
# baselines that score after two samples, one every 5 s: z-scores show within a test
CONFIG = MetricsConfig(
    rise=RISE,
    camera_stale_ms=45_000,
    baseline=BaselineConfig(alpha=0.3, min_samples=2, min_sd=0.05, interval_ms=5_000),
)


def reading(
    camera: str, age: int, point: int, people: int, area: float, flow: float | None
) -> tuple[int, Any]:
    lat, lon = POINTS[point]
    return age, lambda now: CameraReading(
        id=f"{camera}-{now - age}", ts=now - age, lat=lat, lon=lon, cell=CELLS[point],
        camera=camera, people=people, area_m2=area, flow_in=flow, flow_out=None,
    )  # fmt: skip


readings = st.builds(
    reading,
    st.sampled_from(["a", "b", "c"]),
    st.integers(0, 70_000),
    st.integers(0, 2),
    st.integers(0, 5000),
    st.floats(10.0, 900.0),
    st.none() | st.floats(0, 300),
)


def sensor(name: str, age: int, point: int, kind: str, value: float, alarm: bool | None) -> Any:
    lat, lon = POINTS[point]
    return age, lambda now: SensorReading(
        id=f"{name}-{now - age}", ts=now - age, lat=lat, lon=lon, cell=CELLS[point],
        sensor=name, type=kind, value=value, alarm=alarm, unit=None,
    )  # fmt: skip


def ticket(n: int, age: int, point: int, category: str, far: bool) -> Any:
    lat, lon = POINTS[point]
    return age, lambda now: Ticket(
        id=f"t{n}", ts=now - age, channel="12345", category=category, text="x", lat=lat,
        lon=lon, cell=CELLS[point], uncertainty_m=900.0 if far else None,
    )  # fmt: skip


others = st.one_of(
    st.builds(
        sensor, st.sampled_from(["s1", "s2"]), st.integers(0, 70_000), st.integers(0, 2),
        st.sampled_from(["smoke", "water_level", "noise"]), st.floats(0, 100),
        st.none() | st.booleans(),
    ),
    st.builds(
        ticket, st.integers(0, 5), st.integers(0, 70_000), st.integers(0, 2),
        st.sampled_from(["traffic", "noise"]), st.booleans(),
    ),
)  # fmt: skip
contexts = st.tuples(
    st.sampled_from([None, 0.0, 120.0, 2500.0]),
    st.booleans(),
    st.sampled_from([None, 4.0, 12.5]),
)


def nan_for(value: float | None) -> float:
    return math.nan if value is None else value


def same(got: Any, want: Any, path: str = "") -> None:
    if isinstance(want, float) and isinstance(got, float):
        # rounded figures: sums in another order may land one unit of the last digit off
        assert math.isclose(got, want, rel_tol=1e-9, abs_tol=1.01e-3), path
    elif isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), path
        for key in want:
            same(got[key], want[key], f"{path}.{key}")
    else:
        assert got == want, path


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(1_000, 20_000),
            st.lists(readings, max_size=6),
            st.lists(others, max_size=3),
        ),
        min_size=1,
        max_size=8,
    ),
    st.lists(contexts, min_size=3, max_size=3),
)
def test_a_round_equals_cell_metrics_and_view(
    rounds: list[tuple[int, list[tuple[int, Any]], list[tuple[int, Any]]]],
    ctx: list[tuple[float | None, bool, float | None]],
) -> None:
    part = PartitionState(CONFIG)
    table = part.cameras
    baselines: dict[str, CellBaselines] = {}
    states: dict[str, CellState] = {}
    series: dict[str, Series] = {}
    cell_ctx = {
        cell: CellContext(
            cell_area_m2=h3.cell_area(cell, unit="m^2"),
            walkable_m2=w,
            crowd_kind="static" if static else "moving",
            width_m=width,
            zones=("z1",) if static else (),
        )
        for cell, (w, static, width) in zip(CELLS, ctx, strict=True)
    }
    now = NOW
    for step, made, besides in rounds:
        now += step
        batch = [make(now) for _, make in made]
        rest = [make(now) for _, make in besides]
        for cell in {r.cell for r in [*batch, *rest]}:
            states[cell] = add_all(
                states.get(cell, initial(cell)), [r for r in [*batch, *rest] if r.cell == cell]
            )
        table.fold(columns_of(batch, list(range(len(batch)))))
        measured = sorted({r.cell for r in batch}, key=h3.str_to_int)
        if not measured:
            continue
        cells = np.array([h3.str_to_int(c) for c in measured], np.uint64)
        contexts_ = CellContexts(
            cell_area_m2=np.array([cell_ctx[c].cell_area_m2 for c in measured]),
            walkable_m2=np.array([nan_for(cell_ctx[c].walkable_m2) for c in measured]),
            static=np.array([cell_ctx[c].crowd_kind == "static" for c in measured]),
            width_m=np.array([nan_for(cell_ctx[c].width_m) for c in measured]),
            zones=[cell_ctx[c].zones for c in measured],
            center=[tuple(round(x, 6) for x in h3.cell_to_latlng(c)) for c in measured],
        )
        extras = {
            h3.str_to_int(c): CellExtras(
                states[c].sensors, states[c].tickets, max(states[c].updated_at, 0)
            )
            for c in measured
            if states[c].sensors or states[c].tickets
        }
        figures = measure_cameras(part, cells, contexts_, now_ms=now, extras=extras)
        views = camera_views(figures, updated_at_of(part, cells, extras))
        for i, cell in enumerate(measured):
            m = cell_metrics(
                cell,
                cameras=states[cell].cameras,
                sensors=states[cell].sensors,
                tickets=states[cell].tickets,
                trend=series.get(cell, Series()),
                context=cell_ctx[cell],
                baselines=baselines.get(cell),
                now_ms=now,
                config=CONFIG,
            )
            series[cell] = m.trend_series
            sampled = sample_baselines(baselines.get(cell), m, now, CONFIG.baseline)
            if sampled is not None:
                baselines[cell] = sampled
            want = view(states[cell], m)
            same(views[i], want, cell)
            # what the rule code gets of a candidate cell is what cell_metrics gives it
            mine = cell_metrics_of(
                figures, i, cell_ctx[cell], part.rings.series(h3.str_to_int(cell))
            )
            mine_samples, want_samples = mine.trend_series.samples, m.trend_series.samples
            assert [t for t, _ in mine_samples] == [t for t, _ in want_samples]
            for (_, a), (_, b) in zip(mine_samples, want_samples, strict=True):
                assert math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-15)
            same(view(states[cell], mine), want, cell)
            for name in CELL_METRICS:
                got_value, want_value = mine.value(name), m.value(name)
                if isinstance(want_value, float) and isinstance(got_value, float):
                    assert math.isclose(got_value, want_value, rel_tol=1e-9, abs_tol=1e-9), name
                else:
                    assert got_value == want_value, name


@settings(max_examples=500, deadline=None)
@given(
    st.lists(
        st.one_of(
            st.floats(-1e6, 1e6, allow_nan=False),
            st.integers(-(10**6), 10**6).map(lambda k: k / 20),  # halfway points
            st.just(math.nan),
        ),
        max_size=30,
    ),
    st.integers(0, 4),
)
def test_view_rounding_is_pythons(values: list[float], digits: int) -> None:
    got = round_like_python(np.array(values, dtype=np.float64), digits)
    assert got == [None if math.isnan(v) else round(v, digits) for v in values]
