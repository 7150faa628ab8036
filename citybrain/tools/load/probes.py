"""End-to-end lag markers of ``citybrain load`` (pure bookkeeping, no I/O).

A marker is one event the load sent: its camera's H3 cell and its event time ``ts``
(epoch ms, the send time). It is resolved by the first ``cells`` message that shows
that cell with ``updated_at`` >= ``ts``, i.e. once the map could show data at least as
new as the marker; the lag is that message's receive time minus ``ts``. Another camera
in the same cell with a later reading resolves it too: the figure is the freshness of
the map, which is what a dispatcher sees.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field


@dataclass(slots=True)
class ProbeBook:
    """Markers waiting for their cell to show up, and the lags of the resolved ones."""

    sent: int = 0
    lags: list[tuple[float, float]] = field(default_factory=list)
    """(seconds after the start the marker was sent, lag ms) per resolved marker."""
    _pending: dict[str, list[tuple[int, float]]] = field(default_factory=dict)

    def add(self, cell: str, ts_ms: int, at_s: float) -> None:
        """A marker event in ``cell`` with event time ``ts_ms``, sent ``at_s`` seconds
        after the start."""
        self.sent += 1
        self._pending.setdefault(cell, []).append((ts_ms, at_s))

    @property
    def pending(self) -> int:
        """Markers not resolved yet."""
        return sum(len(v) for v in self._pending.values())

    def observe(self, cells: Iterable[tuple[str, int]], received_ms: float) -> int:
        """A ``cells`` message received at ``received_ms`` (epoch ms) with these
        ``(cell, updated_at ms)`` views; returns how many markers it resolved."""
        resolved = 0
        for cell, updated_at in cells:
            waiting = self._pending.get(cell)
            if not waiting:
                continue
            left = []
            for ts_ms, at_s in waiting:
                if updated_at >= ts_ms:
                    self.lags.append((at_s, received_ms - ts_ms))
                    resolved += 1
                else:
                    left.append((ts_ms, at_s))
            if left:
                self._pending[cell] = left
            else:
                del self._pending[cell]
        return resolved
