"""Token buckets: exact behaviour on a made-up clock, and the two promises as properties."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from web.ratelimit import Bucket, BucketStore, Budget, full, share, take

BUDGET = Budget(rate_per_s=2.0, burst=3)


def grants(budget: Budget, times: list[float]) -> list[bool]:
    """Which of the requests at ``times`` (ascending, seconds) one caller is granted."""
    bucket = full(budget, times[0]) if times else Bucket(0.0, 0.0)
    out = []
    for t in times:
        bucket, decision = take(bucket, budget, t)
        out.append(decision.granted)
    return out


def test_a_burst_then_the_rate() -> None:
    # three at once (the burst), the fourth waits half a second for the next token
    assert grants(BUDGET, [0.0, 0.0, 0.0, 0.0, 0.5, 0.5, 1.0]) == [
        True,
        True,
        True,
        False,
        True,
        False,
        True,
    ]


def test_refusal_says_when_to_come_back() -> None:
    bucket = full(BUDGET, 10.0)
    for _ in range(3):
        bucket, granted = take(bucket, BUDGET, 10.0)
        assert granted.granted
    bucket, refused = take(bucket, BUDGET, 10.1)
    assert not refused.granted
    assert refused.retry_after_s == pytest.approx(0.4)
    assert refused.retry_after_header == "1"  # whole seconds, at least 1
    _, later = take(bucket, BUDGET, 10.1 + refused.retry_after_s)
    assert later.granted


def test_idle_caller_refills_only_up_to_the_burst() -> None:
    # one request, an hour of silence, then five at once: the burst, not an hour's worth
    assert grants(BUDGET, [0.0] + [3600.0] * 5) == [True, True, True, True, False, False]


@pytest.mark.parametrize("rate", [3.0, 7.0, 10.0, 0.3, 1 / 3, 49.0, 1000.0])
def test_exactly_at_the_rate_with_no_burst_is_never_refused(rate: float) -> None:
    # k / rate carries rounding error: some gaps come out a hair short of 1 / rate
    assert all(grants(Budget(rate, 1), [1e5 + k / rate for k in range(2000)]))


def test_a_clock_reading_from_the_past_adds_nothing() -> None:
    bucket, _ = take(Bucket(1.0, 100.0), BUDGET, 100.0)
    bucket, decision = take(bucket, BUDGET, 50.0)
    assert not decision.granted and bucket.at_s == 100.0


@pytest.mark.parametrize(("rate", "burst"), [(0.0, 1), (-1.0, 1), (float("inf"), 1), (1.0, 0)])
def test_a_budget_must_allow_something(rate: float, burst: int) -> None:
    with pytest.raises(ValueError, match="must be"):
        Budget(rate, burst)


def test_store_keeps_callers_apart_and_bounded() -> None:
    store = BucketStore(Budget(1.0, 1), max_keys=2)
    assert store.take("a", 0.0).granted
    assert not store.take("a", 0.0).granted
    assert store.take("b", 0.0).granted  # another caller has its own bucket
    assert store.take("c", 0.0).granted
    assert len(store) == 2  # "a", least recently seen, is forgotten
    assert store.take("a", 0.0).granted  # ... and starts again full
    assert not store.take("c", 0.0).granted


budgets = st.builds(
    Budget,
    rate_per_s=st.floats(min_value=0.01, max_value=1000.0),
    burst=st.integers(min_value=1, max_value=10),
)
# bursts (no time between requests), near-bursts and pauses, in any mix
gaps = st.lists(
    st.one_of(
        st.just(0.0), st.floats(min_value=0.0, max_value=0.01), st.floats(0.0, max_value=10.0)
    ),
    min_size=1,
    max_size=150,
)


def cumulative(start: float, steps: list[float]) -> list[float]:
    times, t = [], start
    for step in steps:
        t += step
        times.append(t)
    return times


@settings(max_examples=300)
@given(budgets, st.floats(min_value=0.0, max_value=1e6), gaps)
def test_granted_never_exceeds_burst_plus_rate_times_interval(
    budget: Budget, start: float, steps: list[float]
) -> None:
    times = cumulative(start, steps)
    granted = [t for t, ok in zip(times, grants(budget, times), strict=True) if ok]
    for i, first in enumerate(granted):
        for j in range(i, len(granted)):
            count = j - i + 1  # granted requests in [first, granted[j]]
            # (up to the clock's float rounding, which take() forgives)
            assert count <= budget.burst + budget.rate_per_s * (granted[j] - first) + 1e-4


@given(budgets, st.floats(min_value=0.0, max_value=1e6), gaps)
def test_a_caller_under_the_rate_is_never_refused(
    budget: Budget, start: float, extra: list[float]
) -> None:
    # every request at least 1/rate after the one before it
    times = cumulative(start, [1.0 / budget.rate_per_s + e for e in extra])
    assert all(grants(budget, times))


@given(budgets, st.floats(min_value=0.0, max_value=1e3), gaps)
def test_a_caller_within_burst_and_rate_is_never_refused(
    budget: Budget, start: float, steps: list[float]
) -> None:
    """Whatever the spacing: keep only requests that stay within burst + rate × interval
    (counted against the ones kept before); the bucket grants every one of them."""
    kept: list[float] = []
    for t in cumulative(start, steps):
        if all(
            len(kept) - i + 1 <= budget.burst + budget.rate_per_s * (t - kept[i]) - 1e-6
            for i in range(len(kept))
        ):
            kept.append(t)
    assert all(grants(budget, kept))


def test_a_replicas_share_of_a_budget() -> None:
    assert share(Budget(20.0, 200), 1) == Budget(20.0, 200)
    assert share(Budget(20.0, 200), 3) == Budget(20.0 / 3, 66)  # never more than the total
    assert share(Budget(2.0, 1), 4) == Budget(0.5, 1)  # a burst of one at least
    with pytest.raises(ValueError, match="replicas must be at least 1"):
        share(Budget(2.0, 1), 0)
