"""Rate of rise: bucketed sliding window and least-squares slope per minute."""

import json
import math
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.crowd.trend import RiseConfig, Series, add, is_rising, rise_per_min, slope_per_min

W, B = 180_000, 10_000


def _fold(samples: list[tuple[int, float]], window_ms: int = W, bucket_ms: int = B) -> Series:
    series = Series()
    for ts, value in samples:
        series = add(series, ts, value, window_ms=window_ms, bucket_ms=bucket_ms)
    return series


def test_slope_of_a_linear_ramp_is_exact() -> None:
    # 0.5 persons/m² per minute, one sample every 10 s for 3 minutes
    series = _fold([(t, 1.0 + 0.5 * t / 60_000) for t in range(0, 180_001, 10_000)])
    assert len(series.samples) == 19
    assert slope_per_min(series, min_span_ms=60_000) == pytest.approx(0.5, rel=1e-12)


def test_slope_of_a_falling_ramp_at_irregular_times() -> None:
    times = [1_000_000, 1_013_000, 1_029_500, 1_061_000, 1_097_250]
    series = _fold([(t, 4.0 - 1.2 * (t - times[0]) / 60_000) for t in times])
    assert slope_per_min(series, min_span_ms=60_000) == pytest.approx(-1.2, rel=1e-12)


def test_flat_series_has_zero_slope() -> None:
    series = _fold([(t, 2.0) for t in range(0, 120_001, 10_000)])
    assert slope_per_min(series, min_span_ms=60_000) == 0.0


def test_no_slope_with_too_few_samples_or_too_short_a_span() -> None:
    assert slope_per_min(Series(), min_span_ms=0) is None
    assert slope_per_min(_fold([(0, 1.0), (90_000, 2.0)]), min_span_ms=60_000) is None
    short = _fold([(0, 1.0), (20_000, 2.0), (50_000, 3.0)])
    assert slope_per_min(short, min_span_ms=60_000) is None
    assert slope_per_min(short, min_span_ms=50_000) == pytest.approx(270 / 114, rel=1e-12)


def test_bucketing_keeps_the_newest_sample_of_a_bucket() -> None:
    # a 5 Hz camera: 50 readings in one 10 s bucket are one sample, the last one
    series = _fold([(200 * i, float(i)) for i in range(50)])
    assert series.samples == ((9_800, 49.0),)
    # an older reading arriving late does not replace a newer one in its bucket
    late = add(series, 1_000, 99.0, window_ms=W, bucket_ms=B)
    assert late == series
    # same timestamp: the larger value wins, whatever the order
    a = _fold([(5_000, 1.0), (5_000, 2.0)])
    b = _fold([(5_000, 2.0), (5_000, 1.0)])
    assert a == b == Series(((5_000, 2.0),))


def test_window_drops_old_samples_and_ignores_late_ones() -> None:
    series = _fold([(0, 1.0), (10_000, 2.0), (20_000, 3.0)])
    series = add(series, 190_000, 4.0, window_ms=W, bucket_ms=B)
    assert [ts for ts, _ in series.samples] == [10_000, 20_000, 190_000]
    assert add(series, 9_999, 5.0, window_ms=W, bucket_ms=B) == series
    series = add(series, 10_000_000, 1.0, window_ms=W, bucket_ms=B)
    assert series.samples == ((10_000_000, 1.0),)


def test_add_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="finite"):
        add(Series(), 0, math.nan, window_ms=W, bucket_ms=B)
    with pytest.raises(ValueError, match="bucket_ms"):
        add(Series(), 0, 1.0, window_ms=W, bucket_ms=0)
    with pytest.raises(ValueError, match="bucket_ms"):
        add(Series(), 0, 1.0, window_ms=5_000, bucket_ms=10_000)


def test_list_round_trip_through_json() -> None:
    series = _fold([(t, 0.1 * t / 1000) for t in range(0, 100_000, 7_000)])
    stored = json.loads(json.dumps(series.to_list()))
    assert Series.from_list(stored) == series
    assert Series.from_list([]) == Series()


@pytest.mark.parametrize(
    "data",
    [
        [[1, 2, 3]],
        [5],
        [{"ts": 1}],
        [[1.5, 2.0]],
        [[True, 2.0]],
        [[1, "x"]],
        [[1, math.inf]],
        [[2, 1.0], [1, 1.0]],
    ],
)
def test_from_list_rejects_malformed_data(data: list[list[float]]) -> None:
    with pytest.raises(ValueError):
        Series.from_list(data)


def test_rise_config_defaults_and_rising() -> None:
    cfg = RiseConfig()
    assert (cfg.window_ms, cfg.bucket_ms, cfg.min_span_ms, cfg.warn_per_min) == (
        180_000,
        10_000,
        60_000,
        0.5,
    )
    ramp = _fold([(t, 1.0 + 0.6 * t / 60_000) for t in range(0, 90_001, 10_000)])
    assert rise_per_min(ramp, cfg) == pytest.approx(0.6)
    assert is_rising(ramp, cfg)
    assert not is_rising(_fold([(0, 1.0), (10_000, 2.0)]), cfg)
    with pytest.raises(ValueError):
        RiseConfig(min_span_ms=200_000)
    with pytest.raises(ValueError):
        RiseConfig(warn_per_min=0.0)


_samples = st.lists(
    st.tuples(st.integers(0, 2_000_000), st.floats(0, 10, allow_nan=False)), max_size=60
)
_sizes = st.sampled_from([(180_000, 10_000), (60_000, 10_000), (45_000, 10_000), (1_000, 1_000)])


@given(_samples, _sizes)
def test_series_never_outgrows_its_window(
    samples: list[tuple[int, float]], sizes: tuple[int, int]
) -> None:
    window_ms, bucket_ms = sizes
    series = Series()
    for ts, value in samples:
        series = add(series, ts, value, window_ms=window_ms, bucket_ms=bucket_ms)
        assert len(series.samples) <= -(-window_ms // bucket_ms) + 1
        times = [t for t, _ in series.samples]
        assert times == sorted(times) and len({t // bucket_ms for t in times}) == len(times)
        assert times[-1] - times[0] <= window_ms


@given(_samples, st.randoms(use_true_random=False))
def test_any_arrival_order_gives_the_same_series(
    samples: list[tuple[int, float]], rnd: random.Random
) -> None:
    shuffled = list(samples)
    rnd.shuffle(shuffled)
    assert _fold(samples) == _fold(shuffled)
