"""Vectorised crowd levels and risk (streams/pipeline/columnar/levels.py) against the scalar
reference (alerts/crowd/los.py, alerts/crowd/risk.py), limits and their neighbours included."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.crowd.los import DEFAULT_LOS, LOS_LETTERS
from alerts.crowd.risk import RiskInputs, risk
from streams.pipeline.columnar.levels import (
    STILL_LEVELS,
    letters,
    los_codes,
    risk_columns,
    still_codes,
)

LIMITS = sorted(
    {
        x
        for bands in (DEFAULT_LOS.walkway, DEFAULT_LOS.queuing, DEFAULT_LOS.flow)
        for x in bands.limits
    }
    | {1.0, 4.0, 4.7, 5.0}
)
densities = st.one_of(
    st.floats(0, 12, allow_nan=False),
    st.sampled_from(LIMITS),
    st.sampled_from(LIMITS).map(lambda x: math.nextafter(x, 0)),
    st.sampled_from(LIMITS).map(lambda x: math.nextafter(x, math.inf)),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(densities, st.just(math.nan)), min_size=1, max_size=40), st.data())
def test_levels_equal_the_scalar_classifiers(values: list[float], data: st.DataObject) -> None:
    array = np.array(values)
    static = np.array(
        data.draw(st.lists(st.booleans(), min_size=len(values), max_size=len(values)))
    )
    for bands in (DEFAULT_LOS.walkway, DEFAULT_LOS.queuing, DEFAULT_LOS.flow):
        want = [None if math.isnan(v) else bands.classify(v) for v in values]
        assert letters(los_codes(bands, array)) == want
    want_still = [
        None if math.isnan(v) else DEFAULT_LOS.still.classify(v, "static" if s else "moving")
        for v, s in zip(values, static.tolist(), strict=True)
    ]
    assert letters(still_codes(DEFAULT_LOS.still, array, static), STILL_LEVELS) == want_still
    assert set(LOS_LETTERS) >= {w for w in want if w}


cells = st.tuples(
    st.one_of(densities, st.just(math.nan)),
    st.one_of(st.floats(-3, 3, allow_nan=False), st.just(math.nan)),
    st.one_of(st.floats(-6, 12, allow_nan=False), st.just(math.nan)),
    st.integers(0, 3),
    st.integers(0, 2),
    st.integers(0, 40),
)


@settings(max_examples=200, deadline=None)
@given(st.lists(cells, min_size=1, max_size=30))
def test_risk_equals_the_scalar_score(
    rows: list[tuple[float, float, float, int, int, int]],
) -> None:
    d, t, z, alarms, critical, tickets = (np.array(c) for c in zip(*rows, strict=True))
    got = risk_columns(
        d,
        t,
        z,
        alarms.astype(np.int64),
        np.minimum(critical, alarms).astype(np.int64),
        tickets.astype(np.int64),
    )
    for i, (dv, tv, zv, a, c, k) in enumerate(rows):
        want = risk(
            RiskInputs(
                density=None if math.isnan(dv) else dv,
                sensor_alarms=a,
                critical_alarms=min(c, a),
                tickets=k,
                trend=None if math.isnan(tv) else tv,
                anomaly_z=None if math.isnan(zv) else zv,
            )
        )
        assert abs(round(float(got.score[i]), 3) - want.score) <= 0.001 + 1e-12
        for name, value in want.factors.items():
            assert abs(round(float(getattr(got, name)[i]), 3) - value) <= 0.001 + 1e-12, name
        raw = 1.0 - math.prod(1.0 - float(getattr(got, n)[i]) for n in want.factors)
        assert math.isclose(raw, float(got.score[i]), rel_tol=1e-12, abs_tol=1e-12)
