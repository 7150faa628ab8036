"""The latest reading of each camera in each cell, as arrays owned by one partition (pure).

Contract, held equal to :func:`streams.pipeline.cellfold.add_all` and :func:`expire` by
tests/unit/test_columnar_camera.py: a camera keeps one reading per cell, the newest by
event time; a reading never overwrites a newer one (a late or replayed reading changes
nothing), and of two with the same time the later folded wins. A cell's ``updated_at``
is the newest event time folded into it, late readings included. :meth:`expire` drops
readings older than the crowd window at the partition's event time.

Rows live in growable arrays; a ``(camera, cell)`` pair keeps its row until it expires
(then the row is reused), so folding a batch costs one dictionary look-up per reading
and a few vectorised passes, whatever the batch size.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from streams.pipeline.columnar.camera_columns import CameraColumns, Cells, Floats, Int64s

_NONE = -1


@dataclass(frozen=True, slots=True)
class CameraRows:
    """Some readings of a :class:`CameraTable` (copies), one per row. As
    :meth:`CameraTable.rows_in` gives them they are grouped by cell, ``cell`` sorted, and
    within a cell in no particular order (fusion sums and multiplies them in that order:
    equal to the reference's camera-id order to rounding)."""

    cell: Cells
    camera: list[str]
    ts: Int64s
    people: Int64s
    area_m2: Floats
    flow_in: Floats
    flow_out: Floats


class CameraTable:
    """The camera readings of one partition (see the module docstring)."""

    def __init__(self, capacity: int = 1024) -> None:
        self.rows: dict[tuple[str, int], int] = {}
        self.camera: list[str] = [""] * capacity
        self.cell: Cells = np.zeros(capacity, np.uint64)
        self.ts: Int64s = np.full(capacity, np.iinfo(np.int64).min, np.int64)
        self.people: Int64s = np.zeros(capacity, np.int64)
        self.area_m2: Floats = np.ones(capacity, np.float64)
        self.flow_in: Floats = np.full(capacity, np.nan)
        self.flow_out: Floats = np.full(capacity, np.nan)
        self.used: npt.NDArray[np.bool_] = np.zeros(capacity, np.bool_)
        self.free: list[int] = list(range(capacity - 1, -1, -1))
        self.updated_at: dict[int, int] = {}  # cell → newest event time folded in, ms
        # what changed since the last delta or snapshot
        # (streams/pipeline/columnar/camera_durable.py)
        self.dirty: npt.NDArray[np.bool_] = np.zeros(capacity, np.bool_)
        self.removed: list[tuple[str, int]] = []
        self.cells_changed: set[int] = set()
        self.cells_dropped: set[int] = set()

    def __len__(self) -> int:
        return len(self.rows)

    def _grow(self) -> None:
        old = len(self.ts)
        new = old * 2
        self.camera.extend([""] * old)
        self.cell = np.concatenate([self.cell, np.zeros(old, np.uint64)])
        self.ts = np.concatenate([self.ts, np.full(old, np.iinfo(np.int64).min, np.int64)])
        self.people = np.concatenate([self.people, np.zeros(old, np.int64)])
        self.area_m2 = np.concatenate([self.area_m2, np.ones(old, np.float64)])
        self.flow_in = np.concatenate([self.flow_in, np.full(old, np.nan)])
        self.flow_out = np.concatenate([self.flow_out, np.full(old, np.nan)])
        self.used = np.concatenate([self.used, np.zeros(old, np.bool_)])
        self.dirty = np.concatenate([self.dirty, np.zeros(old, np.bool_)])
        self.free.extend(range(new - 1, old - 1, -1))

    def row_of(self, camera: str, cell: int) -> int:
        """The row of ``(camera, cell)``, taken (and marked used) if it is new."""
        key = (camera, cell)
        row = self.rows.get(key)
        if row is None:
            if not self.free:
                self._grow()
            row = self.free.pop()
            self.rows[key] = row
            self.camera[row] = camera
            self.cell[row] = cell
            self.used[row] = True
        return row

    def fold(self, batch: CameraColumns) -> Cells:
        """Fold ``batch`` in; returns the cells whose state changed (sorted, unique)."""
        n = len(batch)
        if n == 0:
            return np.zeros(0, np.uint64)
        keys = list(zip(batch.camera, batch.cell.tolist(), strict=True))
        get = self.rows.get
        found = [get(key, _NONE) for key in keys]
        if _NONE in found:  # pairs not held yet (a new camera, or one that moved)
            for i, row in enumerate(found):
                if row == _NONE:
                    found[i] = self.row_of(*keys[i])
        rows = np.array(found, dtype=np.int64)
        # the newest reading of each row in the batch; of equal times, the later one
        order = np.arange(n)
        sort = np.lexsort((order, batch.ts, rows))
        last = np.ones(n, np.bool_)
        last[:-1] = rows[sort][1:] != rows[sort][:-1]
        pick = sort[last]
        target = rows[pick]
        newer = self.ts[target] <= batch.ts[pick]
        pick, target = pick[newer], target[newer]
        self.ts[target] = batch.ts[pick]
        self.people[target] = batch.people[pick]
        self.area_m2[target] = batch.area_m2[pick]
        self.flow_in[target] = batch.flow_in[pick]
        self.flow_out[target] = batch.flow_out[pick]
        self.dirty[target] = True
        by_cell = np.lexsort((batch.ts, batch.cell))
        newest = np.ones(n, np.bool_)
        newest[:-1] = batch.cell[by_cell][1:] != batch.cell[by_cell][:-1]
        touched, times = batch.cell[by_cell][newest], batch.ts[by_cell][newest]
        updated = self.updated_at
        for cell, ts in zip(touched.tolist(), times.tolist(), strict=True):
            if ts > updated.get(cell, ts - 1):
                updated[cell] = ts
                self.cells_changed.add(cell)
                self.cells_dropped.discard(cell)
        return touched

    def expire(self, now_ms: int, window_ms: int) -> Cells:
        """Drop readings older than ``window_ms`` at ``now_ms``; returns the cells that
        lost a reading (sorted, unique)."""
        old = self.used & (now_ms - self.ts > window_ms)
        if not old.any():
            return np.zeros(0, np.uint64)
        gone = np.flatnonzero(old)
        cells = np.unique(self.cell[gone])
        self.removed.extend(self.release(gone))
        return cells

    def release(self, rows: npt.NDArray[np.intp]) -> list[tuple[str, int]]:
        """Give ``rows`` up (their readings are gone); returns their ``(camera, cell)``."""
        keys = [(self.camera[row], int(self.cell[row])) for row in rows.tolist()]
        for key in keys:
            del self.rows[key]
        self.free.extend(rows.tolist())
        self.used[rows] = False
        self.dirty[rows] = False
        self.ts[rows] = np.iinfo(np.int64).min
        return keys

    def clear_tracking(self) -> None:
        """Start tracking what changes afresh (a change was just taken or applied)."""
        self.dirty[:] = False
        self.removed = []
        self.cells_changed = set()
        self.cells_dropped = set()

    def reset(self, capacity: int) -> None:
        """Forget everything: the table a new one of ``capacity`` rows would be."""
        self.__init__(capacity)  # type: ignore[misc]

    def drop_cells(self, cells: Cells) -> None:
        """Forget the ``updated_at`` of cells that hold nothing any more."""
        held = set(self.cell[self.used].tolist())
        for cell in cells.tolist():
            if cell not in held and self.updated_at.pop(cell, None) is not None:
                self.cells_dropped.add(cell)
                self.cells_changed.discard(cell)

    def rows_in(self, cells: Cells) -> CameraRows:
        """The readings of ``cells`` (any order), grouped by cell (cells in increasing
        order; within a cell, in no particular order)."""
        index = np.flatnonzero(self.used & np.isin(self.cell, cells))
        return self.readings_at(index[np.argsort(self.cell[index], kind="stable")])

    def readings_at(self, index: npt.NDArray[np.intp]) -> CameraRows:
        """The readings of rows ``index``, in that order (copies)."""
        return CameraRows(
            cell=self.cell[index],
            camera=[self.camera[i] for i in index.tolist()],
            ts=self.ts[index],
            people=self.people[index],
            area_m2=self.area_m2[index],
            flow_in=self.flow_in[index],
            flow_out=self.flow_out[index],
        )
