"""The rate of rise of many cells at once (pure): alerts/crowd/trend.py, vectorised.

Each cell keeps a ring of ``ceil(window_ms / bucket_ms) + 1`` slots, the most a
:class:`alerts.crowd.trend.Series` can hold: one sample per bucket, the newest ``window_ms``
only. :meth:`TrendRings.add` folds one sample per cell of a round (all at the round's
event time), as :func:`alerts.crowd.trend.add` does sample by sample; :meth:`slopes` is
:func:`alerts.crowd.trend.slope_per_min` for every cell (sums in another order than
``math.fsum``: equal to rounding). Slots in a ring are in no order; a series is
sorted only when asked for (:meth:`series`).
"""

from __future__ import annotations

import math

import numpy as np

from alerts.crowd.trend import MS_PER_MIN, RiseConfig, Series
from streams.pipeline.columnar.camera_columns import Cells, Floats, Int64s

EMPTY = np.iinfo(np.int64).min


class TrendRings:
    """Density samples (persons/m²) per cell; ``config`` gives the window and buckets."""

    def __init__(self, config: RiseConfig, capacity: int = 1024) -> None:
        self.config = config
        self.slots = math.ceil(config.window_ms / config.bucket_ms) + 1
        self.index: dict[int, int] = {}
        self.ts: Int64s = np.full((capacity, self.slots), EMPTY, np.int64)
        self.value: Floats = np.zeros((capacity, self.slots), np.float64)
        self.free: list[int] = list(range(capacity - 1, -1, -1))

    def rows_of(self, cells: Cells) -> Int64s:
        """The ring of each cell, a fresh (empty) one for a cell not seen yet."""
        out = []
        for cell in cells.tolist():
            row = self.index.get(cell)
            if row is None:
                if not self.free:
                    self._grow()
                row = self.free.pop()
                self.index[cell] = row
                self.ts[row] = EMPTY
            out.append(row)
        return np.array(out, np.int64)

    def _grow(self) -> None:
        old = len(self.ts)
        self.ts = np.concatenate([self.ts, np.full((old, self.slots), EMPTY, np.int64)])
        self.value = np.concatenate([self.value, np.zeros((old, self.slots))])
        self.free.extend(range(2 * old - 1, old - 1, -1))

    def forget(self, cells: Cells) -> None:
        """Drop the rings of ``cells`` (cells that left the partition's state)."""
        for cell in cells.tolist():
            row = self.index.pop(cell, None)
            if row is not None:
                self.free.append(row)

    def add(self, cells: Cells, now_ms: int, values: Floats) -> None:
        """Fold the sample ``(now_ms, values[i])`` into the ring of ``cells[i]``."""
        if len(cells) == 0:
            return
        c = self.config
        rows = self.rows_of(cells)
        ts, value = self.ts[rows], self.value[rows]
        held = ts != EMPTY
        newest = np.maximum(now_ms, np.where(held, ts, EMPTY).max(axis=1))
        oldest = newest - c.window_ms
        late = now_ms < oldest  # the scalar fold ignores such a sample
        held &= ts >= oldest[:, None]
        ts[~held] = EMPTY
        same = held & (ts // c.bucket_ms == now_ms // c.bucket_ms)
        in_bucket = same.any(axis=1)
        slot = np.where(in_bucket, same.argmax(axis=1), (ts == EMPTY).argmax(axis=1))
        k = np.arange(len(rows))
        old_ts, old_value = ts[k, slot], value[k, slot]
        # in its bucket, the later sample wins; on equal times, the larger value
        wins = ~in_bucket | (now_ms > old_ts) | ((now_ms == old_ts) & (values > old_value))
        wins &= ~late
        ts[k[wins], slot[wins]] = now_ms
        value[k[wins], slot[wins]] = values[wins]
        self.ts[rows], self.value[rows] = ts, value

    def slopes(self, cells: Cells) -> Floats:
        """Least-squares slope per minute of each cell's samples; NaN with fewer than 3
        samples, a span under ``min_span_ms``, or no ring."""
        out = np.full(len(cells), np.nan)
        known = np.array([c in self.index for c in cells.tolist()], np.bool_)
        if not known.any():
            return out
        rows = np.array([self.index[c] for c in cells[known].tolist()], np.int64)
        ts, value = self.ts[rows], self.value[rows]
        held = ts != EMPTY
        n = held.sum(axis=1)
        first = np.where(held, ts, np.iinfo(np.int64).max).min(axis=1)
        last = np.where(held, ts, EMPTY).max(axis=1)
        ok = (n >= 3) & (last - first >= self.config.min_span_ms)
        t = np.where(held, (ts - first[:, None]) / MS_PER_MIN, 0.0)
        v = np.where(held, value, 0.0)
        with np.errstate(invalid="ignore", divide="ignore"):
            t_mean = t.sum(axis=1) / n
            v_mean = v.sum(axis=1) / n
            dt = np.where(held, t - t_mean[:, None], 0.0)
            dv = np.where(held, v - v_mean[:, None], 0.0)
            slope = (dt * dv).sum(axis=1) / (dt * dt).sum(axis=1)
        out[np.flatnonzero(known)] = np.where(ok, slope, np.nan)
        return out

    def series(self, cell: int) -> Series:
        """The cell's samples as the scalar path's series (time order)."""
        row = self.index.get(cell)
        if row is None:
            return Series()
        held = self.ts[row] != EMPTY
        pairs = sorted(
            zip(self.ts[row][held].tolist(), self.value[row][held].tolist(), strict=True)
        )
        return Series(tuple((int(t), float(v)) for t, v in pairs))

    def seed(self, cell: int, series: Series) -> None:
        """Make ``series`` (the scalar path's, one sample per bucket) the cell's ring:
        a cell whose trend the per-object path kept until now."""
        (row,) = self.rows_of(np.array([cell], np.uint64)).tolist()
        self.ts[row], self.value[row] = EMPTY, 0.0
        samples = series.samples[-self.slots :]
        for slot, (ts, value) in enumerate(samples):
            self.ts[row, slot], self.value[row, slot] = ts, value
