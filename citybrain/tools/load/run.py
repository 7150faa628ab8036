"""One ``citybrain load`` run against running servers, and its report (edge + assembly).

:func:`run_load` starts the resource sampler, the websocket clients and the open-loop
ingest together (the stalled clients once the first reading client is in), shows
progress, lets the clients read for a while after the last record (markers still in
flight), scrapes ``/metrics`` before and after, finds out which stalled clients the
server ended, and returns what it collected as :class:`RunData`. :func:`build_report`
turns that into the figures of :mod:`citybrain.tools.load.report` (pure).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import aiohttp

from citybrain.config.settings import Settings
from citybrain.tools.load.clients import StalledClients, Swarm
from citybrain.tools.load.metrics import Samples, by_label, scrape, server_figures
from citybrain.tools.load.probes import ProbeBook
from citybrain.tools.load.report import (
    ClientCount,
    Distribution,
    LoadPlan,
    LoadReport,
    ProcSample,
    StalledCount,
    client_figures,
    counter_rates,
    ingest_figures,
    lag_over_time,
    per_second,
    percentile,
    probe_figures,
    resource_figures,
    stalled_figures,
)
from citybrain.tools.load.resources import TICKS_PER_S, ResourceSampler
from feeds.sim.loadgen import LoadCamera, OpenLoopIngest, Timetable

PROGRESS_EVERY_S: Final = 0.5
DRAIN_MAX_S: Final = 10.0
"""After the last record, clients read on until every marker is resolved or this long."""
LIVE_LAG_WINDOW_S: Final = 5.0
LAG_POINTS: Final = 60
"""About this many points in the lag-over-time series (buckets of at least 1 s)."""
WORKER_EVERY_S: Final = 2.0
"""The worker's ``/metrics`` is read this often for its ingest rate over time."""


@dataclass(frozen=True, slots=True)
class Targets:
    """Where the load goes: ``settings`` name the broker and topic prefix; ``web_url``
    is the web server's base URL (ending in ``/``); ``worker_metrics`` its worker's
    ``/metrics`` URL, if known; ``pids`` the local processes to sample (name → pid;
    the load generator is added); ``headers`` go with every web request."""

    settings: Settings
    web_url: str
    worker_metrics: str | None
    pids: Mapping[str, int]
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def ws_url(self) -> str:
        return "ws" + self.web_url.removeprefix("http") + "ws"


@dataclass(frozen=True, slots=True)
class LiveFigures:
    """The progress display's figures: seconds since the start, events offered and
    acknowledged so far, clients connected, delivery lag p50 of the last few seconds and
    the newest end-to-end lag (ms; None before any)."""

    elapsed_s: float
    offered: int
    acked: int
    connected: int
    lag_p50_ms: float | None
    e2e_ms: float | None
    draining: bool


@dataclass(frozen=True, slots=True)
class RunData:
    """What one run collected, in plain numbers (times in s after ``started_at``)."""

    started_at: float
    ingest_s: float
    stopped_early: bool
    timetable: Timetable
    offered_records: int
    sent_records: int
    acked_records: int
    failed_records: int
    skipped_records: int
    send_errors: dict[str, int]
    acks: tuple[tuple[float, int], ...]
    clients: tuple[ClientCount, ...]
    stalled: tuple[StalledCount, ...]
    peak_connected: int
    lags: tuple[tuple[float, float], ...]
    markers_sent: int
    marker_lags: tuple[tuple[float, float], ...]
    samples: dict[str, tuple[ProcSample, ...]]
    pids: dict[str, int]
    ticks_per_s: int
    missed_samples: dict[str, int]
    worker_before: Samples | None
    worker_after: Samples | None
    web_before: Samples | None
    web_after: Samples | None
    worker_counts: tuple[tuple[float, float], ...]
    """(s, camera events the worker had counted in) every :data:`WORKER_EVERY_S`."""
    not_ready: tuple[str, ...]
    """Readiness checks that failed at the end, as ``url: status body``."""


