"""``citybrain bench``: the benchmark harness (wiring only).

* ``bench setup`` — create or update ``.venv-contenders`` (:mod:`citybrain.tools.bench.env`);
* ``bench throughput`` — every contender on the same pre-loaded input
  (:mod:`citybrain.tools.bench.run`), medians and ratios (:mod:`citybrain.tools.bench.report`), a
  plot (:mod:`citybrain.tools.bench.plot`). Writes the ``throughput`` section of
  ``<out>/results.json`` (other sections are kept), ``<out>/throughput.md`` and the PNG.

docs/benchmarks.md says how the published figures were made.
"""

from __future__ import annotations

import os
import platform
import shlex
import sys
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console(stderr=True)
bench_app = typer.Typer(help="Benchmarks: side by side with the alternatives (docs/benchmarks.md)")


def register(app: typer.Typer) -> None:
    app.add_typer(bench_app, name="bench")


@bench_app.command()
def setup() -> None:
    """Create or update .venv-contenders with the pinned third-party engines."""
    from citybrain.tools.bench import env as bench_env

    console.print(f"contenders' environment: {bench_env.ensure()}")


def _ints(text: str, what: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise typer.BadParameter(f"{what}: comma-separated whole numbers, not {text!r}") from None
    if not values or min(values) < 1:
        raise typer.BadParameter(f"{what}: at least one number, each 1 or more")
    return values


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        mem_kb = int(meminfo.read_text().split("MemTotal:")[1].split()[0])
    return {
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "system": platform.platform(),
    }


@bench_app.command()
def throughput(
    events: Annotated[int, typer.Option(min=1, help="events pre-loaded per run")] = 2_000_000,
    runs: Annotated[int, typer.Option(min=1, help="runs per input (medians)")] = 3,
    per_record: Annotated[str, typer.Option(help="events per record, comma-separated")] = "1,500",
    partitions: Annotated[str, typer.Option(help="partitions, comma-separated")] = "1,4",
    contenders: Annotated[
        str, typer.Option(help="contender ids, comma-separated, or 'all'")
    ] = "all",
    max_seconds: Annotated[
        float, typer.Option(min=1, help="cut a contender off this long after its first record")
    ] = 120.0,
    out: Annotated[Path, typer.Option(help="results.json and throughput.md go here")] = Path(
        "benchmarks"
    ),
    plot: Annotated[Path, typer.Option(help="the PNG")] = Path("docs/img/bench-throughput.png"),
) -> None:
    """Every contender on the same pre-loaded input, side by side (docs/benchmarks.md)."""
    from citybrain.tools.bench import env as bench_env
    from citybrain.tools.bench.plot import plot_throughput
    from citybrain.tools.bench.report import as_json, markdown, save_section, summarize
    from citybrain.tools.bench.run import CEILING, CONTENDERS, Input, Plan, run_plan

    known = {c.id: c for c in CONTENDERS}
    wanted = list(known) if contenders == "all" else [c.strip() for c in contenders.split(",")]
    unknown = [c for c in wanted if c not in known]
    if unknown:
        raise typer.BadParameter(f"unknown contenders {unknown}; known: {', '.join(known)}")
    chosen = tuple(known[c] for c in wanted)
    third_party = any(c.third_party for c in chosen)
    if third_party and not bench_env.ready():
        console.print("setting up .venv-contenders (once) …")
        bench_env.ensure()
    inputs = tuple(
        Input(r, p)
        for r in _ints(per_record, "--per-record")
        for p in _ints(partitions, "--partitions")
    )
    plan = Plan(
        inputs=inputs,
        contenders=chosen,
        events=events,
        runs=runs,
        max_seconds=max_seconds,
        contenders_python=bench_env.python() if third_party else None,
    )
    started = time.time()
    with console.status("benchmark") as status:
        raw = run_plan(plan, progress=lambda msg: status.update(msg))
    rows = summarize(raw, CEILING)
    meta = {
        "command": "citybrain bench throughput " + shlex.join(sys.argv[3:]),
        "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(started)),
        "minutes": round((time.time() - started) / 60, 1),
        "machine": machine(),
        "events": events,
        "runs": runs,
        "max_seconds": max_seconds,
        "ceiling": CEILING,
    }
    results = save_section(out / "results.json", "throughput", as_json(rows, meta, raw))
    (out / "throughput.md").write_text(markdown(rows))
    plot.parent.mkdir(parents=True, exist_ok=True)
    title = f"citybrain bench throughput: {events:,} events, median of {runs}, {meta['date']}"
    plot_throughput(rows, title, plot)
    table = Table("input", "contender", "events/s", "× ceiling", "CPU s/M", "RSS MiB", "runs")
    for r in rows:
        table.add_row(
            r.input,
            r.name,
            f"{r.events_per_s:,.0f}" if r.events_per_s else "—",
            f"{r.events_per_s_x:.2f}" if r.events_per_s_x else "—",
            f"{r.cpu_s_per_m:.2f}" if r.cpu_s_per_m else "—",
            f"{r.rss_mb:,.0f}" if r.rss_mb else "—",
            f"{r.runs}" + (f" ({r.partial} cut)" if r.partial else "")
            + (f", {r.errors} failed: {r.error}" if r.errors else ""),
        )  # fmt: skip
    Console().print(table)
    console.print(f"wrote {results}, {out / 'throughput.md'}, {plot}")


@bench_app.command()
def query(
    features: Annotated[int, typer.Option(min=1000, help="buildings in the index")] = 1_000_000,
    queries: Annotated[int, typer.Option(min=1, help="queries per shape and size")] = 200,
    out: Annotated[Path, typer.Option(help="results.json and query.md go here")] = Path(
        "benchmarks"
    ),
    plot: Annotated[Path, typer.Option(help="the PNG")] = Path("docs/img/bench-query.png"),
) -> None:
    """Circle and polygon queries over FEATURES static features (POST /api/query's code)."""
    from rich.progress import Progress

    from citybrain.tools.bench.plot import plot_queries
    from citybrain.tools.bench.query import CIRCLES, POLYGONS, figures_json, query_markdown, run
    from citybrain.tools.bench.report import save_section

    started = time.time()
    total = queries * (len(CIRCLES) + len(POLYGONS))
    with Progress(console=console) as progress:
        what = f"building {features:,} features, then {total} queries"
        task = progress.add_task(what, total=total)
        rows, built_s, cells = run(
            features, queries, progress=lambda done: progress.update(task, completed=done)
        )
    meta = {
        "command": "citybrain bench query " + shlex.join(sys.argv[3:]),
        "date": time.strftime("%Y-%m-%d %H:%M", time.localtime(started)),
        "machine": machine(),
        "features": features,
        "build_s": round(built_s, 1),
        "live_cells": cells,
    }
    section = {"meta": meta, "rows": figures_json(rows)}
    results = save_section(out / "results.json", "query", section)
    (out / "query.md").write_text(query_markdown(rows))
    plot.parent.mkdir(parents=True, exist_ok=True)
    title = f"citybrain bench query: {features:,} features, {queries} queries per bar"
    plot_queries(rows, title, plot)
    Console().print(query_markdown(rows))
    console.print(f"wrote {results}, {out / 'query.md'}, {plot}")


@bench_app.command()
def profile(
    events: Annotated[int, typer.Option(min=1000, help="readings to run through")] = 100_000,
    per_record: Annotated[int, typer.Option(min=1, help="readings per record")] = 500,
    fetch: Annotated[
        int, typer.Option(min=1, help="input records the input consumer takes at once")
    ] = 1,
    cprofile: Annotated[bool, typer.Option(help="also profile the pipeline stage")] = False,
    round_ms: Annotated[
        int, typer.Option(min=10, help="the columnar path's measurement round, ms of event time")
    ] = 250,
    section: Annotated[
        str | None,
        typer.Option(help="keep the figures as this section of OUT/results.json, and plot them"),
    ] = None,
    out: Annotated[Path, typer.Option(help="where results.json is")] = Path("benchmarks"),
    plot: Annotated[Path, typer.Option(help="the PNG, with --section")] = Path(
        "docs/img/bench-profile.png"
    ),
) -> None:
    """Time the worker's pure stages, one by one, on the benchmark's input (no broker):
    the per-object path the worker runs today, then the columnar camera path, in one run."""
    from citybrain.tools.bench.columnar import profile_columnar
    from citybrain.tools.bench.profile import Stage, profile_stages

    def show(title: str, stages: list[Stage]) -> None:
        table = Table("stage", "µs per event", "events/s alone", title=title)
        for s in stages:
            table.add_row(s.name, f"{s.us_per_event:.2f}", f"{1e6 / s.us_per_event:,.0f}")
        total = sum(s.us_per_event for s in stages)
        table.add_row("all", f"{total:.2f}", f"{1e6 / total:,.0f}")
        Console().print(table)

    what = f"{events:,} readings, {per_record} per record, {fetch} at a time"
    with console.status(f"per-object path: {what}"):
        stages, text = profile_stages(events, per_record, fetch=fetch, with_cprofile=cprofile)
    show("per-object path (the worker today)", stages)
    if text:
        Console().print(text)
    with console.status(f"columnar camera path: {what}"):
        columnar = profile_columnar(events, per_record, fetch=fetch, round_ms=round_ms)
    show("columnar camera path (streams/pipeline/columnar/: decode, fold, fuse)", columnar)
    if section is not None:
        from citybrain.tools.bench.plot import plot_stages
        from citybrain.tools.bench.report import save_section

        paths = {
            "per-object": [(s.name, s.us_per_event) for s in stages],
            "columnar": [(s.name, s.us_per_event) for s in columnar],
        }
        figures = {
            "command": f"citybrain bench profile --events {events} --per-record {per_record} "
            f"--fetch {fetch} --round-ms {round_ms}",
            "unit": "µs per event",
            **{name: dict(items) for name, items in paths.items()},
        }
        results = save_section(out / "results.json", section, figures)
        plot.parent.mkdir(parents=True, exist_ok=True)
        plot_stages(paths, f"citybrain bench profile: {what}", plot)
        console.print(f"wrote {results} ({section}) and {plot}")
