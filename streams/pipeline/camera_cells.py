"""The pipeline's view of a partition's camera cells (types only): the cells measured in
rounds by the columnar path (streams/pipeline/columnar/partition_path.py) rather than by the
per-object step (streams/pipeline/step.py), and what one of their rounds gives the step."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from alerts.crowd.cell_metrics import CellMetrics
from alerts.crowd.trend import Series
from streams.pipeline.cellfold import CellState


@dataclass(slots=True)
class CameraRound:
    """What a partition's camera cells gave in one round (:meth:`CameraCells.round`):
    ``views`` that changed and cells ``removed``; ``metrics`` of the cells the cell and
    sensor rules must see; every cell ``measured`` (its zones' rules are evaluated);
    ``handed_back``: cells left without cameras that still hold sensors or tickets, with
    their trend series, to be measured per object from now on."""

    views: dict[str, dict[str, Any]] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)
    metrics: dict[str, CellMetrics] = field(default_factory=dict)
    measured: list[str] = field(default_factory=list)
    handed_back: dict[str, Series] = field(default_factory=dict)


class CameraCells(Protocol):
    """The cells of a partition that hold camera readings, measured in rounds by the
    columnar path (streams/pipeline/columnar/partition_path.py) rather than here. Such a cell
    has one view, the round's; its sensors and tickets stay in the per-object store."""

    def holds(self, cell: str) -> bool:
        """Whether ``cell`` holds camera readings."""
        ...

    def metrics(self, cell: str) -> CellMetrics | None:
        """The cell's metrics at its last measurement (None: not measured yet)."""
        ...

    def due(self, cell: str, state: CellState | None) -> None:
        """The cell's sensors or tickets changed (``state``: what the per-object store
        now holds of it, None when nothing): measure it at the next round."""
        ...

    def round(self, now_ms: int, tracked: Callable[[list[str]], list[bool]]) -> CameraRound:
        """Measure what is due at event time ``now_ms``; ``tracked`` tells which of the
        cells measured a cell rule's track is kept for (the rules must see those)."""
        ...