async def run_load(
    plan: LoadPlan,
    targets: Targets,
    fleet: Sequence[LoadCamera],
    *,
    stop: asyncio.Event,
    progress: Callable[[LiveFigures], None],
) -> RunData:
    """Run the load of ``plan`` against ``targets``; ``stop`` ends it early (the figures
    cover what ran). Raises ``aiokafka`` errors when the broker cannot be reached, and
    ValueError for stalled clients of a web server that is not ``http://``."""
    metrics_url = targets.web_url + "metrics"
    async with aiohttp.ClientSession() as http:
        worker_before = await _scrape_worker(http, targets)
        web_before = await scrape(http, metrics_url, targets.headers)
    t0 = time.time()  # the origin of every series: clients, ingest and sampler start now
    # Only when asked (their URL must be ws://), and before anything starts: may refuse.
    stalled = (
        StalledClients(targets.ws_url, plan.stalled, t0=t0, headers=targets.headers)
        if plan.stalled
        else None
    )
    stalled_counts: tuple[StalledCount, ...] = ()
    probes = ProbeBook()
    pids = {**targets.pids, "loadgen": os.getpid()}
    sampler = ResourceSampler(pids, t0)
    sampler_stop = asyncio.Event()
    sampler_task = asyncio.create_task(sampler.run(sampler_stop), name="resources")
    swarm = Swarm(
        targets.ws_url,
        plan.clients,
        ramp_s=plan.ramp_s,
        t0=t0,
        probes=probes,
        headers=targets.headers,
    )
    timetable = Timetable.for_rate(plan.rate, plan.batch, plan.duration_s)
    ingest = OpenLoopIngest(
        targets.settings,
        fleet,
        timetable,
        run_id=secrets.token_hex(3),
        on_marker=lambda cam, ts_ms: probes.add(cam.cell, ts_ms, time.time() - t0),
        t0=t0,
    )
    worker_after = web_after = None
    worker_counts: list[tuple[float, float]] = []
    following = asyncio.Event()
    follower = asyncio.create_task(
        _follow_worker(targets, t0, following, worker_counts), name="worker-rate"
    )
    not_ready: list[str] = []
    swarm.start()
    if stalled is not None:  # once a reading client is in: they join a map being served
        stalled.start(after=swarm.first_connected if plan.clients else None)
    try:
        sending = asyncio.create_task(ingest.run(stop), name="ingest")
        await _watch(sending, lambda: _live(t0, ingest, swarm, probes, False), progress)
        tally = sending.result()
        ingest_s = time.time() - t0
        drain_until = time.monotonic() + DRAIN_MAX_S
        while probes.pending and time.monotonic() < drain_until and not stop.is_set():
            progress(_live(t0, ingest, swarm, probes, True))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), PROGRESS_EVERY_S)
        async with aiohttp.ClientSession() as http:  # before the clients leave: ws_clients
            worker_after = await _scrape_worker(http, targets)
            web_after = await scrape(http, metrics_url, targets.headers)
            for url in _readiness_urls(targets):
                problem = await _not_ready(http, url, targets.headers)
                if problem is not None:
                    not_ready.append(problem)
    finally:
        if stalled is not None:  # before the readers leave: they read on while it drains
            stalled_counts = await stalled.close()
        await swarm.close()
        following.set()
        sampler_stop.set()
        await asyncio.gather(sampler_task, follower)
    return RunData(
        started_at=t0,
        ingest_s=ingest_s,
        stopped_early=tally.offered < timetable.records,  # Ctrl-C before the timetable ended
        timetable=timetable,
        offered_records=tally.offered,
        sent_records=tally.sent,
        acked_records=tally.acked,
        failed_records=tally.failed,
        skipped_records=tally.skipped,
        send_errors=dict(tally.errors),
        acks=tuple(tally.acks),
        clients=tuple(t.count() for t in swarm.tallies),
        stalled=stalled_counts,
        peak_connected=swarm.peak_connected,
        lags=tuple(swarm.lags),
        markers_sent=probes.sent,
        marker_lags=tuple(probes.lags),
        samples={name: tuple(s) for name, s in sampler.samples.items()},
        pids=pids,
        ticks_per_s=TICKS_PER_S,
        missed_samples=dict(sampler.missed),
        worker_before=worker_before,
        worker_after=worker_after,
        web_before=web_before,
        web_after=web_after,
        worker_counts=tuple(worker_counts),
        not_ready=tuple(not_ready),
    )


async def _scrape_worker(http: aiohttp.ClientSession, targets: Targets) -> Samples | None:
    if targets.worker_metrics is None:
        return None
    return await scrape(http, targets.worker_metrics)


async def _follow_worker(
    targets: Targets, t0: float, stop: asyncio.Event, into: list[tuple[float, float]]
) -> None:
    """Append (s, camera events counted in) from the worker's /metrics every
    :data:`WORKER_EVERY_S` until ``stop`` is set (failed reads are logged and left out)."""
    if targets.worker_metrics is None:
        return
    async with aiohttp.ClientSession() as http:
        while not stop.is_set():
            samples = await scrape(http, targets.worker_metrics)
            if samples is not None:
                counted = by_label(samples, "citybrain_events_in_total", "kind").get("camera", 0.0)
                into.append((time.time() - t0, counted))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), WORKER_EVERY_S)


