"""The ingest ceiling per camera, over a batch of columns (pure): streams/pipeline/device_rate.py,
vectorised.

Contract: :meth:`CeilingTable.admit` passes and refuses exactly the readings that
:meth:`streams.pipeline.device_rate.DeviceBuckets.admit` passes and refuses for the same
readings in the same order, and leaves every bucket as it leaves it (the same float
operations). A camera with one reading in the batch — the common case, a camera
reports every second or two — is decided in one vectorised step; as a bucket is
sequential, a camera with several readings in the batch has its k-th reading decided
in a k-th step (each vectorised over the cameras with that many readings). Buckets
are bounded as there (least recently seen forgotten first); a
batch that would pass the bound is decided wholly reading by reading, so the order
of forgetting is the same.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from streams.pipeline.columnar.camera_columns import CameraColumns, Floats, Int64s
from streams.pipeline.device_rate import Bucket, Ceiling, take


class CeilingTable:
    """One token bucket per camera (see the module docstring)."""

    def __init__(self, ceiling: Ceiling, max_devices: int = 200_000, capacity: int = 1024) -> None:
        self.ceiling, self.max_devices = ceiling, max_devices
        self.index: dict[str, int] = {}  # camera id → row
        self.tokens: Floats = np.zeros(capacity)
        self.ts: Int64s = np.zeros(capacity, np.int64)
        self.seen: Int64s = np.zeros(capacity, np.int64)  # order of last use, for forgetting
        self.clock = 0
        self.free: list[int] = list(range(capacity - 1, -1, -1))

    def __len__(self) -> int:
        return len(self.index)

    def _grow(self) -> None:
        old = len(self.ts)
        self.tokens = np.concatenate([self.tokens, np.zeros(old)])
        self.ts = np.concatenate([self.ts, np.zeros(old, np.int64)])
        self.seen = np.concatenate([self.seen, np.zeros(old, np.int64)])
        self.free.extend(range(2 * old - 1, old - 1, -1))

    def _new(self, device: str, ts: int) -> int:
        if not self.free:
            self._grow()
        row = self.free.pop()
        self.index[device] = row
        self.tokens[row], self.ts[row] = float(self.ceiling.burst), ts
        return row

    def admit(self, columns: CameraColumns) -> npt.NDArray[np.bool_]:
        """Whether each reading (in order) is within its camera's ceiling."""
        n = len(columns)
        cameras, ts = columns.camera, columns.ts
        found = list(map(self.index.get, cameras))
        if None in found:  # cameras new here: each starts full at its first reading's time
            fresh = {c for c, row in zip(cameras, found, strict=True) if row is None}
            if len(self.index) + len(fresh) > self.max_devices:
                return self._one_by_one(cameras, ts.tolist())
            for i, t in enumerate(ts.tolist()):
                if found[i] is None:
                    row = self.index.get(cameras[i])
                    found[i] = self._new(cameras[i], t) if row is None else row
        rows = np.array(found, np.int64)
        # A camera's readings are decided in their order: its k-th reading of the batch
        # in step k, each step one vectorised update of the buckets of the cameras that
        # have a k-th reading (one step when every camera sent once, the common case).
        order = np.argsort(rows, kind="stable")
        grouped = rows[order]
        starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
        rank = np.empty(n, np.int64)
        rank[order] = np.arange(n) - np.repeat(starts, np.diff(np.r_[starts, n]))
        by_rank = np.argsort(rank, kind="stable")
        passed = np.zeros(n, np.bool_)
        begin = 0
        for end in np.cumsum(np.bincount(rank)).tolist():
            step = by_rank[begin:end]
            passed[step] = self._step(rows[step], ts[step])
            begin = end
        self.seen[rows] = self.clock + np.arange(n)  # the last use of a row wins
        self.clock += n
        return passed

    def _step(self, rows: Int64s, ts: Int64s) -> npt.NDArray[np.bool_]:
        """One reading stamped ``ts[i]`` for each (distinct) bucket ``rows[i]``, as
        :func:`streams.pipeline.device_rate.take` decides it, with the same float operations;
        whether each passes."""
        tokens, held_ts = self.tokens[rows], self.ts[rows]
        later = ts > held_ts
        c = self.ceiling
        refilled = np.minimum(float(c.burst), tokens + (ts - held_ts) / 1000 * c.per_s)
        tokens = np.where(later, refilled, tokens)
        ok = tokens >= 1.0
        self.tokens[rows] = np.where(ok, tokens - 1.0, tokens)
        self.ts[rows] = np.where(later, ts, held_ts)
        return ok

    def _one_by_one(self, devices: list[str], ts: list[int]) -> npt.NDArray[np.bool_]:
        """Reading by reading, forgetting the least recently seen past the bound."""
        passed = np.zeros(len(devices), np.bool_)
        for i, (device, t) in enumerate(zip(devices, ts, strict=True)):
            row = self.index.get(device)
            bucket = None if row is None else Bucket(float(self.tokens[row]), int(self.ts[row]))
            bucket, ok = take(bucket, t, self.ceiling)
            if row is None:
                row = self._new(device, t)
            self.tokens[row], self.ts[row] = bucket.tokens, bucket.ts
            self.seen[row] = self.clock
            self.clock += 1
            passed[i] = ok
            if len(self.index) > self.max_devices:
                self._forget_oldest()
        return passed

    def _forget_oldest(self) -> None:
        rows = np.array(list(self.index.values()), np.int64)
        oldest = int(rows[np.argmin(self.seen[rows])])
        device = next(d for d, row in self.index.items() if row == oldest)
        del self.index[device]
        self.free.append(oldest)

    def bucket(self, camera: str) -> Bucket | None:
        """A camera's bucket as the scalar path holds it (for tests and inspection)."""
        row = self.index.get(camera)
        return None if row is None else Bucket(float(self.tokens[row]), int(self.ts[row]))
