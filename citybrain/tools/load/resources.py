"""CPU and memory of the processes under load, read from ``/proc`` (Linux; edge).

:func:`parse_stat_ticks` and :func:`parse_statm_rss` are pure (text in, numbers out);
:class:`ResourceSampler` reads ``/proc/<pid>/stat`` and ``/proc/<pid>/statm`` of each
watched process every :data:`SAMPLE_EVERY_S` seconds. :func:`machine_info` describes
the machine for the report.
"""

from __future__ import annotations

import asyncio
import logging
import os
import platform
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

from citybrain.tools.load.report import ProcSample

log = logging.getLogger(__name__)

SAMPLE_EVERY_S: Final = 2.0
TICKS_PER_S: Final = os.sysconf("SC_CLK_TCK")
PAGE_BYTES: Final = os.sysconf("SC_PAGE_SIZE")


def parse_stat_ticks(text: str) -> int:
    """User + system CPU time (clock ticks) from the text of ``/proc/<pid>/stat``:
    fields 14 and 15 (``utime``, ``stime``). The command name (field 2) may hold spaces
    and parentheses, so fields are counted from its last ``)``. ValueError otherwise."""
    end = text.rfind(")")
    if end < 0:
        raise ValueError("no ')' closing the command name in /proc/<pid>/stat")
    fields = text[end + 1 :].split()
    # fields[0] is field 3 (state): utime (14) and stime (15) are fields[11] and fields[12]
    if len(fields) < 13:
        raise ValueError(f"/proc/<pid>/stat has {len(fields) + 2} fields, expected >= 15")
    return int(fields[11]) + int(fields[12])


def parse_statm_rss(text: str, page_bytes: int) -> int:
    """Resident set size in bytes from the text of ``/proc/<pid>/statm`` (its second
    field, in pages of ``page_bytes``). ValueError otherwise."""
    fields = text.split()
    if len(fields) < 2:
        raise ValueError("/proc/<pid>/statm has fewer than 2 fields")
    return int(fields[1]) * page_bytes


def read_sample(pid: int, at_s: float, proc: Path = Path("/proc")) -> ProcSample:
    """One reading of process ``pid``. OSError (FileNotFoundError, ProcessLookupError)
    when the process is gone."""
    ticks = parse_stat_ticks((proc / str(pid) / "stat").read_text())
    rss = parse_statm_rss((proc / str(pid) / "statm").read_text(), PAGE_BYTES)
    return ProcSample(at_s=at_s, cpu_ticks=ticks, rss_bytes=rss)


class ResourceSampler:
    """Samples the processes ``pids`` (name → pid) every :data:`SAMPLE_EVERY_S` s from
    ``t0`` (``time.time()`` s) until :meth:`run` is cancelled or ``stop`` is set.

    ``samples`` holds each process's readings; ``missed`` counts readings that failed
    (the process had gone, or ``/proc`` said something unexpected).
    """

    def __init__(self, pids: Mapping[str, int], t0: float) -> None:
        self.pids = dict(pids)
        self.samples: dict[str, list[ProcSample]] = {name: [] for name in self.pids}
        self.missed: Counter[str] = Counter()
        self._t0 = t0

    def sample_now(self) -> None:
        """Read every watched process once."""
        at_s = time.time() - self._t0
        for name, pid in self.pids.items():
            try:
                self.samples[name].append(read_sample(pid, at_s))
            except (OSError, ValueError) as exc:
                self.missed[name] += 1
                log.warning("cannot read /proc for %s (pid %d): %r", name, pid, exc)

    async def run(self, stop: asyncio.Event, every_s: float = SAMPLE_EVERY_S) -> None:
        """Sample now, then every ``every_s`` seconds, and once more when ``stop`` is set
        unless the last sample is younger than half the period (CPU % over a very short
        interval is mostly clock-tick rounding)."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while True:
            self.sample_now()
            last = loop.time()
            next_at += every_s
            try:
                await asyncio.wait_for(stop.wait(), max(0.0, next_at - loop.time()))
            except TimeoutError:
                continue
            if loop.time() - last >= every_s / 2:
                self.sample_now()
            return


def _first_line_value(path: Path, key: str) -> str | None:
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(":")
            if name.strip() == key:
                return value.strip()
    except OSError as exc:
        log.warning("cannot read %s: %r", path, exc)
    return None


def machine_info() -> dict[str, Any]:
    """CPU model, logical cores, memory (bytes), kernel and Python version."""
    mem = _first_line_value(Path("/proc/meminfo"), "MemTotal")  # "24730680 kB"
    memory_bytes = int(mem.split()[0]) * 1024 if mem and mem.split()[0].isdigit() else None
    return {
        "cpu_model": _first_line_value(Path("/proc/cpuinfo"), "model name"),
        "cores": os.cpu_count(),
        "memory_bytes": memory_bytes,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
