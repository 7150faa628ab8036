"""citybrain.tools.load.report: the figures of a load run (percentiles, rates, CPU %, totals)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from citybrain.tools.load.report import (
    ClientCount,
    Distribution,
    LoadPlan,
    ProcSample,
    StalledCount,
    client_figures,
    counter_rates,
    cpu_percent,
    ingest_figures,
    lag_over_time,
    per_second,
    percentile,
    probe_figures,
    resource_figures,
    stalled_figures,
)


def test_percentile_interpolates_between_ranks() -> None:
    values = [10.0, 20.0, 30.0, 40.0]
    assert percentile(values, 0) == 10.0
    assert percentile(values, 100) == 40.0
    assert percentile(values, 50) == 25.0
    assert percentile([40.0, 10.0, 30.0, 20.0], 50) == 25.0  # order does not matter
    assert percentile([7.0], 99) == 7.0
    with pytest.raises(ValueError, match="no values"):
        percentile([], 50)
    for bad in (-1.0, 100.5, float("nan")):
        with pytest.raises(ValueError, match="0 … 100"):
            percentile(values, bad)


@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=200),
    st.floats(0, 100),
)
def test_percentile_agrees_with_numpy(values: list[float], q: float) -> None:
    assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)), abs=1e-6)


def test_distribution_summarises_or_is_none() -> None:
    assert Distribution.of([]) is None
    d = Distribution.of([float(v) for v in range(1, 101)])
    assert d is not None
    assert (d.count, d.min, d.max, d.mean) == (100, 1.0, 100.0, 50.5)
    assert d.p50 == pytest.approx(50.5)
    assert d.p99 == pytest.approx(99.01)


def test_cpu_percent_from_tick_deltas() -> None:
    # 100 ticks per second: 150 ticks in 2 s of wall time is 75 % of one core
    assert cpu_percent(1000, 1150, 100, 2.0) == pytest.approx(75.0)
    # two cores busy for one second: 200 %
    assert cpu_percent(0, 200, 100, 1.0) == pytest.approx(200.0)
    assert cpu_percent(5, 5, 100, 1.0) == 0.0
    with pytest.raises(ValueError, match="backwards"):
        cpu_percent(10, 9, 100, 1.0)
    with pytest.raises(ValueError, match="wall time"):
        cpu_percent(0, 1, 100, 0.0)
    with pytest.raises(ValueError, match="ticks per second"):
        cpu_percent(0, 1, 0, 1.0)


def test_per_second_buckets_amounts() -> None:
    acks = [(0.1, 200), (0.9, 200), (1.0, 200), (2.5, 200), (-0.2, 200)]
    assert per_second(acks, 3) == (600, 200, 200)
    assert per_second(acks, 5) == (600, 200, 200, 0, 0)
    assert per_second([(6.2, 10)], 3) == (0, 0, 0, 0, 0, 0, 10)  # late acks extend it
    assert per_second([], 2) == (0, 0)


def test_counter_rates_per_interval_and_restarts() -> None:
    points = [(0.0, 0.0), (2.0, 4000.0), (4.0, 10000.0), (6.0, 500.0)]
    assert counter_rates(points) == ((1.0, 2000.0), (3.0, 3000.0), (5.0, 250.0))
    assert counter_rates(points[:1]) == ()
    with pytest.raises(ValueError, match="out of order"):
        counter_rates([(2.0, 1.0), (2.0, 2.0)])


def test_ingest_figures_shortfall() -> None:
    f = ingest_figures(
        batch=200,
        duration_s=10.0,
        offered_records=1000,
        sent_records=900,
        acked_records=880,
        failed_records=15,
        skipped_records=100,
        errors={"KafkaTimeoutError": 15},
    )
    assert (f.offered, f.sent, f.acked, f.failed, f.skipped) == (
        200_000,
        180_000,
        176_000,
        3_000,
        20_000,
    )
    assert f.in_flight == 5 * 200
    assert f.shortfall == f.skipped + f.failed + f.in_flight == 24_000
    assert f.shortfall_pct == pytest.approx(12.0)
    assert (f.offered_rate, f.achieved_rate) == (20_000.0, 17_600.0)
    with pytest.raises(ValueError, match="than sent"):
        ingest_figures(
            batch=1, duration_s=1, offered_records=5, sent_records=2, acked_records=2,
            failed_records=1, skipped_records=0, errors={},
        )  # fmt: skip
    with pytest.raises(ValueError, match="than offered"):
        ingest_figures(
            batch=1, duration_s=1, offered_records=5, sent_records=5, acked_records=5,
            failed_records=0, skipped_records=1, errors={},
        )  # fmt: skip


def test_client_figures_count_drops_and_reconnects() -> None:
    counts = [
        ClientCount(1, 30, 28, 3_000_000, 0, {}),
        ClientCount(3, 20, 17, 2_000_000, 1, {1013: 2}),
        ClientCount(2, 25, 24, 2_500_000, 0, {1006: 1}, bad_messages=1),
        ClientCount(0, 0, 0, 0, 4, {}),
    ]
    f = client_figures(counts, peak_connected=3)
    assert (f.clients, f.ever_connected, f.peak_connected, f.with_cells) == (4, 3, 3, 3)
    assert (f.connections, f.reconnects) == (6, 3)
    assert (f.messages, f.cells_messages, f.bytes) == (75, 69, 7_500_000)
    assert f.closes == {1006: 1, 1013: 2}
    assert (f.dropped_slow, f.clients_dropped) == (2, 1)
    assert (f.connect_errors, f.bad_messages) == (5, 1)
    assert f.cells_per_client is not None and f.cells_per_client.min == 0.0


def test_stalled_figures_count_connected_and_ended() -> None:
    counts = [
        StalledCount(None, 0.5, "eof"),
        StalledCount(None, 0.5, "reset"),
        StalledCount(None, 0.6, None),
        StalledCount("ConnectionRefusedError", None, None),
    ]
    f = stalled_figures(counts)
    assert (f.asked, f.connected, f.ended_by_server) == (4, 3, 2)
    assert f.each == tuple(counts)
    assert stalled_figures([]).asked == 0


def test_lag_over_time_buckets() -> None:
    samples = [(0.2, 10.0), (0.7, 30.0), (5.1, 100.0), (5.2, 300.0), (5.3, 200.0)]
    points = lag_over_time(samples, 5.0)
    assert [(p.at_s, p.count, p.p50) for p in points] == [(0.0, 2, 20.0), (5.0, 3, 200.0)]
    assert points[1].p99 == pytest.approx(298.0)
    assert lag_over_time([], 1.0) == ()
    with pytest.raises(ValueError, match="bucket"):
        lag_over_time(samples, 0)


def test_resource_figures_cpu_and_rss() -> None:
    mib = 1024 * 1024
    samples = [
        ProcSample(0.0, 1000, 100 * mib),
        ProcSample(2.0, 1100, 150 * mib),  # 100 ticks in 2 s: 50 %
        ProcSample(4.0, 1400, 120 * mib),  # 300 ticks in 2 s: 150 %
    ]
    r = resource_figures("worker", 4242, samples, ticks_per_s=100)
    assert r.cpu_series == ((1.0, 50.0), (3.0, 150.0))
    assert r.cpu_mean_pct == pytest.approx(100.0)
    assert r.cpu_max_pct == pytest.approx(150.0)
    assert (r.rss_first_bytes, r.rss_peak_bytes, r.rss_last_bytes) == (
        100 * mib,
        150 * mib,
        120 * mib,
    )
    assert r.rss_growth_bytes == 20 * mib
    one = resource_figures("redis", 1, samples[:1], ticks_per_s=100)
    assert (one.cpu_mean_pct, one.cpu_max_pct, one.rss_peak_bytes) == (None, None, 100 * mib)
    none = resource_figures("gone", 2, [], ticks_per_s=100)
    assert none.rss_first_bytes is None and none.cpu_series == ()


def test_probe_figures() -> None:
    f = probe_figures(5, [800.0, 900.0, 1000.0])
    assert (f.sent, f.resolved, f.unresolved) == (5, 3, 2)
    assert f.lag_ms is not None and f.lag_ms.p50 == 900.0
    assert probe_figures(0, []).lag_ms is None
    with pytest.raises(ValueError, match="resolved"):
        probe_figures(1, [1.0, 2.0])


def plan(**changes: object) -> LoadPlan:
    base: dict[str, object] = {
        "rate": 20_000.0,
        "clients": 500,
        "duration_s": 300.0,
        "batch": 200,
        "cameras": 18_000,
        "ramp_s": 5.0,
        "target": "embedded",
    }
    return LoadPlan(**{**base, **changes})  # type: ignore[arg-type]


def test_load_plan_refuses_nonsense() -> None:
    assert plan().rate == 20_000.0
    assert plan(clients=0).clients == 0  # ingest only is allowed
    assert plan().stalled == 0
    assert plan(clients=0, stalled=2).stalled == 2  # stalled without readers: no lag figures
    for changes, message in [
        ({"rate": 0.0}, "--rate"),
        ({"rate": float("inf")}, "--rate"),
        ({"clients": -1}, "--clients"),
        ({"stalled": -1}, "--stalled"),
        ({"duration_s": 0.0}, "--duration"),
        ({"batch": 0}, "--batch"),
        ({"cameras": 0}, "--cameras"),
        ({"batch": 300, "cameras": 200}, "larger than --cameras"),
        ({"rate": 10.0, "batch": 200, "duration_s": 10.0}, "less than one record"),
        ({"ramp_s": 300.0}, "ramp-up"),
    ]:
        with pytest.raises(ValueError, match=message):
            plan(**changes)
