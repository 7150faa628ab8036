"""The picture of a throughput benchmark (edge): per input, each contender's events/s
(median, log scale) and CPU seconds per million events, side by side. PNG through
matplotlib's Agg renderer (no display)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from citybrain.tools.bench.query import QueryFigures
from citybrain.tools.bench.report import Row

if TYPE_CHECKING:
    from matplotlib.figure import Figure

COLOURS = {
    "citybrain": "#d62728",
    "aiokafka": "0.35",
    "confluent": "0.6",
    "faust": "#9467bd",
    "quix": "#1f77b4",
    "bytewax": "#2ca02c",
}


def plot_throughput(rows: list[Row], title: str, path: Path) -> Figure:
    """Write the PNG to ``path``; returns the figure."""
    # Imported here: matplotlib takes a while to import and only the plot needs it.
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    inputs = list(dict.fromkeys(r.input for r in rows))
    ids = list(dict.fromkeys(r.id for r in rows))
    by = {(r.input, r.id): r for r in rows}
    figure = Figure(figsize=(12.0, 1.2 + 0.45 * len(inputs) * len(ids)), dpi=100)
    FigureCanvasAgg(figure)  # explicit Agg canvas: no display is ever used
    figure.suptitle(title)
    rate, cpu = figure.subplots(1, 2, sharey=True)
    labels, ys = [], []
    y = 0.0
    for inp in inputs:
        for cid in ids:
            row = by.get((inp, cid))
            if row is None:
                continue
            colour = COLOURS.get(cid, "0.5")
            if row.events_per_s:
                rate.barh(y, row.events_per_s, color=colour)
                rate.annotate(f" {row.events_per_s:,.0f}", (row.events_per_s, y), va="center",
                              fontsize=8)  # fmt: skip
            if row.cpu_s_per_m:
                cpu.barh(y, row.cpu_s_per_m, color=colour)
                cpu.annotate(f" {row.cpu_s_per_m:.1f}", (row.cpu_s_per_m, y), va="center",
                             fontsize=8)  # fmt: skip
            labels.append(f"{row.name} — {inp}")
            ys.append(y)
            y += 1
        y += 0.6  # a gap between inputs
    rate.set_yticks(ys, labels, fontsize=8)
    rate.invert_yaxis()
    rate.set_xscale("log")
    rate.set_xlabel("events/s (median; log scale; more is better)")
    cpu.set_xscale("log")
    cpu.set_xlabel("CPU s per million events (median; log scale; less is better)")
    for ax in (rate, cpu):
        ax.grid(axis="x", which="both", alpha=0.3)
    figure.set_layout_engine("constrained")
    figure.savefig(path)
    return figure


def plot_queries(rows: list[QueryFigures], title: str, path: Path) -> Figure:
    """p50 and p99 latency of each shape and size (bars), with the 50 ms target; PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(10.0, 4.5), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(title)
    ax = figure.subplots()
    labels = [f"{r.shape}\n{r.size}" for r in rows]
    xs = range(len(rows))
    ax.bar([x - 0.2 for x in xs], [r.p50_ms for r in rows], width=0.4, label="p50", color="#1f77b4")
    ax.bar([x + 0.2 for x in xs], [r.p99_ms for r in rows], width=0.4, label="p99", color="#d62728")
    ax.axhline(50, color="0.3", linestyle="--", label="target: p99 ≤ 50 ms")
    ax.set_xticks(list(xs), labels, fontsize=8)
    ax.set_ylabel("ms from request body to JSON answer")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    figure.savefig(path)
    return figure


def plot_stages(paths: dict[str, list[tuple[str, float]]], title: str, path: Path) -> Figure:
    """Each path's stages (µs per event, log scale), one bar per stage and one for all
    of them, paths one below the other; PNG."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = sum(len(stages) + 2 for stages in paths.values())
    figure = Figure(figsize=(10.0, 1.2 + 0.32 * rows), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    figure.suptitle(title)
    ax = figure.subplots()
    colours = ("#9467bd", "#d62728", "#1f77b4")
    labels, ys, y = [], [], 0.0
    for n, (name, stages) in enumerate(paths.items()):
        colour = colours[n % len(colours)]
        for stage, cost in [*stages, ("all", sum(c for _, c in stages))]:
            ax.barh(y, cost, color=colour, alpha=1.0 if stage == "all" else 0.6)
            ax.annotate(f" {cost:.2f}", (cost, y), va="center", fontsize=8)
            labels.append(f"{name}: {stage}")
            ys.append(y)
            y += 1
        y += 1  # a gap between paths
    ax.set_yticks(ys, labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("µs of CPU per event (log scale; less is better)")
    ax.grid(axis="x", which="both", alpha=0.3)
    figure.savefig(path)
    return figure
