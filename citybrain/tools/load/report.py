"""The figures of a ``citybrain load`` run (pure): what was asked, what happened.

Everything here is a function of numbers the run collected: percentiles, rates per
second, CPU % from clock-tick deltas, resource, client and lag summaries, and the
:class:`LoadReport` that holds them (``results.json`` is :func:`report_to_dict`).
Units are in the names: ``_s`` seconds, ``_ms`` milliseconds, ``_bytes`` bytes,
``_pct`` percent of one CPU core (a process using two cores fully shows 200).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Final

SLOW_CLIENT_CLOSE: Final = 1013
"""Close code the web server sends a websocket client it drops for not keeping up."""


def percentile(values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0 … 100) of ``values``, interpolating linearly between
    the two nearest ranks (numpy's default). ValueError for no values or a bad ``q``."""
    if not values:
        raise ValueError("percentile of no values")
    if not 0.0 <= q <= 100.0:  # also refuses NaN
        raise ValueError(f"percentile must be within 0 … 100, got {q}")
    ordered = sorted(values)
    rank = q / 100.0 * (len(ordered) - 1)
    low = math.floor(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass(frozen=True, slots=True)
class Distribution:
    """Summary of a sample of one quantity (same unit as the values)."""

    count: int
    min: float
    p50: float
    p90: float
    p99: float
    max: float
    mean: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Distribution | None:
        """The summary of ``values``; None when there are none."""
        if not values:
            return None
        return cls(
            count=len(values),
            min=min(values),
            p50=percentile(values, 50),
            p90=percentile(values, 90),
            p99=percentile(values, 99),
            max=max(values),
            mean=math.fsum(values) / len(values),
        )


def cpu_percent(ticks_before: int, ticks_after: int, ticks_per_s: int, wall_s: float) -> float:
    """CPU use between two readings of a process's user + system time, in percent of one
    core: (tick delta / ``ticks_per_s``) / ``wall_s`` × 100. Ticks are ``/proc/<pid>/stat``
    clock ticks (``SC_CLK_TCK`` per second). ValueError for ``wall_s`` <= 0,
    ``ticks_per_s`` <= 0 or ticks going backwards (another process behind the pid)."""
    if not wall_s > 0:
        raise ValueError(f"wall time between readings must be > 0 s, got {wall_s}")
    if ticks_per_s <= 0:
        raise ValueError(f"clock ticks per second must be > 0, got {ticks_per_s}")
    if ticks_after < ticks_before:
        raise ValueError(f"CPU ticks went backwards: {ticks_before} -> {ticks_after}")
    return (ticks_after - ticks_before) / ticks_per_s / wall_s * 100.0


def per_second(amounts: Iterable[tuple[float, int]], seconds: int) -> tuple[int, ...]:
    """Sum ``(at_s, amount)`` pairs into whole-second buckets ``[k, k+1)``, ``k`` = 0 …;
    at least ``seconds`` buckets, more if some ``at_s`` lies beyond. Negative ``at_s``
    count in bucket 0."""
    buckets: Counter[int] = Counter()
    for at_s, amount in amounts:
        buckets[max(0, math.floor(at_s))] += amount
    size = max(seconds, max(buckets, default=-1) + 1)
    return tuple(buckets.get(k, 0) for k in range(size))


def counter_rates(points: Sequence[tuple[float, float]]) -> tuple[tuple[float, float], ...]:
    """Per-second rates of a counter read at times: ``(at_s, total)`` pairs in time order
    give ``(middle of the interval s, increase per second)`` per consecutive pair. A
    counter that went down (its process restarted) counts from 0 in that interval."""
    out = []
    for (t1, v1), (t2, v2) in itertools.pairwise(points):
        if t2 <= t1:
            raise ValueError(f"counter readings out of order: {t1} s then {t2} s")
        increase = v2 - v1 if v2 >= v1 else v2
        out.append(((t1 + t2) / 2, increase / (t2 - t1)))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class IngestFigures:
    """The Kafka side of the run. Events (records × ``batch``): ``offered`` by the
    timetable, ``sent`` to the producer, ``acked`` by the broker, ``failed`` (delivery
    error), ``skipped`` (the sender was too far behind their slot), ``in_flight`` (no
    answer by the end). Rates are events per second over ``duration_s``."""

    batch: int
    duration_s: float
    offered: int
    sent: int
    acked: int
    failed: int
    skipped: int
    in_flight: int
    errors: dict[str, int]
    offered_rate: float
    achieved_rate: float
    shortfall: int
    """Offered but not acknowledged: skipped + failed + in flight."""
    shortfall_pct: float


def ingest_figures(
    *,
    batch: int,
    duration_s: float,
    offered_records: int,
    sent_records: int,
    acked_records: int,
    failed_records: int,
    skipped_records: int,
    errors: Mapping[str, int],
) -> IngestFigures:
    """Ingest figures from record counts. ValueError when the counts contradict each
    other (more acknowledged and failed than sent, more sent and skipped than offered)."""
    if duration_s <= 0:
        raise ValueError(f"duration must be > 0 s, got {duration_s}")
    if acked_records + failed_records > sent_records:
        raise ValueError("more records acknowledged or failed than sent")
    if sent_records + skipped_records > offered_records:
        raise ValueError("more records sent or skipped than offered")
    offered = offered_records * batch
    acked = acked_records * batch
    return IngestFigures(
        batch=batch,
        duration_s=duration_s,
        offered=offered,
        sent=sent_records * batch,
        acked=acked,
        failed=failed_records * batch,
        skipped=skipped_records * batch,
        in_flight=(sent_records - acked_records - failed_records) * batch,
        errors=dict(errors),
        offered_rate=offered / duration_s,
        achieved_rate=acked / duration_s,
        shortfall=offered - acked,
        shortfall_pct=100.0 * (offered - acked) / offered if offered else 0.0,
    )


@dataclass(frozen=True, slots=True)
class ClientCount:
    """What one websocket client saw over the run: ``connections`` made, messages and
    bytes read (``cells`` messages among them), failed connection attempts, closes the
    server started by close code (1006: the connection broke without one), messages it
    could not read."""

    connections: int
    messages: int
    cells_messages: int
    bytes: int
    connect_errors: int
    closes: Mapping[int, int]
    bad_messages: int = 0


@dataclass(frozen=True, slots=True)
class ClientFigures:
    """The websocket side of the run, summed over clients."""

    clients: int
    ever_connected: int
    peak_connected: int
    with_cells: int
    """Clients that received at least one ``cells`` message."""
    connections: int
    reconnects: int
    messages: int
    cells_messages: int
    bytes: int
    cells_per_client: Distribution | None
    connect_errors: int
    closes: dict[int, int]
    """Server-initiated closes by code."""
    dropped_slow: int
    """Closes with code 1013: dropped by the server as too slow."""
    clients_dropped: int
    bad_messages: int


def client_figures(counts: Sequence[ClientCount], peak_connected: int) -> ClientFigures:
    """Sum the clients' counts; ``peak_connected`` is the most connected at once."""
    closes: Counter[int] = Counter()
    for c in counts:
        closes.update(c.closes)
    connections = sum(c.connections for c in counts)
    ever = sum(1 for c in counts if c.connections > 0)
    return ClientFigures(
        clients=len(counts),
        ever_connected=ever,
        peak_connected=peak_connected,
        with_cells=sum(1 for c in counts if c.cells_messages > 0),
        connections=connections,
        reconnects=connections - ever,
        messages=sum(c.messages for c in counts),
        cells_messages=sum(c.cells_messages for c in counts),
        bytes=sum(c.bytes for c in counts),
        cells_per_client=Distribution.of([float(c.cells_messages) for c in counts]),
        connect_errors=sum(c.connect_errors for c in counts),
        closes=dict(sorted(closes.items())),
        dropped_slow=closes.get(SLOW_CLIENT_CLOSE, 0),
        clients_dropped=sum(1 for c in counts if c.closes.get(SLOW_CLIENT_CLOSE, 0)),
        bad_messages=sum(c.bad_messages for c in counts),
    )


@dataclass(frozen=True, slots=True)
class StalledCount:
    """One stalled client (it completes the websocket handshake, then never reads).

    ``connect_error`` says why its one connection attempt failed (None once the
    handshake completed); ``connected_at_s`` is when it completed, s after the start.
    ``ended`` is how the server had ended the connection, as found at the end of the run
    by reading what was buffered: ``"eof"`` (it closed), ``"reset"`` (it aborted), None
    (still open, or never connected). When it ended is not known: the server's close
    waits behind the data the client never read, so nothing of it shows until then."""

    connect_error: str | None
    connected_at_s: float | None
    ended: str | None


@dataclass(frozen=True, slots=True)
class StalledFigures:
    """The stalled clients of the run: how many were asked for, completed the handshake,
    and were ended by the server during the run; ``each`` is every client, in order."""

    asked: int
    connected: int
    ended_by_server: int
    each: tuple[StalledCount, ...]


def stalled_figures(counts: Sequence[StalledCount]) -> StalledFigures:
    """Sum the stalled clients' outcomes."""
    return StalledFigures(
        asked=len(counts),
        connected=sum(1 for c in counts if c.connect_error is None),
        ended_by_server=sum(1 for c in counts if c.ended is not None),
        each=tuple(counts),
    )


@dataclass(frozen=True, slots=True)
class LagPoint:
    """Lag (ms) of the samples taken in ``[at_s, at_s + bucket)``."""

    at_s: float
    count: int
    p50: float
    p99: float


def lag_over_time(samples: Iterable[tuple[float, float]], bucket_s: float) -> tuple[LagPoint, ...]:
    """``(at_s, lag_ms)`` samples grouped into buckets of ``bucket_s`` seconds (> 0), in
    time order; empty buckets are left out."""
    if not bucket_s > 0:
        raise ValueError(f"bucket must be > 0 s, got {bucket_s}")
    groups: dict[int, list[float]] = {}
    for at_s, lag_ms in samples:
        groups.setdefault(max(0, math.floor(at_s / bucket_s)), []).append(lag_ms)
    return tuple(
        LagPoint(
            at_s=k * bucket_s,
            count=len(lags),
            p50=percentile(lags, 50),
            p99=percentile(lags, 99),
        )
        for k, lags in sorted(groups.items())
    )


@dataclass(frozen=True, slots=True)
class ProcSample:
    """One reading of a process: ``at_s`` seconds after the start, its user + system CPU
    time so far in clock ticks, its resident set size in bytes."""

    at_s: float
    cpu_ticks: int
    rss_bytes: int


@dataclass(frozen=True, slots=True)
class ResourceFigures:
    """One process's CPU and memory over the run. ``cpu_series`` holds (middle of the
    interval s, CPU %) per pair of consecutive samples; ``rss_series`` (s, bytes) per
    sample. CPU figures are None with fewer than two samples."""

    name: str
    pid: int
    samples: int
    cpu_mean_pct: float | None
    cpu_max_pct: float | None
    rss_first_bytes: int | None
    rss_peak_bytes: int | None
    rss_last_bytes: int | None
    rss_growth_bytes: int | None
    cpu_series: tuple[tuple[float, float], ...] = field(repr=False)
    rss_series: tuple[tuple[float, int], ...] = field(repr=False)


def resource_figures(
    name: str, pid: int, samples: Sequence[ProcSample], ticks_per_s: int
) -> ResourceFigures:
    """CPU % (mean over the whole span and highest per interval) and RSS (first, peak,
    last, growth) of one process from its samples in time order. ValueError when the
    samples are out of order or the ticks go backwards."""
    series: list[tuple[float, float]] = []
    for a, b in itertools.pairwise(samples):
        pct = cpu_percent(a.cpu_ticks, b.cpu_ticks, ticks_per_s, b.at_s - a.at_s)
        series.append(((a.at_s + b.at_s) / 2, pct))
    mean = None
    if len(samples) >= 2:
        first, last = samples[0], samples[-1]
        mean = cpu_percent(first.cpu_ticks, last.cpu_ticks, ticks_per_s, last.at_s - first.at_s)
    rss = [s.rss_bytes for s in samples]
    return ResourceFigures(
        name=name,
        pid=pid,
        samples=len(samples),
        cpu_mean_pct=mean,
        cpu_max_pct=max((p for _, p in series), default=None),
        rss_first_bytes=rss[0] if rss else None,
        rss_peak_bytes=max(rss, default=None),
        rss_last_bytes=rss[-1] if rss else None,
        rss_growth_bytes=rss[-1] - rss[0] if rss else None,
        cpu_series=tuple(series),
        rss_series=tuple((s.at_s, s.rss_bytes) for s in samples),
    )


@dataclass(frozen=True, slots=True)
class ProbeFigures:
    """End-to-end lag: from a marker event's ``ts`` to the first ``cells`` message
    showing its cell with ``updated_at`` >= ``ts``. ``lag_ms`` over resolved markers;
    ``unresolved`` markers were never seen so updated by the end."""

    sent: int
    resolved: int
    unresolved: int
    lag_ms: Distribution | None


def probe_figures(sent: int, lags_ms: Sequence[float]) -> ProbeFigures:
    """Figures of ``sent`` markers of which ``lags_ms`` were resolved."""
    if len(lags_ms) > sent:
        raise ValueError(f"{len(lags_ms)} markers resolved but only {sent} sent")
    return ProbeFigures(
        sent=sent,
        resolved=len(lags_ms),
        unresolved=sent - len(lags_ms),
        lag_ms=Distribution.of(lags_ms),
    )


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """What was asked: ``rate`` events/s in records of ``batch`` events from ``cameras``
    distinct cameras, ``clients`` websocket clients ramped up over ``ramp_s``, for
    ``duration_s`` seconds, against ``target`` ("embedded" or the web server's URL);
    besides, ``stalled`` websocket clients that never read (they add no lag figures:
    those come from the ``clients`` that read)."""

    rate: float
    clients: int
    duration_s: float
    batch: int
    cameras: int
    ramp_s: float
    target: str
    stalled: int = 0

    def __post_init__(self) -> None:
        if not (self.rate > 0 and math.isfinite(self.rate)):
            raise ValueError(f"--rate must be > 0 events/s, got {self.rate}")
        if self.clients < 0:
            raise ValueError(f"--clients must be >= 0, got {self.clients}")
        if self.stalled < 0:
            raise ValueError(f"--stalled must be >= 0, got {self.stalled}")
        if not (self.duration_s > 0 and math.isfinite(self.duration_s)):
            raise ValueError(f"--duration must be > 0 s, got {self.duration_s}")
        if self.batch < 1:
            raise ValueError(f"--batch must be >= 1 event, got {self.batch}")
        if self.cameras < 1:
            raise ValueError(f"--cameras must be >= 1, got {self.cameras}")
        if self.batch > self.cameras:
            raise ValueError(
                f"--batch ({self.batch}) is larger than --cameras ({self.cameras}): a record "
                "would hold one camera twice"
            )
        if self.rate < self.batch / self.duration_s:
            raise ValueError(
                f"--rate {self.rate:g} with --batch {self.batch} offers less than one record "
                f"in {self.duration_s:g} s"
            )
        if not 0 <= self.ramp_s < self.duration_s:
            raise ValueError(f"ramp-up must be >= 0 s and shorter than the run, got {self.ramp_s}")


@dataclass(frozen=True, slots=True)
class ServerFigures:
    """Totals from the worker's and the web server's ``/metrics`` (counters as the change
    over the run, gauges as read at the end; None when not scraped). ``backlog`` is
    events acknowledged by the broker but not counted in by the worker at the end."""

    worker_events_in: dict[str, float] | None
    worker_records_in: dict[str, float] | None
    worker_deadlettered: dict[str, float] | None
    worker_cell_updates: float | None
    worker_batch_mean_ms: float | None
    worker_backlog: float | None
    web_clients_end: float | None
    web_dropped: dict[str, float] | None
    web_messages: dict[str, float] | None
    web_bad_records: float | None


@dataclass(frozen=True, slots=True)
class LoadReport:
    """All figures of one run; ``machine`` describes where it ran, ``command`` how."""

    plan: LoadPlan
    command: str
    machine: dict[str, Any]
    started_at: str
    stopped_early: bool
    ingest: IngestFigures
    offered_per_s: tuple[int, ...]
    achieved_per_s: tuple[int, ...]
    worker_rate_series: tuple[tuple[float, float], ...]
    """(s, events/s) the worker counted in (``citybrain_events_in_total{kind="camera"}``
    read every few seconds); empty without the worker's /metrics."""
    clients: ClientFigures
    stalled: StalledFigures
    delivery_lag_ms: Distribution | None
    delivery_lag_series: tuple[LagPoint, ...]
    e2e: ProbeFigures
    e2e_samples: tuple[tuple[float, float], ...]
    resources: tuple[ResourceFigures, ...]
    server: ServerFigures
    notes: tuple[str, ...] = ()


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {str(k): _rounded(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_rounded(v) for v in value]
    return value


def report_to_dict(report: LoadReport) -> dict[str, Any]:
    """The report as JSON-ready data (floats to 3 decimals; dict keys as strings)."""
    data: dict[str, Any] = _rounded(asdict(report))
    return data
