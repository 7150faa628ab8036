"""Event-time clock per partition (pure: wall time is passed in).

The clock of a partition is the newest event ts seen on it, advanced by the wall
time elapsed since then, so that idle partitions still age their windows and
close alerts, while replays run on the recording's own time.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class EventClock:
    _seen: dict[int, tuple[int, float]] = field(default_factory=dict)  # p -> (max ts, wall ms)

    def observe(self, partition: int, ts_ms: int, wall_ms: float) -> None:
        """Record that an event with ``ts_ms`` arrived on ``partition`` at ``wall_ms``."""
        current = self._seen.get(partition)
        if current is None or ts_ms >= self.now(partition, wall_ms, default=ts_ms):
            self._seen[partition] = (ts_ms, wall_ms)

    def now(self, partition: int, wall_ms: float, default: int | None = None) -> int:
        """Event-time now of ``partition`` in epoch ms; ``default`` when nothing was seen."""
        current = self._seen.get(partition)
        if current is None:
            if default is None:
                raise KeyError(partition)
            return default
        ts, at = current
        return ts + max(0, int(wall_ms - at))

    def knows(self, partition: int) -> bool:
        return partition in self._seen
