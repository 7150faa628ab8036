"""The worker's and the web server's ``/metrics`` before and after a load run.

:func:`parse_metrics` (Prometheus text format, via ``prometheus_client``'s parser),
:func:`delta` and :func:`server_figures` are pure; :func:`scrape` is the HTTP edge.
Counters are reported as their change over the run, so a deployment that was already
running is measured fairly; gauges as read at the end.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Mapping
from typing import Final

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

from citybrain.tools.load.report import ServerFigures

log = logging.getLogger(__name__)

Labels = tuple[tuple[str, str], ...]
Samples = dict[tuple[str, Labels], float]
"""Sample name and sorted labels → value."""

SCRAPE_TIMEOUT_S: Final = 10.0


def parse_metrics(text: str) -> Samples:
    """Every sample of a Prometheus text exposition. ValueError for text that is not."""
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[sample.name, tuple(sorted(sample.labels.items()))] = float(sample.value)
    return out


def delta(before: Samples | None, after: Samples) -> Samples:
    """``after`` minus ``before`` per sample (a sample missing before counts from 0; one
    that went down, a restarted process, counts from 0 too)."""
    base = before or {}
    out: Samples = {}
    for key, value in after.items():
        old = base.get(key, 0.0)
        out[key] = value - old if value >= old else value
    return out


def by_label(samples: Samples, name: str, label: str) -> dict[str, float]:
    """Sum of sample ``name`` grouped by the value of ``label`` (other labels summed)."""
    out: defaultdict[str, float] = defaultdict(float)
    for (sample, labels), value in samples.items():
        if sample == name:
            out[dict(labels).get(label, "")] += value
    return dict(sorted(out.items()))


def total(samples: Samples, name: str) -> float | None:
    """Sum of every sample called ``name``; None when there is none."""
    values = [v for (sample, _), v in samples.items() if sample == name]
    return sum(values) if values else None


def server_figures(
    *,
    worker_before: Samples | None,
    worker_after: Samples | None,
    web_before: Samples | None,
    web_after: Samples | None,
    acked_events: int,
) -> ServerFigures:
    """The totals the report shows; a side not scraped at the end gives None figures.
    ``acked_events`` (acknowledged by the broker) gives the worker's backlog."""
    worker = delta(worker_before, worker_after) if worker_after is not None else None
    web = delta(web_before, web_after) if web_after is not None else None
    events_in = by_label(worker, "citybrain_events_in_total", "kind") if worker else None
    batch_count = total(worker, "citybrain_batch_seconds_count") if worker else None
    batch_sum = total(worker, "citybrain_batch_seconds_sum") if worker else None
    deadlettered = None
    if worker is not None:
        kinds = by_label(worker, "citybrain_deadlettered_total", "error")
        deadlettered = {k: v for k, v in kinds.items() if v}
    return ServerFigures(
        worker_events_in=events_in,
        worker_records_in=by_label(worker, "citybrain_records_in_total", "kind")
        if worker
        else None,
        worker_deadlettered=deadlettered,
        worker_cell_updates=total(worker, "citybrain_cell_updates_total") if worker else None,
        worker_batch_mean_ms=1000 * batch_sum / batch_count
        if batch_sum is not None and batch_count
        else None,
        worker_backlog=acked_events - events_in.get("camera", 0.0)
        if events_in is not None
        else None,
        web_clients_end=total(web_after, "citybrain_ws_clients") if web_after else None,
        web_dropped=by_label(web, "citybrain_ws_dropped_total", "reason") if web else None,
        web_messages=by_label(web, "citybrain_ws_messages_total", "type") if web else None,
        web_bad_records=total(web, "citybrain_web_bad_records_total") if web else None,
    )


async def scrape(
    session: aiohttp.ClientSession, url: str, headers: Mapping[str, str] | None = None
) -> Samples | None:
    """The samples at ``url``; None (logged) when it cannot be read or parsed."""
    try:
        async with session.get(
            url, headers=headers, timeout=aiohttp.ClientTimeout(total=SCRAPE_TIMEOUT_S)
        ) as response:
            response.raise_for_status()
            text = await response.text()
        return parse_metrics(text)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        log.warning("cannot scrape %s: %r", url, exc)
        return None
