"""Rate of rise of a per-cell value (usually density, persons/m²), as a pure fold.

G. Keith Still (*Introduction to Crowd Science*, 2014, and his crowd-monitoring
advice) stresses watching how fast density *rises*, not only its level: an
inflow that outpaces the outflow must be slowed or stopped early, because a
crowd that is already too dense is far harder to thin out. This module keeps a
short sliding window of samples per cell and fits a least-squares line to it.

Samples are bucketed: one sample per ``bucket_ms`` (buckets aligned to epoch
ms), the newest timestamp in a bucket wins, so a camera sending at 5 Hz weighs
no more than one sending every 10 s. The window is relative to the newest
sample seen: a sample older than ``newest − window_ms`` is dropped or ignored,
so a series holds at most ``ceil(window_ms / bucket_ms) + 1`` samples.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

MS_PER_MIN = 60_000


@dataclass(frozen=True, slots=True)
class Series:
    """Samples ``(ts_ms, value)`` in increasing time order, at most one per bucket.

    ``ts_ms`` is epoch milliseconds; ``value`` is in the caller's unit
    (persons/m² for density).
    """

    samples: tuple[tuple[int, float], ...] = ()

    def to_list(self) -> list[list[float]]:
        """``[[ts_ms, value], ...]``: JSON-able, for a table."""
        return [[ts, value] for ts, value in self.samples]

    @classmethod
    def from_list(cls, data: Sequence[Sequence[float]]) -> Series:
        """Inverse of :meth:`to_list`; raises ``ValueError`` on malformed data."""
        samples: list[tuple[int, float]] = []
        for i, item in enumerate(data):
            if not isinstance(item, list | tuple) or len(item) != 2:
                raise ValueError(f"sample {i}: expected [ts_ms, value], got {item!r}")
            ts, value = item
            if isinstance(ts, bool) or not isinstance(ts, int):
                raise ValueError(f"sample {i}: ts_ms must be an integer, got {ts!r}")
            _check_value(value, f"sample {i}: value")
            if samples and ts <= samples[-1][0]:
                raise ValueError(f"sample {i}: timestamps must increase strictly")
            samples.append((ts, float(value)))
        return cls(tuple(samples))


@dataclass(frozen=True, slots=True)
class RiseConfig:
    """Rate-of-rise settings: times in ms, ``warn_per_min`` in value units per minute.

    Defaults: a 180 s window of 10 s buckets, a slope only once 60 s are
    covered, and a warning at 0.5 persons/m²/min. The warning rate is a project
    choice, not a published figure: at that rate a crowd goes from Still's free
    flow (1/m²) to his moving critical density (4/m²) in about six minutes,
    which leaves a dispatcher time to slow the inflow.
    """

    window_ms: int = 180_000
    bucket_ms: int = 10_000
    min_span_ms: int = 60_000
    warn_per_min: float = 0.5

    def __post_init__(self) -> None:
        _check_window(self.window_ms, self.bucket_ms)
        if not 0 < self.min_span_ms <= self.window_ms:
            raise ValueError(f"min_span_ms must be in (0, window_ms], got {self.min_span_ms}")
        if not (math.isfinite(self.warn_per_min) and self.warn_per_min > 0):
            raise ValueError(f"warn_per_min must be > 0, got {self.warn_per_min}")


def _check_window(window_ms: int, bucket_ms: int) -> None:
    if bucket_ms <= 0 or window_ms < bucket_ms:
        raise ValueError(f"need 0 < bucket_ms ≤ window_ms, got {bucket_ms=} {window_ms=}")


def _check_value(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {value!r}")


def _newer(a: tuple[int, float], b: tuple[int, float]) -> bool:
    """Whether sample ``a`` replaces ``b`` in a bucket: later ts wins; on equal ts, larger value."""
    return a > b


def add(series: Series, ts_ms: int, value: float, *, window_ms: int, bucket_ms: int) -> Series:
    """Fold one sample in; the result is the same whatever order samples arrive in.

    A sample older than ``newest − window_ms`` (newest including this one) is
    ignored, and older samples already held are dropped. Within a bucket the
    sample with the later ``ts_ms`` is kept (on a tie, the larger value, so
    the result does not depend on arrival order).
    """
    _check_window(window_ms, bucket_ms)
    _check_value(value, "value")
    sample = (ts_ms, float(value))
    newest = max(ts_ms, series.samples[-1][0]) if series.samples else ts_ms
    oldest = newest - window_ms
    if ts_ms < oldest:
        return series
    bucket = ts_ms // bucket_ms
    kept: list[tuple[int, float]] = []
    placed = False
    for old in series.samples:
        if old[0] < oldest:
            continue
        if old[0] // bucket_ms == bucket:
            kept.append(sample if _newer(sample, old) else old)
            placed = True
        else:
            kept.append(old)
    if not placed:
        kept.append(sample)
        kept.sort()
    return Series(tuple(kept))


def slope_per_min(series: Series, *, min_span_ms: int) -> float | None:
    """Least-squares slope in value units per minute (persons/m²/min for density).

    None with fewer than 3 samples or when they span less than ``min_span_ms``.
    """
    samples = series.samples
    if len(samples) < 3 or samples[-1][0] - samples[0][0] < min_span_ms:
        return None
    t0 = samples[0][0]
    ts = [(t - t0) / MS_PER_MIN for t, _ in samples]
    vs = [v for _, v in samples]
    t_mean = math.fsum(ts) / len(ts)
    v_mean = math.fsum(vs) / len(vs)
    sxx = math.fsum((t - t_mean) ** 2 for t in ts)
    sxy = math.fsum((t - t_mean) * (v - v_mean) for t, v in zip(ts, vs, strict=True))
    return sxy / sxx


def rise_per_min(series: Series, config: RiseConfig) -> float | None:
    """:func:`slope_per_min` with the settings of ``config``."""
    return slope_per_min(series, min_span_ms=config.min_span_ms)


def is_rising(series: Series, config: RiseConfig) -> bool:
    """Whether the slope is at least ``config.warn_per_min`` (False while unknown)."""
    slope = rise_per_min(series, config)
    return slope is not None and slope >= config.warn_per_min
