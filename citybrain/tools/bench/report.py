"""Summarise throughput benchmark runs (pure): medians per input and contender, ratios to
the ceiling measured in the same run, a Markdown table, and the machine-readable form."""

from __future__ import annotations

import json
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Row:
    """One contender on one input: medians over its complete runs.

    ``events_per_s``: events / wall seconds from its first record to its last event;
    ``cpu_s_per_m``: CPU seconds of its process per million events; ``rss_mb``: peak
    resident memory, MiB. ``*_x``: the same as a ratio to the ceiling contender's median
    on the same input (None for the ceiling itself or when it has no figure).
    ``runs`` counts the runs behind the medians; ``partial`` the runs cut off at the
    time limit (their rate still counts: events done / time taken); ``errors`` the
    runs that gave no result, with the first error.
    """

    input: str
    id: str
    name: str
    events_per_s: float | None
    events_per_s_x: float | None
    cpu_s_per_m: float | None
    cpu_s_per_m_x: float | None
    rss_mb: float | None
    rss_mb_x: float | None
    runs: int
    partial: int
    errors: int
    error: str | None = None
    consistent: bool = True  # same events, keys and people as the ceiling (when comparable)


def summarize(results: Iterable[Mapping[str, Any]], ceiling: str) -> list[Row]:
    """Rows in input order, then contender order, as first seen in ``results``."""
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["input"], r["id"]), []).append(r)
    medians: dict[tuple[str, str], dict[str, float | None]] = {}
    for key, runs in groups.items():
        good = [r for r in runs if "error" not in r and r.get("events")]
        medians[key] = {
            "events_per_s": _median(r["events"] / r["seconds"] for r in good),
            "cpu_s_per_m": _median(r["cpu_s"] / r["events"] * 1e6 for r in good),
            "rss_mb": _median(r["rss_peak_mb"] for r in good),
        }
    rows = []
    for (inp, cid), runs in groups.items():
        good = [r for r in runs if "error" not in r and r.get("events")]
        bad = [r for r in runs if "error" in r]
        m, top = medians[(inp, cid)], medians.get((inp, ceiling), {})
        rows.append(
            Row(
                input=inp,
                id=cid,
                name=str(good[0]["contender"]) if good else cid,
                events_per_s=m["events_per_s"],
                events_per_s_x=None if cid == ceiling else _ratio(m, top, "events_per_s"),
                cpu_s_per_m=m["cpu_s_per_m"],
                cpu_s_per_m_x=None if cid == ceiling else _ratio(m, top, "cpu_s_per_m"),
                rss_mb=m["rss_mb"],
                rss_mb_x=None if cid == ceiling else _ratio(m, top, "rss_mb"),
                runs=len(good),
                partial=sum(1 for r in good if not r.get("complete", True)),
                errors=len(bad),
                error=str(bad[0]["error"])[:300] if bad else None,
                consistent=_consistent(good, groups.get((inp, ceiling), [])),
            )
        )
    return rows


def _median(values: Iterable[float]) -> float | None:
    xs = list(values)
    return statistics.median(xs) if xs else None


def _ratio(m: Mapping[str, float | None], top: Mapping[str, float | None], k: str) -> float | None:
    a, b = m.get(k), top.get(k)
    return a / b if a is not None and b else None


def _consistent(runs: list[Mapping[str, Any]], ceiling: list[Mapping[str, Any]]) -> bool:
    """Complete runs report the ceiling's events, keys and people (where they report
    keys and people at all: the project's pipeline keeps other state)."""
    ref = next((r for r in ceiling if r.get("complete") and "error" not in r), None)
    if ref is None:
        return True
    for r in runs:
        if not r.get("complete"):
            continue
        if r["events"] != ref["events"]:
            return False
        if r.get("keys") is not None and (r["keys"], r["people"]) != (ref["keys"], ref["people"]):
            return False
    return True


def _fmt(v: float | None, spec: str) -> str:
    return "—" if v is None else format(v, spec)


def markdown(rows: list[Row]) -> str:
    """The table of docs/benchmarks.md."""
    head = (
        "| input | contender | events/s | × ceiling | CPU s / M events | × ceiling "
        "| peak RSS MiB | × ceiling | runs |\n|---|---|--:|--:|--:|--:|--:|--:|---|\n"
    )
    lines = []
    for r in rows:
        runs = f"{r.runs}"
        if r.partial:
            runs += f" ({r.partial} cut at the time limit)"
        if r.errors:
            runs += f"; {r.errors} failed"
        if not r.consistent:
            runs += "; results differ from the ceiling's"
        lines.append(
            f"| {r.input} | {r.name} | {_fmt(r.events_per_s, ',.0f')} "
            f"| {_fmt(r.events_per_s_x, '.2f')} | {_fmt(r.cpu_s_per_m, '.2f')} "
            f"| {_fmt(r.cpu_s_per_m_x, '.2f')} | {_fmt(r.rss_mb, ',.0f')} "
            f"| {_fmt(r.rss_mb_x, '.2f')} | {runs} |"
        )
    return head + "\n".join(lines) + "\n"


def as_json(
    rows: list[Row], meta: Mapping[str, Any], raw: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """benchmarks/results.json: how it was run, the summary rows, every run's result."""
    return {"meta": dict(meta), "throughput": [asdict(r) for r in rows], "runs": list(raw)}


def save_section(results: Path, name: str, section: Mapping[str, Any]) -> Path:
    """Write ``section`` as ``name`` in the JSON file ``results`` (benchmarks/results.json),
    keeping its other sections; returns ``results``."""
    results.parent.mkdir(parents=True, exist_ok=True)
    data: dict[str, Any] = json.loads(results.read_text()) if results.exists() else {}
    data[name] = section
    results.write_text(json.dumps(data, indent=1) + "\n")
    return results
