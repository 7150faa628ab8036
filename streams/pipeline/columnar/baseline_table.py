"""Hour-of-week baselines of many cells at once (pure): alerts/crowd/baseline.py, vectorised.

One :class:`BaselineTable` holds one series (``density``, ``hotline``…) for every cell
of a partition: an EWMA mean, variance and sample count per cell and hour-of-week slot
(168), and the time of the cell's last sample. Contract, per cell:
:meth:`z` is :func:`alerts.crowd.baseline.score` and :meth:`observe` is
:func:`alerts.crowd.baseline.observe` (Finch's update, one sample per ``interval_ms``, late
samples ignored), element by element in the same floating-point operations, so the
figures are the same to the bit.

Memory: 20 bytes per cell per slot, about 3.4 KiB per cell and series; rows are taken
only by cells that get a sample.
"""

from __future__ import annotations

import numpy as np

from alerts.crowd.baseline import HOURS_PER_WEEK, Baseline, BaselineConfig, Moments, hour_of_week
from streams.pipeline.columnar.camera_columns import Cells, Floats, Int64s

NEVER = np.iinfo(np.int64).min


class BaselineTable:
    """One baseline series for the cells of a partition (see the module docstring)."""

    def __init__(self, config: BaselineConfig, capacity: int = 256) -> None:
        self.config = config
        self.index: dict[int, int] = {}
        self.mean: Floats = np.zeros((capacity, HOURS_PER_WEEK))
        self.var: Floats = np.zeros((capacity, HOURS_PER_WEEK))
        self.n = np.zeros((capacity, HOURS_PER_WEEK), np.int32)
        self.last: Int64s = np.full(capacity, NEVER, np.int64)
        # (row, slot) written since the changes were last taken; slot -1: the whole row
        self.changed: set[tuple[int, int]] = set()

    def _rows(self, cells: Cells, *, take: bool) -> Int64s:
        """Each cell's row; -1 for a cell without one (unless ``take``: then a new row)."""
        out = []
        for cell in cells.tolist():
            row = self.index.get(cell)
            if row is None and take:
                row = len(self.index)
                if row == len(self.last):
                    self._grow()
                self.index[cell] = row
            out.append(-1 if row is None else row)
        return np.array(out, np.int64)

    def rows_of(self, cells: Cells) -> Int64s:
        """Each cell's row, a new (empty) one for a cell without one."""
        return self._rows(cells, take=True)

    def _grow(self) -> None:
        old = len(self.last)
        self.mean = np.concatenate([self.mean, np.zeros((old, HOURS_PER_WEEK))])
        self.var = np.concatenate([self.var, np.zeros((old, HOURS_PER_WEEK))])
        self.n = np.concatenate([self.n, np.zeros((old, HOURS_PER_WEEK), np.int32)])
        self.last = np.concatenate([self.last, np.full(old, NEVER, np.int64)])

    def z(self, cells: Cells, now_ms: int, values: Floats) -> Floats:
        """z-score of each value against its cell's slot at ``now_ms``; NaN until the slot
        holds ``min_samples`` samples, or where the value is NaN (no value)."""
        return self._z(self._rows(cells, take=False), now_ms, values)

    def observe(self, cells: Cells, now_ms: int, values: Floats) -> None:
        """Fold ``values[i]`` (NaN: none) taken at ``now_ms`` into ``cells[i]``'s slot,
        where the cell's last sample is at least ``interval_ms`` older."""
        present = ~np.isnan(values)
        if present.any():
            self._observe(self._rows(cells[present], take=True), now_ms, values[present])

    def score_and_learn(self, cells: Cells, now_ms: int, values: Floats) -> Floats:
        """:meth:`z`, then :meth:`observe`, with one look-up of the cells' rows."""
        rows = self._rows(cells, take=False)
        z = self._z(rows, now_ms, values)
        present = ~np.isnan(values)
        new = (rows < 0) & present
        if new.any():
            rows[new] = self._rows(cells[new], take=True)
        if present.any():
            self._observe(rows[present], now_ms, values[present])
        return z

    def _z(self, rows: Int64s, now_ms: int, values: Floats) -> Floats:
        c = self.config
        out = np.full(len(rows), np.nan)
        known = (rows >= 0) & ~np.isnan(values)
        if not known.any():
            return out
        slot = hour_of_week(now_ms, c.utc_offset_h)
        r = rows[known]
        enough = self.n[r, slot] >= max(c.min_samples, 1)
        sd = np.maximum(np.sqrt(self.var[r, slot]), c.min_sd)
        z = (values[known] - self.mean[r, slot]) / sd
        out[np.flatnonzero(known)] = np.where(enough, z, np.nan)
        return out

    def _observe(self, rows: Int64s, now_ms: int, v: Floats) -> None:
        """Fold ``v[i]`` (all present) into row ``rows[i]`` where a sample is due."""
        c = self.config
        last = self.last[rows]
        due = (last == NEVER) | (now_ms - last >= max(c.interval_ms, 1))
        rows, v = rows[due], v[due]
        slot = hour_of_week(now_ms, c.utc_offset_h)
        n, mean, var = self.n[rows, slot], self.mean[rows, slot], self.var[rows, slot]
        first = n == 0
        diff = v - mean
        incr = c.alpha * diff
        self.mean[rows, slot] = np.where(first, v, mean + incr)
        self.var[rows, slot] = np.where(first, 0.0, (1.0 - c.alpha) * (var + diff * incr))
        self.n[rows, slot] = n + 1
        self.changed.update((row, slot) for row in rows.tolist())
        held = self.last[rows]
        self.last[rows] = np.where(held == NEVER, now_ms, np.maximum(now_ms, held))

    def baseline(self, cell: int) -> Baseline | None:
        """The cell's series as the scalar path's object (None: no sample yet)."""
        row = self.index.get(cell)
        if row is None:
            return None
        seen = np.flatnonzero(self.n[row] > 0).tolist()
        slots = tuple(
            (s, Moments(float(self.mean[row, s]), float(self.var[row, s]), int(self.n[row, s])))
            for s in seen
        )
        last = int(self.last[row])
        return Baseline(slots, None if last == NEVER else last, self.config.utc_offset_h)

    def seed(self, cell: int, baseline: Baseline | None) -> None:
        """Make ``baseline`` (the scalar path's; None: none) the cell's series: a cell
        the per-object path measured until now."""
        if baseline is None:
            row = self.index.get(cell)
            if row is not None:
                self.n[row], self.mean[row], self.var[row] = 0, 0.0, 0.0
                self.last[row] = NEVER
                self.changed.add((row, -1))
            return
        (row,) = self._rows(np.array([cell], np.uint64), take=True).tolist()
        self.changed.add((row, -1))
        self.n[row], self.mean[row], self.var[row] = 0, 0.0, 0.0
        for slot, m in baseline.slots:
            self.mean[row, slot], self.var[row, slot], self.n[row, slot] = m.mean, m.var, m.n
        self.last[row] = NEVER if baseline.last_ts_ms is None else baseline.last_ts_ms
