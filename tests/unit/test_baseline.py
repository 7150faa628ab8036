"""Hour-of-week EWMA baselines, z-scores and the anomaly component of the risk score."""

import json
import math
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.crowd.baseline import (
    Baseline,
    BaselineConfig,
    Moments,
    anomaly,
    anomaly_component,
    hour_of_week,
    observe,
    score,
    update,
)

CST = timezone(timedelta(hours=8))


def _ms(y: int, mo: int, d: int, h: int, mi: int, tz: timezone = CST) -> int:
    return int(datetime(y, mo, d, h, mi, tzinfo=tz).timestamp() * 1000)


# 2024-01-01 was a Monday.
@pytest.mark.parametrize(
    ("ts_ms", "slot"),
    [
        (_ms(2024, 1, 1, 0, 0), 0),  # Monday 00:00 China time
        (_ms(2024, 1, 1, 0, 59) + 59_999, 0),
        (_ms(2024, 1, 1, 1, 0), 1),
        (_ms(2023, 12, 31, 23, 59) + 59_999, 167),  # Sunday 23:59:59.999, week wrap
        (_ms(2024, 1, 7, 23, 30), 167),
        (_ms(2024, 1, 8, 0, 0), 0),  # next Monday
        (_ms(2024, 1, 3, 12, 0), 2 * 24 + 12),  # Wednesday noon
        (_ms(2023, 12, 31, 16, 0, tz=UTC), 0),  # 16:00 UTC Sunday = Monday 00:00 CST
        (_ms(2023, 12, 31, 15, 59, tz=UTC), 167),
        (0, 3 * 24 + 8),  # epoch: Thursday 08:00 CST
        (-1, 3 * 24 + 7),  # just before the epoch
    ],
)
def test_hour_of_week_in_china_time(ts_ms: int, slot: int) -> None:
    assert hour_of_week(ts_ms) == slot


def test_hour_of_week_other_offsets() -> None:
    monday_utc = _ms(2024, 1, 1, 0, 0, tz=UTC)
    assert hour_of_week(monday_utc, 0) == 0
    assert hour_of_week(monday_utc, 8) == 8
    assert hour_of_week(monday_utc, -5) == 167 - 4
    assert hour_of_week(monday_utc + 30 * 60_000, 5.5) == 6
    with pytest.raises(ValueError):
        hour_of_week(0, 15)


@given(st.integers(-(10**13), 10**13))
def test_hour_of_week_matches_the_calendar(ts_ms: int) -> None:
    exact = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ts_ms)
    local = exact.astimezone(CST)
    assert hour_of_week(ts_ms) == local.weekday() * 24 + local.hour


def test_ewma_equals_a_hand_computed_sequence() -> None:
    t = _ms(2024, 1, 1, 9, 0)
    b = Baseline()
    for i, x in enumerate([2.0, 4.0, 1.0]):
        b = update(b, t + i * 60_000, x, alpha=0.5)
    # x=2: mean 2, var 0
    # x=4: diff 2, incr 1, mean 3, var 0.5·(0 + 2·1) = 1
    # x=1: diff −2, incr −1, mean 2, var 0.5·(1 + (−2)(−1)) = 1.5
    assert b.slots == ((9, Moments(2.0, 1.5, 3)),)
    assert b.last_ts_ms == t + 120_000


def test_slots_are_separate_and_sorted() -> None:
    b = update(Baseline(), _ms(2024, 1, 2, 10, 0), 3.0, alpha=0.1)  # Tuesday 10:00 → 34
    b = update(b, _ms(2024, 1, 1, 10, 0), 1.0, alpha=0.1)  # Monday 10:00 → 10
    assert [slot for slot, _ in b.slots] == [10, 34]
    assert b.moments(10) == Moments(1.0, 0.0, 1) and b.moments(11) is None


def test_z_of_the_mean_is_zero_and_none_until_min_samples() -> None:
    t = _ms(2024, 1, 1, 18, 0)
    b = Baseline()
    for i, x in enumerate([1.0, 2.0, 3.0, 2.0]):
        assert anomaly(b, t, 2.0, min_samples=4, min_sd=0.01) is None
        b = update(b, t + i * 60_000, x, alpha=0.2)
    mean = b.moments(18)
    assert mean is not None
    assert anomaly(b, t, mean.mean, min_samples=4, min_sd=0.01) == 0.0
    z = anomaly(b, t, mean.mean + 2 * math.sqrt(mean.var), min_samples=4, min_sd=0.01)
    assert z == pytest.approx(2.0)
    assert anomaly(b, t + 3_600_000, 2.0, min_samples=1, min_sd=0.01) is None  # other slot


