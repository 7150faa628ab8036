"""The picture of a ``citybrain load`` run (edge): four panels over the run's seconds.

Ingest rate offered and acknowledged (events/s, per second); delivery lag of ``cells``
messages (p50 and p99 per bucket) with the end-to-end markers; CPU % and RSS of each
sampled process. PNG through matplotlib's Agg renderer (no display).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Literal

from citybrain.tools.load.report import LoadReport

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

_MIB = 1024 * 1024


def plot_load(report: LoadReport, path: Path) -> Figure:
    """Write the PNG of ``report`` to ``path``; returns the figure."""
    # Imported here: matplotlib takes a while to import and only the plot needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(11.0, 11.0), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)  # explicit Agg canvas: no display is ever used
    p = report.plan
    figure.suptitle(
        f"citybrain load: {p.rate:,.0f} events/s offered, {p.clients} websocket clients, "
        f"{p.duration_s:g} s, from {report.started_at}"
    )
    rate, lag, cpu, rss = figure.subplots(4, 1, sharex=True)

    rate.step(range(len(report.achieved_per_s)), report.achieved_per_s, where="post",
              label="acknowledged by the broker", color="#1f77b4")  # fmt: skip
    rate.step(range(len(report.offered_per_s)), report.offered_per_s, where="post",
              label="offered", color="0.3", linestyle="--")  # fmt: skip
    if report.worker_rate_series:
        rate.plot([t for t, _ in report.worker_rate_series],
                  [v for _, v in report.worker_rate_series],
                  label="counted in by the worker", color="#2ca02c", marker=".")  # fmt: skip
    rate.set_ylabel("events/s")
    rate.set_title("Ingest", loc="left", fontsize=10)
    _legend(rate, loc="lower right")

    series = report.delivery_lag_series
    lag.plot([pt.at_s for pt in series], [pt.p50 for pt in series], label="cells p50")
    lag.plot([pt.at_s for pt in series], [pt.p99 for pt in series], label="cells p99")
    if report.e2e_samples:
        lag.plot(
            [at for at, _ in report.e2e_samples],
            [ms for _, ms in report.e2e_samples],
            "k.",
            markersize=4,
            label="end-to-end (marker ts to map)",
        )
    lag.set_ylabel("ms")
    lag.set_title("Lag", loc="left", fontsize=10)
    _legend(lag, loc="upper left")

    for r in report.resources:
        if r.cpu_series:
            cpu.plot([t for t, _ in r.cpu_series], [v for _, v in r.cpu_series], label=r.name)
        if r.rss_series:
            rss.plot([t for t, _ in r.rss_series], [b / _MIB for _, b in r.rss_series],
                     label=r.name)  # fmt: skip
    cpu.set_ylabel("% of one core")
    cpu.set_title("CPU", loc="left", fontsize=10)
    _legend(cpu, loc="upper left", ncols=5)
    rss.set_ylabel("MiB")
    rss.set_title("Resident memory", loc="left", fontsize=10)
    _legend(rss, loc="upper left", ncols=5)
    rss.set_xlabel("seconds since the start")
    for ax in (rate, lag, cpu, rss):
        ax.grid(color="0.88", linewidth=0.6)
        ax.set_ylim(bottom=0)
    figure.savefig(path, format="png")
    return figure


def _legend(ax: Axes, *, loc: Literal["upper left", "lower right"], ncols: int = 1) -> None:
    """A legend, unless the panel has nothing labelled (matplotlib warns then)."""
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc=loc, fontsize=8, ncols=ncols)