def _readiness_urls(targets: Targets) -> list[str]:
    urls = [targets.web_url + "readyz"]
    if targets.worker_metrics is not None and targets.worker_metrics.endswith("/metrics"):
        urls.append(targets.worker_metrics.removesuffix("metrics") + "readyz")
    return urls


async def _not_ready(
    http: aiohttp.ClientSession, url: str, headers: Mapping[str, str]
) -> str | None:
    """None when ``url`` answers 200, else what it said (or why it could not)."""
    try:
        async with http.get(
            url, headers=headers, timeout=aiohttp.ClientTimeout(total=10)
        ) as response:
            if response.status == 200:
                return None
            return f"{url}: {response.status} {(await response.text())[:300]}"
    except (aiohttp.ClientError, TimeoutError) as exc:
        return f"{url}: {exc!r}"


async def _watch(
    task: asyncio.Task[Any], live: Callable[[], LiveFigures], show: Callable[[LiveFigures], None]
) -> None:
    """Show progress every :data:`PROGRESS_EVERY_S` until ``task`` ends."""
    while not task.done():
        show(live())
        await asyncio.wait([task], timeout=PROGRESS_EVERY_S)
    show(live())


def _live(
    t0: float, ingest: OpenLoopIngest, swarm: Swarm, probes: ProbeBook, draining: bool
) -> LiveFigures:
    now = time.time() - t0
    recent = [lag for at, lag in swarm.lags[-5000:] if at >= now - LIVE_LAG_WINDOW_S]
    tally = ingest.tally
    return LiveFigures(
        elapsed_s=now,
        offered=tally.offered * tally.batch,
        acked=tally.acked * tally.batch,
        connected=swarm.connected,
        lag_p50_ms=percentile(recent, 50) if recent else None,
        e2e_ms=probes.lags[-1][1] if probes.lags else None,
        draining=draining,
    )


def build_report(
    plan: LoadPlan,
    data: RunData,
    *,
    command: str,
    machine: Mapping[str, Any],
    notes: Sequence[str] = (),
) -> LoadReport:
    """The figures of a run (pure): see :mod:`citybrain.tools.load.report`; ``notes`` are
    added to the report's own (failed readings, an early stop)."""
    duration_s = data.ingest_s if data.stopped_early else plan.duration_s
    seconds = math.ceil(duration_s)
    ingest = ingest_figures(
        batch=plan.batch,
        duration_s=duration_s,
        offered_records=data.offered_records,
        sent_records=data.sent_records,
        acked_records=data.acked_records,
        failed_records=data.failed_records,
        skipped_records=data.skipped_records,
        errors=data.send_errors,
    )
    notes = list(notes)
    for name, missed in data.missed_samples.items():
        notes.append(f"{missed} resource readings of {name} failed (process gone?)")
    if data.stopped_early:
        notes.append(f"stopped early, after {data.ingest_s:.1f} s")
    notes += [f"not ready at the end: {problem}" for problem in data.not_ready]
    return LoadReport(
        plan=plan,
        command=command,
        machine=dict(machine),
        started_at=datetime.fromtimestamp(data.started_at, UTC).isoformat(timespec="seconds"),
        stopped_early=data.stopped_early,
        ingest=ingest,
        offered_per_s=data.timetable.offered_per_second()[:seconds],
        achieved_per_s=per_second(data.acks, seconds),
        worker_rate_series=counter_rates(data.worker_counts),
        clients=client_figures(data.clients, data.peak_connected),
        stalled=stalled_figures(data.stalled),
        delivery_lag_ms=Distribution.of([lag for _, lag in data.lags]),
        delivery_lag_series=lag_over_time(data.lags, max(1.0, duration_s / LAG_POINTS)),
        e2e=probe_figures(data.markers_sent, [lag for _, lag in data.marker_lags]),
        e2e_samples=data.marker_lags,
        resources=tuple(
            resource_figures(name, data.pids[name], samples, data.ticks_per_s)
            for name, samples in data.samples.items()
        ),
        server=server_figures(
            worker_before=data.worker_before,
            worker_after=data.worker_after,
            web_before=data.web_before,
            web_after=data.web_after,
            acked_events=data.acked_records * plan.batch,
        ),
        notes=tuple(notes),
    )
