"""Contender: the project's own pipeline, end to end — a real ``citybrain worker``
process (ingest: decode, validate, locate, route; cells: fold into the changelog-backed
tables, measure, run the default rules, publish cell state and alerts).

The topic must be named ``<prefix>events.camera``: the worker runs with that topic
prefix, so its internal topics and consumer group are the run's own. Its clock starts
at the last poll of ``/metrics`` (every 50 ms) before the worker's first input record is
counted (so up to 50 ms early: a small input may be folded whole between two polls)
and stops at the first poll that finds every event folded into cell state or
dead-lettered (up to 50 ms late). CPU seconds and peak RSS are the worker process's
(``/proc``). The work is more than the other contenders' count per (cell, window):
``keys`` is the number of cells it holds state for, ``people`` is not comparable, and
both are reported as such.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from common import Args, Meter, args, peak_rss_mb

from citybrain.config.settings import Settings
from citybrain.config.topics import EVENTS_CAMERA
from citybrain.stack import free_port, settings_env
from citybrain.tools.load.metrics import parse_metrics, total
from streams.io.topic_admin import create_topics

TICK = os.sysconf("SC_CLK_TCK")


def scrape(port: int) -> dict[str, float]:
    """The worker's counters we need, summed over labels (0 before the first count)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        samples = parse_metrics(r.read().decode())
    names = (
        "citybrain_records_in_total",
        "citybrain_events_folded_total",
        "citybrain_deadlettered_total",
    )
    return {name: total(samples, name) or 0.0 for name in names}


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def main(a: Args) -> Meter:
    suffix = EVENTS_CAMERA
    if not a.topic.endswith(suffix):
        raise SystemExit(f"the topic must be named <prefix>{suffix}, not {a.topic!r}")
    port = free_port()
    settings = Settings().with_overrides(
        kafka={
            "brokers": f"kafka://{a.bootstrap}",
            "topic_prefix": a.topic.removesuffix(suffix),
            "partitions": a.partitions,
        },
        worker_http_port=port,
        embedded={"data_dir": str(a.state_dir)},
    )
    asyncio.run(create_topics(settings))
    meter = Meter("citybrain pipeline", a.events)
    log = (a.state_dir / "worker.log").open("wb")
    env = {**os.environ, **settings_env(settings)}
    worker = subprocess.Popen(
        [sys.executable, "-m", "citybrain", "worker"], env=env, stdout=log, stderr=log
    )
    try:
        cpu0 = 0.0
        started = None
        before = (time.perf_counter(), cpu_seconds(worker.pid))  # the last poll with none
        while True:
            time.sleep(0.05)
            if worker.poll() is not None:
                raise SystemExit(f"the worker exited with {worker.returncode}: see {log.name}")
            try:
                m = scrape(port)
            except OSError:
                continue  # not serving yet
            if started is None and m["citybrain_records_in_total"] > 0:
                meter.first_record(before[0])
                started, cpu0 = before
            if started is None:
                before = (time.perf_counter(), cpu_seconds(worker.pid))
                continue
            done = m["citybrain_events_folded_total"] + m["citybrain_deadlettered_total"]
            meter.events = 0
            meter.count(int(done), 0, 0)
            if meter.done or meter.timed_out(a.max_seconds):
                meter.extra.update(
                    cpu_s=cpu_seconds(worker.pid) - cpu0,
                    rss_peak_mb=peak_rss_mb(worker.pid),
                    deadlettered=int(m["citybrain_deadlettered_total"]),
                    keys=None,
                    people=None,
                )
                return meter
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        log.close()


if __name__ == "__main__":
    a = args(__doc__ or "")
    main(a).write(a.result)