def test_min_sd_floors_a_constant_history() -> None:
    t = _ms(2024, 1, 1, 18, 0)
    b = Baseline()
    for i in range(10):
        b = update(b, t + i * 60_000, 1.5, alpha=0.1)
    assert anomaly(b, t, 2.0, min_samples=5, min_sd=0.1) == pytest.approx(5.0)
    with pytest.raises(ValueError):
        anomaly(b, t, 2.0, min_samples=5, min_sd=0.0)


def test_update_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="alpha"):
        update(Baseline(), 0, 1.0, alpha=0.0)
    with pytest.raises(ValueError, match="finite"):
        update(Baseline(), 0, math.nan, alpha=0.1)


def test_observe_takes_at_most_one_sample_per_interval() -> None:
    cfg = BaselineConfig()
    t = _ms(2024, 1, 1, 8, 0)
    b = cfg.empty()
    for s in range(0, 180, 5):  # a reading every 5 s for 3 minutes
        b = observe(b, t + s * 1000, 1.0, cfg)
    assert b.moments(8) == Moments(1.0, 0.0, 3)
    assert observe(b, t, 9.0, cfg) == b  # late data is ignored
    assert score(b, t, 1.0, cfg) is None  # fewer than min_samples


def test_config_defaults_and_validation() -> None:
    cfg = BaselineConfig()
    assert (cfg.interval_ms, cfg.utc_offset_h) == (60_000, 8)
    assert 0 < cfg.alpha <= 1 and cfg.min_samples >= 1 and cfg.min_sd > 0
    for bad in ({"alpha": 0.0}, {"alpha": 1.5}, {"min_samples": 0}, {"min_sd": 0.0}):
        with pytest.raises(ValueError):
            BaselineConfig(**bad)


@pytest.mark.parametrize(
    ("z", "component"),
    [(-5.0, 0.0), (0.0, 0.0), (1.0, 0.0), (2.0, 0.2), (3.0, 0.5), (5.0, 0.8), (-math.inf, 0.0)],
)
def test_anomaly_component_anchors(z: float, component: float) -> None:
    assert anomaly_component(z) == pytest.approx(component)


def test_anomaly_component_edges() -> None:
    assert anomaly_component(math.inf) < 1.0
    assert anomaly_component(1e300) < 1.0
    with pytest.raises(ValueError):
        anomaly_component(math.nan)


_z = st.floats(allow_nan=False)


@given(_z, _z)
def test_anomaly_component_is_monotone_and_below_one(a: float, b: float) -> None:
    lo, hi = sorted((a, b))
    assert 0.0 <= anomaly_component(lo) <= anomaly_component(hi) < 1.0


def test_dict_round_trip_is_json_stable() -> None:
    b = Baseline(utc_offset_h=8)
    for i, x in enumerate([0.5, 0.7, 1.9, 0.2]):
        b = update(b, _ms(2024, 1, 1, 0, 0) + i * 3_600_000 * 25, x, alpha=0.3)
    text = json.dumps(b.to_dict(), sort_keys=True)
    again = Baseline.from_dict(json.loads(text))
    assert again == b
    assert json.dumps(again.to_dict(), sort_keys=True) == text
    assert Baseline.from_dict(Baseline().to_dict()) == Baseline()


@pytest.mark.parametrize(
    "patch",
    [
        {"extra": 1},
        {"format": 2},
        {"utc_offset_h": "8"},
        {"utc_offset_h": 20},
        {"last_ts_ms": 1.5},
        {"slots": "none"},
        {"slots": [[168, 1.0, 0.0, 1]]},
        {"slots": [[1, 1.0, -0.1, 1]]},
        {"slots": [[1, 1.0, 0.0, 0]]},
        {"slots": [[1, math.nan, 0.0, 1]]},
        {"slots": [[1, 1.0, 0.0]]},
        {"slots": [[2, 1.0, 0.0, 1], [1, 1.0, 0.0, 1]]},
    ],
)
def test_from_dict_rejects_malformed_data(patch: dict[str, object]) -> None:
    data = {**Baseline().to_dict(), **patch}
    with pytest.raises(ValueError):
        Baseline.from_dict(data)
