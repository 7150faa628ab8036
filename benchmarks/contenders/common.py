"""What every benchmark contender shares: the work, the meter and the command line.

Each contender is a standalone script (``python benchmarks/contenders/<name>.py``) run in
its own process by ``citybrain bench`` (citybrain/tools/bench/run.py). Contenders built on
third-party engines run in a separate environment (``.venv-contenders``), so this module
needs only the standard library, orjson and h3.

The work, the same in every contender: read the pre-loaded topic from the beginning;
parse each record's value (one JSON camera reading, or a JSON array of them); place
each reading in its H3 cell at resolution :data:`RES` and its tumbling window of
:data:`WINDOW_MS`; keep, in the engine's own state, a count and a people total per
(cell, window). A contender reports how many events it processed, how many (cell,
window) entries it created and the people it added: every contender must report the
same three figures for the same input, or it did not do the same work.

Measured from the first record received (start-up and the consumer-group join excluded)
to the last event processed: wall seconds, CPU seconds of the whole process (every
thread), peak RSS.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h3
import orjson

RES = 9
WINDOW_MS = 10_000


def parse(value: bytes) -> list[dict[str, Any]]:
    """The events of one record value: a JSON object or an array of them."""
    data = orjson.loads(value)
    return data if isinstance(data, list) else [data]


def place(event: dict[str, Any]) -> tuple[str, int]:
    """(H3 cell at :data:`RES`, window start in epoch ms) of one camera reading."""
    return (
        h3.latlng_to_cell(event["lat"], event["lon"], RES),
        event["ts"] // WINDOW_MS * WINDOW_MS,
    )


def fold(values: list[bytes], state: dict[tuple[str, int], list[int]], meter: Meter) -> None:
    """The work on a plain dict (the loops without an engine): parse each record value,
    add every event to its (cell, window) entry, and count it all on ``meter``."""
    events = keys = people = 0
    for value in values:
        for event in parse(value):
            key = place(event)
            entry = state.get(key)
            if entry is None:
                state[key] = [1, event["people"]]
                keys += 1
            else:
                entry[0] += 1
                entry[1] += event["people"]
            events += 1
            people += event["people"]
    meter.count(events, keys, people)


def window_key(event: dict[str, Any]) -> str:
    """``"<cell>:<window start>"``, the state key where a key must be a string."""
    cell, window = place(event)
    return f"{cell}:{window}"


@dataclass
class Meter:
    """Counts the work and times it from the first record."""

    name: str
    expected: int
    events: int = 0
    keys: int = 0
    people: int = 0
    _wall0: float | None = None
    _cpu0: float = 0.0
    _wall1: float = 0.0
    _cpu1: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def first_record(self, at: float | None = None) -> None:
        """Call when a record arrives; only the first call starts the clock (``at``: the
        ``time.perf_counter()`` it started at, when that was earlier than this call)."""
        if self._wall0 is None:
            self._wall0 = time.perf_counter() if at is None else at
            self._cpu0 = time.process_time()

    def count(self, events: int, keys: int, people: int) -> None:
        self.events += events
        self.keys += keys
        self.people += people
        self._wall1, self._cpu1 = time.perf_counter(), time.process_time()

    @property
    def done(self) -> bool:
        return self.events >= self.expected

    def timed_out(self, max_seconds: float) -> bool:
        return self._wall0 is not None and time.perf_counter() - self._wall0 > max_seconds

    def result(self) -> dict[str, Any]:
        started = self._wall0 if self._wall0 is not None else self._wall1
        return {
            "contender": self.name,
            "expected": self.expected,
            "events": self.events,
            "keys": self.keys,
            "people": self.people,
            "complete": self.done,
            "seconds": max(self._wall1 - started, 1e-9),
            "cpu_s": self._cpu1 - self._cpu0,
            "rss_peak_mb": peak_rss_mb(),
            **self.extra,
        }

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.result()))


def peak_rss_mb(pid: int | str = "self") -> float:
    """Peak resident memory of process ``pid`` (this one by default), MiB: ``VmHWM``,
    which starts afresh at exec. (``ru_maxrss`` does not: on Linux a child starts from
    its parent's peak at fork.)"""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


@dataclass(frozen=True)
class Args:
    bootstrap: str  # host:port
    topic: str
    partitions: int
    events: int  # how many events the topic holds: stop after that many
    group: str  # a consumer group id of its own
    max_seconds: float  # give up (complete: false) this long after the first record
    result: Path  # where to write the result JSON
    state_dir: Path  # a scratch directory for engines that keep state on disk


def args(description: str) -> Args:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--partitions", type=int, required=True)
    p.add_argument("--events", type=int, required=True)
    p.add_argument("--group", required=True)
    p.add_argument("--max-seconds", type=float, default=600.0)
    p.add_argument("--result", type=Path, required=True)
    p.add_argument("--state-dir", type=Path, required=True)
    a = p.parse_args()
    return Args(**{k.replace("-", "_"): v for k, v in vars(a).items()})
