"""Vectorised trend rings (streams/pipeline/columnar/trend_ring.py) against alerts/crowd/trend.py:
the same series sample by sample (buckets, window, ties), and slopes equal to rounding."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.crowd.trend import RiseConfig, Series, add, slope_per_min
from streams.pipeline.columnar.trend_ring import TrendRings

CONFIG = RiseConfig(window_ms=60_000, bucket_ms=10_000, min_span_ms=20_000)
CELLS = [11, 22, 33]

rounds = st.lists(
    st.tuples(
        # time step to this round, ms (0: the same instant again; round steps hit the
        # window's and the buckets' edges)
        st.one_of(st.integers(0, 25_000), st.sampled_from([0, 5_000, 10_000, 30_000, 60_000])),
        st.lists(
            st.tuples(st.sampled_from(CELLS), st.floats(0, 8)), max_size=3, unique_by=lambda p: p[0]
        ),
    ),
    min_size=1,
    max_size=25,
)


@settings(max_examples=300, deadline=None)
@given(rounds)
def test_rings_hold_the_scalar_series_and_slopes(
    plan: list[tuple[int, list[tuple[int, float]]]],
) -> None:
    rings = TrendRings(CONFIG, capacity=1)  # grows as cells come
    series = {c: Series() for c in CELLS}
    now = 1_780_000_000_000
    for step, samples in plan:
        now += step
        if samples:
            cells = np.array([c for c, _ in samples], np.uint64)
            values = np.array([v for _, v in samples])
            rings.add(cells, now, values)
        for cell, value in samples:
            series[cell] = add(
                series[cell], now, value, window_ms=CONFIG.window_ms, bucket_ms=CONFIG.bucket_ms
            )
        slopes = rings.slopes(np.array(CELLS, np.uint64))
        for i, cell in enumerate(CELLS):
            assert rings.series(cell) == series[cell]
            want = slope_per_min(series[cell], min_span_ms=CONFIG.min_span_ms)
            if want is None:
                assert math.isnan(slopes[i])
            else:
                assert math.isclose(slopes[i], want, rel_tol=1e-9, abs_tol=1e-9)


def test_forgotten_cells_start_afresh() -> None:
    rings = TrendRings(CONFIG)
    cells = np.array([5], np.uint64)
    rings.add(cells, 1_000_000, np.array([1.0]))
    rings.forget(cells)
    assert rings.series(5) == Series()
    rings.add(cells, 2_000_000, np.array([2.0]))
    assert rings.series(5) == Series(((2_000_000, 2.0),))
