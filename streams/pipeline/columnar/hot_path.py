"""One partition's camera path between fetches and the wire (pure): fold, rounds, publish.

The Faust shell around it only feeds fetched columns in (:meth:`CameraHotPath.fold`),
asks for a round when one is due (:meth:`CameraHotPath.round`) and sends what the round
returns: the ``cells.state`` views that changed and the cells that are gone, and the
table change to make durable (streams/pipeline/columnar/camera_durable.py).

A round measures, as the per-object pipeline's step and sweep do
(streams/pipeline/step.py, ``process_batch``), exactly the cells that

* were folded into since the last round,
* lost a reading to the crowd window (``Windows.crowd_ms`` at the round's event time),
* or have a camera that went stale since the cell was last measured;

cells left with no reading are forgotten (trend ring included) and reported as
removed. Of the measured cells, only those whose view differs from the one last
published (its ``updated_at`` aside) are published: a busy cell whose rounded figures
hold still costs the wire nothing. A cell whose figures are bitwise those of its last
measurement (:func:`streams.pipeline.columnar.camera_views.signatures`) is not even given a view.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import h3
import numpy as np

from alerts.crowd.cell_metrics import MetricsConfig
from alerts.crowd.trend import Series
from streams.pipeline.cellfold import Windows
from streams.pipeline.columnar.camera_columns import CameraColumns, Cells
from streams.pipeline.columnar.camera_round import (
    CellExtras,
    ContextTable,
    PartitionState,
    RoundFigures,
    measure_cameras,
    updated_at_of,
)
from streams.pipeline.columnar.camera_views import camera_views, signatures

_NO_CELLS: Cells = np.zeros(0, np.uint64)


#: The extras (sensors, tickets) of those of some cells that hold any (int H3 index).
ExtrasOf = Callable[[Cells], Mapping[int, CellExtras]]


@dataclass(slots=True)
class RoundOut:
    """What a round publishes: views that changed, cells gone (H3 strings), and how
    many cells it measured; ``cells``/``figures``: the cells measured and their figures
    (row ``i`` is ``cells[i]``), for the rules; ``gone``: the trend series of each cell
    gone (int H3 index), for whoever measures the cell next."""

    views: list[dict[str, Any]] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    measured: int = 0
    cells: Cells = field(default_factory=lambda: _NO_CELLS)
    figures: RoundFigures | None = None
    gone: dict[int, Series] = field(default_factory=dict)


class CameraHotPath:
    """The camera cells of one partition (see the module docstring)."""

    def __init__(self, metrics: MetricsConfig, windows: Windows, contexts: ContextTable) -> None:
        self.state = PartitionState(metrics)
        self.windows, self.contexts = windows, contexts
        self.dirty: list[Cells] = []
        self.stale_seen: dict[int, int] = {}  # cell → stale cameras at its last measurement
        self.published: dict[int, dict[str, Any]] = {}
        # cell → figures of its last measurement, for cells whose view then held no list
        # (stale cameras): equal figures then mean an equal view
        self.signature: dict[int, bytes] = {}

    def fold(self, columns: CameraColumns) -> Cells:
        """Fold a fetched batch in; its cells (returned) are measured at the next round."""
        if not len(columns):
            return _NO_CELLS
        cells = self.state.cameras.fold(columns)
        self.dirty.append(cells)
        return cells

    def due(self, cells: Cells) -> None:
        """Measure ``cells`` at the next round (their extras changed)."""
        if len(cells):
            self.dirty.append(cells)

    def round(self, now_ms: int, extras_of: ExtrasOf | None = None) -> RoundOut:
        """Measure what is due at event time ``now_ms`` (the partition's clock);
        ``extras_of`` gives the sensors and tickets of measured cells that hold some."""
        table = self.state.cameras
        out = RoundOut()
        expired = table.expire(now_ms, self.windows.crowd_ms)
        candidates = np.unique(np.concatenate([*self.dirty, expired, self._gone_stale(now_ms)]))
        self.dirty = []
        if len(candidates) == 0:
            return out
        in_play = table.used & np.isin(table.cell, candidates)
        holding = np.isin(candidates, table.cell[in_play])  # still holding a reading
        gone = candidates[~holding]
        if len(gone):
            table.drop_cells(gone)
            out.gone = {cell: self.state.rings.series(cell) for cell in gone.tolist()}
            self.state.rings.forget(gone)
            for cell in gone.tolist():
                self.stale_seen.pop(cell, None)
                self.signature.pop(cell, None)
                if self.published.pop(cell, None) is not None:
                    out.removed.append(h3.int_to_str(cell))
        cells = candidates[holding]
        if len(cells):
            self._measure(cells, now_ms, extras_of, out)
        return out

    def measure_now(self, cells: Cells, now_ms: int, extras_of: ExtrasOf | None = None) -> RoundOut:
        """Measure ``cells`` (sorted, unique) at ``now_ms`` outside the rounds (a rule
        looks at them); those whose readings have all expired are left to the next
        round, which also measures what expiring now took from other cells."""
        table = self.state.cameras
        expired = table.expire(now_ms, self.windows.crowd_ms)
        if len(expired):
            self.dirty.append(expired)
        in_play = table.used & np.isin(table.cell, cells)
        holding = cells[np.isin(cells, table.cell[in_play])]
        out = RoundOut()
        if len(holding):
            self._measure(holding, now_ms, extras_of, out)
        return out

    def _measure(
        self, cells: Cells, now_ms: int, extras_of: ExtrasOf | None, out: RoundOut
    ) -> None:
        """Measure ``cells`` (each holding readings) into ``out``: figures, changed views."""
        extras = extras_of(cells) if extras_of is not None else {}
        figures = measure_cameras(
            self.state, cells, self.contexts.contexts(cells), now_ms=now_ms, extras=extras
        )
        out.cells, out.figures = cells, figures
        counts = figures.crowd.rows_per_cell()
        stale = (counts - figures.crowd.live).tolist()
        sigs = signatures(figures)
        changed = []
        for i, cell in enumerate(cells.tolist()):
            self.stale_seen[cell] = stale[i]
            if stale[i] or cell in extras:  # its view lists stale cameras, sensors or
                # tickets, which the figures' signature leaves out: compare the whole view
                self.signature.pop(cell, None)
                changed.append(i)
                continue
            if self.signature.get(cell) != sigs[i]:
                changed.append(i)
            self.signature[cell] = sigs[i]
        updated = updated_at_of(self.state, cells, extras)
        for i, view in zip(changed, camera_views(figures, updated, only=changed), strict=True):
            cell = int(cells[i])
            before = self.published.get(cell)
            if before is None or _differs(before, view):
                out.views.append(view)
                self.published[cell] = dict(view)  # a copy of our own: compared, retimed later
        out.measured = len(cells)

    def _gone_stale(self, now_ms: int) -> Cells:
        """Cells with more stale cameras now than at their last measurement."""
        table = self.state.cameras
        if not self.stale_seen:
            return _NO_CELLS
        stale_ms = self.state.metrics.camera_stale_ms
        rows = table.used & (now_ms - table.ts > stale_ms)
        if not rows.any():
            return _NO_CELLS
        cells, counts = np.unique(table.cell[rows], return_counts=True)
        seen = np.array([self.stale_seen.get(c, 0) for c in cells.tolist()], np.int64)
        return cells[counts > seen]


def _differs(before: dict[str, Any], after: dict[str, Any]) -> bool:
    """Whether two views of a cell differ in anything but ``updated_at`` (one comparison
    of the two dicts in C; ``before``, the path's own copy, takes ``after``'s time)."""
    before["updated_at"] = after["updated_at"]
    return before != after
