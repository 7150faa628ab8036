"""Vectorised hour-of-week baselines (streams/pipeline/columnar/baseline_table.py) against
alerts/crowd/baseline.py: the same moments to the bit, the same sample interval and late-sample
rule, the same z-scores, across hour boundaries."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.crowd.baseline import Baseline, BaselineConfig, observe, score
from streams.pipeline.columnar.baseline_table import BaselineTable

CONFIG = BaselineConfig(alpha=0.2, min_samples=3, min_sd=0.05, interval_ms=60_000)
CELLS = [101, 202, 303]

steps = st.one_of(
    st.integers(-90_000, 200_000),  # late samples too
    st.sampled_from([60_000, 59_999, 3_600_000, 7 * 24 * 3_600_000]),
)
rounds = st.lists(
    st.tuples(
        steps,
        st.lists(
            st.tuples(st.sampled_from(CELLS), st.one_of(st.floats(0, 9), st.just(math.nan))),
            max_size=3,
            unique_by=lambda p: p[0],
        ),
    ),
    min_size=1,
    max_size=30,
)


@settings(max_examples=300, deadline=None)
@given(rounds)
def test_table_equals_the_scalar_baselines(plan: list[tuple[int, list[tuple[int, float]]]]) -> None:
    table = BaselineTable(CONFIG, capacity=1)
    both = BaselineTable(CONFIG, capacity=1)  # scores and learns in one call
    scalar: dict[int, Baseline] = {}
    now = 1_780_000_000_000
    for step, samples in plan:
        now += step
        cells = np.array([c for c, _ in samples], np.uint64)
        values = np.array([v for _, v in samples], np.float64)
        z = table.z(cells, now, values)
        z_both = both.score_and_learn(cells, now, values)
        assert np.array_equal(z, z_both, equal_nan=True)
        for i, (cell, value) in enumerate(samples):
            held = scalar.get(cell)
            want = None if held is None or math.isnan(value) else score(held, now, value, CONFIG)
            assert (math.isnan(z[i]) and want is None) or z[i] == want
        table.observe(cells, now, values)
        for cell, value in samples:
            if not math.isnan(value):
                scalar[cell] = observe(scalar.get(cell) or CONFIG.empty(), now, value, CONFIG)
        for cell in CELLS:
            assert table.baseline(cell) == scalar.get(cell)
            assert both.baseline(cell) == scalar.get(cell)
