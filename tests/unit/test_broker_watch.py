"""The broker probe's verdicts: one slow answer is not an outage; recovery is logged once."""

from __future__ import annotations

import asyncio
import logging

import pytest

from streams.io.broker_watch import BrokerStatus, BrokerWatch, observe


def test_down_after_two_failures_in_a_row_and_up_at_the_first_success() -> None:
    s = BrokerStatus(since_s=0.0)
    s, line = observe(s, False, 1.0, "timeout")
    assert s.up and s.failures == 1 and line is None
    s, line = observe(s, False, 3.0, "timeout")
    assert not s.up and s.since_s == 3.0 and line is not None and "timeout" in line
    s, line = observe(s, False, 5.0, "refused")
    assert not s.up and s.since_s == 3.0 and line is None and s.reason == "refused"
    s, line = observe(s, True, 10.5)
    assert s.up and s.failures == 0 and line == "Kafka broker answers again after 7.5 s"
    s, line = observe(s, True, 12.0)
    assert s.up and s.since_s == 10.5 and line is None


def test_a_single_failure_between_successes_is_forgotten() -> None:
    s = BrokerStatus()
    s, _ = observe(s, False, 1.0, "slow")
    s, _ = observe(s, True, 2.0)
    s, line = observe(s, False, 3.0, "slow")
    assert s.up and s.failures == 1 and line is None


def test_watch_reports_hung_and_refusing_brokers(caplog: pytest.LogCaptureFixture) -> None:
    answers: list[str] = ["hang", "refuse", "ok"]

    async def probe(bootstrap: str, timeout_s: float) -> None:
        what = answers.pop(0)
        if what == "hang":
            await asyncio.sleep(10 * timeout_s)
        elif what == "refuse":
            raise ConnectionRefusedError(111, "Connection refused")

    async def run() -> list[bool]:
        watch = BrokerWatch("127.0.0.1:1", timeout_s=0.05, probe=probe)
        seen = []
        for _ in range(3):
            await asyncio.wait_for(watch.check(), 2)  # a hung probe is cut at timeout_s
            seen.append(watch.up)
        return seen

    with caplog.at_level(logging.INFO, logger="streams.io.broker_watch"):
        assert asyncio.run(run()) == [True, False, True]
    assert any("not answering" in r.message and "refused" in r.message for r in caplog.records)
    assert any("answers again" in r.message for r in caplog.records)
