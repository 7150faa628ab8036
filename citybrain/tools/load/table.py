"""The ``citybrain load`` report as a markdown table (pure: report in, text out).

Printed at the end of a run and written as ``results.md``. Numbers come from
:mod:`citybrain.tools.load.report`; this module only lays them out.
"""

from __future__ import annotations

from collections.abc import Mapping

from citybrain.tools.load.report import Distribution, LoadReport, ResourceFigures, StalledCount

_MIB = 1024 * 1024


def _n(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _counts(counts: Mapping[str, float] | Mapping[int, int] | None) -> str:
    if counts is None:
        return "not scraped"
    shown = {k: v for k, v in counts.items() if v}
    return ", ".join(f"{k}: {v:,.0f}" for k, v in shown.items()) if shown else "none"


def _dist(d: Distribution | None) -> str:
    if d is None:
        return "no samples"
    return (
        f"p50 {d.p50:,.0f} · p90 {d.p90:,.0f} · p99 {d.p99:,.0f} · max {d.max:,.0f} "
        f"(n = {d.count:,})"
    )


def _mib(value: int | None) -> str:
    return "–" if value is None else f"{value / _MIB:,.0f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _resource_row(r: ResourceFigures) -> str:
    growth = "–" if r.rss_growth_bytes is None else f"{r.rss_growth_bytes / _MIB:+,.0f}"
    return (
        f"| {r.name} | {r.pid} | {_pct(r.cpu_mean_pct)} | {_pct(r.cpu_max_pct)} | "
        f"{_mib(r.rss_first_bytes)} | {_mib(r.rss_peak_bytes)} | {_mib(r.rss_last_bytes)} | "
        f"{growth} |"
    )


def _stalled_end(k: int, c: StalledCount) -> str:
    if c.connect_error is not None:
        return f"#{k} not connected ({c.connect_error})"
    if c.ended is None:
        return f"#{k} still open at the end"
    return f"#{k} ended by the server ({c.ended})"


def render_markdown(report: LoadReport) -> str:
    """The report as markdown: a heading, the figures, the resource table, notes."""
    p, i, c, s, st = report.plan, report.ingest, report.clients, report.server, report.stalled
    m = report.machine
    memory = m.get("memory_bytes")
    machine = (
        f"{m.get('cpu_model') or 'unknown CPU'}, {m.get('cores')} cores, "
        + (f"{memory / 1024**3:.1f} GiB" if isinstance(memory, int) else "memory unknown")
        + f", Python {m.get('python')}"
    )
    target = "its own embedded stack" if p.target == "embedded" else p.target
    closes = {str(k): float(v) for k, v in c.closes.items()}
    stalled_rows = [
        (
            "stalled clients (never read): asked · connected · ended by the server",
            f"{st.asked:,} · {st.connected:,} · {st.ended_by_server:,}",
        )
    ]
    if st.each:
        each = " · ".join(_stalled_end(k, e) for k, e in enumerate(st.each))
        stalled_rows.append(("stalled clients, each", each))
    rows = [
        ("command", f"`{report.command}`"),
        ("started (UTC)", report.started_at),
        ("machine", machine),
        ("target", target),
        (
            "offered",
            f"{i.offered:,} events in {i.offered // max(i.batch, 1):,} records "
            f"({i.offered_rate:,.0f} events/s for {i.duration_s:,.0f} s)",
        ),
        ("acknowledged by the broker", f"{i.acked:,} events ({i.achieved_rate:,.0f} events/s)"),
        (
            "shortfall: skipped · failed · in flight",
            f"{i.shortfall:,} ({i.shortfall_pct:.2f} %): {i.skipped:,} · {i.failed:,} · "
            f"{i.in_flight:,}",
        ),
        ("send errors", _counts(i.errors)),
        ("worker: events in", _counts(s.worker_events_in)),
        ("worker: backlog at the end (acknowledged − counted in)", _n(s.worker_backlog)),
        ("worker: dead-lettered", _counts(s.worker_deadlettered)),
        (
            "worker: mean time per cells.ingest record",
            "–" if s.worker_batch_mean_ms is None else f"{s.worker_batch_mean_ms:.2f} ms",
        ),
        (
            "websocket clients: asked · connected · peak · got cells",
            f"{c.clients:,} · {c.ever_connected:,} · {c.peak_connected:,} · {c.with_cells:,}",
        ),
        (
            "messages read · bytes read",
            f"{c.messages:,} ({c.cells_messages:,} cells) · {c.bytes / _MIB:,.1f} MiB",
        ),
        ("cells messages per client", _dist(c.cells_per_client)),
        (
            "connections the server ended, by close code (1013: too slow; 1006: no close frame)",
            _counts(closes),
        ),
        (
            "clients dropped as too slow · reconnects · connect errors",
            f"{c.clients_dropped:,} · {c.reconnects:,} · {c.connect_errors:,}",
        ),
        *stalled_rows,
        ("web: citybrain_ws_dropped_total", _counts(s.web_dropped)),
        ("web: citybrain_ws_clients at the end", _n(s.web_clients_end)),
        ("web: messages broadcast", _counts(s.web_messages)),
        ("delivery lag of cells messages, ms", _dist(report.delivery_lag_ms)),
        (
            "end-to-end lag (event ts → map), ms",
            f"{_dist(report.e2e.lag_ms)}; {report.e2e.resolved:,} of {report.e2e.sent:,} "
            "markers seen",
        ),
    ]
    stalled = f", {p.stalled:,} stalled" if p.stalled else ""
    lines = [
        f"## citybrain load: {p.rate:,.0f} events/s, {p.clients:,} clients{stalled}, "
        f"{p.duration_s:,.0f} s",
        "",
        "| figure | value |",
        "|---|---|",
        *(f"| {name} | {value} |" for name, value in rows),
        "",
        "| process | pid | CPU mean % | CPU max % | RSS first MiB | RSS peak MiB | "
        "RSS last MiB | RSS growth MiB |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
        *(_resource_row(r) for r in report.resources),
        "",
        "CPU % is of one core (200 = two cores busy), sampled every 2 s.",
    ]
    lines += [f"Note: {note}" for note in report.notes]
    return "\n".join(lines) + "\n"
