"""citybrain.tools.load.resources: CPU ticks and RSS from /proc text."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from citybrain.tools.load.resources import (
    PAGE_BYTES,
    ResourceSampler,
    machine_info,
    parse_stat_ticks,
    parse_statm_rss,
    read_sample,
)

# /proc/<pid>/stat of a process whose name holds a space and a parenthesis
STAT = (
    "4242 (tansu (v0.6) x) S 1 4242 4242 0 -1 4194560 12345 0 0 0 "
    "731 269 0 0 20 0 6 0 123456 123456789 4417 18446744073709551615"
)


def test_stat_ticks_are_utime_plus_stime() -> None:
    assert parse_stat_ticks(STAT) == 731 + 269
    with pytest.raises(ValueError, match=r"\)"):
        parse_stat_ticks("4242 tansu S 1")
    with pytest.raises(ValueError, match="fields"):
        parse_stat_ticks("4242 (x) S 1 2 3")


def test_statm_rss_is_the_second_field_in_pages() -> None:
    assert parse_statm_rss("30000 4417 1000 100 0 5000 0", 4096) == 4417 * 4096
    with pytest.raises(ValueError):
        parse_statm_rss("30000", 4096)


def test_reading_this_process() -> None:
    before = read_sample(os.getpid(), 0.0)
    sum(i * i for i in range(300_000))  # burn a little CPU
    after = read_sample(os.getpid(), 1.0)
    assert after.cpu_ticks >= before.cpu_ticks
    assert 10 * 1024 * 1024 < after.rss_bytes < 64 * 1024**3
    assert after.rss_bytes % PAGE_BYTES == 0
    with pytest.raises(OSError):
        read_sample(2**22 + 12345, 0.0)  # above any pid_max: no such process


def test_machine_info_names_the_machine() -> None:
    info = machine_info()
    assert info["cores"] >= 1
    assert info["memory_bytes"] > 0
    assert info["python"].startswith("3.11")


@pytest.mark.asyncio
async def test_sampler_reads_every_period_and_counts_failures() -> None:
    sampler = ResourceSampler({"me": os.getpid(), "gone": 2**22 + 12345}, time.time())
    stop = asyncio.Event()
    task = asyncio.create_task(sampler.run(stop, every_s=0.1))
    await asyncio.sleep(0.35)
    stop.set()
    await task
    mine = sampler.samples["me"]
    assert 4 <= len(mine) <= 6  # at 0, 0.1, 0.2, 0.3 s and maybe one at the stop
    assert [s.at_s for s in mine] == sorted(s.at_s for s in mine)
    assert sampler.samples["gone"] == [] and sampler.missed["gone"] == len(mine)
