"""Per-cell "usual for this hour of the week" baselines, and how far a value strays.

Each cell keeps, for every hour-of-week slot it has seen (0 = Monday
00:00–01:00 local time, 167 = Sunday 23:00–24:00; China Standard Time, UTC+8,
by default), an exponentially weighted mean and variance of a metric (usually
density, persons/m²). The update is the standard incremental form given by
T. Finch, *Incremental calculation of weighted mean and variance* (University
of Cambridge, 2009, section on the exponentially weighted moving variance)::

    diff = x − mean
    incr = α · diff
    mean = mean + incr
    var  = (1 − α) · (var + diff · incr)

The first sample of a slot sets ``mean = x`` and ``var = 0``. A value is scored
as a z-score against its slot, and :func:`anomaly_component` turns z into a
[0, 1) term for the noisy-OR risk score.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, replace
from itertools import pairwise
from typing import Any

MS_PER_HOUR = 3_600_000
HOURS_PER_WEEK = 168
#: 1970-01-01 (epoch day 0) was a Thursday: 3 days after Monday.
_EPOCH_WEEKDAY = 3
_FORMAT = 1
_BELOW_ONE = math.nextafter(1.0, 0.0)


def hour_of_week(ts_ms: int, utc_offset_h: float = 8) -> int:
    """Slot 0..167 of epoch-ms ``ts_ms`` in local time ``utc_offset_h`` hours east of UTC.

    0 is Monday 00:00–01:00 local time, 167 is Sunday 23:00–24:00.
    """
    if not -12 <= utc_offset_h <= 14:
        raise ValueError(f"utc_offset_h must be within [-12, 14], got {utc_offset_h}")
    local_hours = (ts_ms + round(utc_offset_h * MS_PER_HOUR)) // MS_PER_HOUR
    return (local_hours + 24 * _EPOCH_WEEKDAY) % HOURS_PER_WEEK


@dataclass(frozen=True, slots=True)
class Moments:
    """EWMA ``mean`` and ``var`` (value unit, and its square) of ``n`` samples."""

    mean: float
    var: float
    n: int


@dataclass(frozen=True, slots=True)
class Baseline:
    """Hour-of-week slot → :class:`Moments`, only for slots seen, sorted by slot.

    ``last_ts_ms`` is the epoch-ms time of the last sample taken in (for the
    sample interval of :func:`observe`); ``utc_offset_h`` fixes the local time
    the slots are counted in.
    """

    slots: tuple[tuple[int, Moments], ...] = ()
    last_ts_ms: int | None = None
    utc_offset_h: float = 8

    def moments(self, slot: int) -> Moments | None:
        """The slot's moments, or None if it has no sample yet."""
        i = bisect_left(self.slots, slot, key=lambda item: item[0])
        if i < len(self.slots) and self.slots[i][0] == slot:
            return self.slots[i][1]
        return None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able, stable (slots in order) form for table storage."""
        return {
            "format": _FORMAT,
            "utc_offset_h": self.utc_offset_h,
            "last_ts_ms": self.last_ts_ms,
            "slots": [[s, m.mean, m.var, m.n] for s, m in self.slots],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Baseline:
        """Inverse of :meth:`to_dict`; raises ``ValueError`` on malformed data."""
        if not isinstance(data, Mapping):
            raise ValueError(f"baseline: expected a mapping, got {type(data).__name__}")
        if set(data) != {"format", "utc_offset_h", "last_ts_ms", "slots"}:
            raise ValueError(f"baseline: unexpected keys {sorted(data)}")
        if data["format"] != _FORMAT:
            raise ValueError(f"baseline: unknown format {data['format']!r}")
        offset, last = data["utc_offset_h"], data["last_ts_ms"]
        if isinstance(offset, bool) or not isinstance(offset, int | float):
            raise ValueError(f"baseline.utc_offset_h: expected a number, got {offset!r}")
        hour_of_week(0, offset)  # validates the range
        if last is not None and (isinstance(last, bool) or not isinstance(last, int)):
            raise ValueError(f"baseline.last_ts_ms: expected an integer or null, got {last!r}")
        if not isinstance(data["slots"], list | tuple):
            raise ValueError(f"baseline.slots: expected a list, got {data['slots']!r}")
        slots = tuple(_slot_from_list(item) for item in data["slots"])
        if any(b[0] <= a[0] for a, b in pairwise(slots)):
            raise ValueError("baseline.slots: slots must increase strictly")
        return cls(slots, last, offset)


def _slot_from_list(item: object) -> tuple[int, Moments]:
    if not isinstance(item, list | tuple) or len(item) != 4:
        raise ValueError(f"baseline.slots: expected [slot, mean, var, n], got {item!r}")
    slot, mean, var, n = item
    ints_ok = all(isinstance(x, int) and not isinstance(x, bool) for x in (slot, n))
    nums_ok = all(
        isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)
        for x in (mean, var)
    )
    if not (ints_ok and nums_ok and 0 <= slot < HOURS_PER_WEEK and var >= 0 and n >= 1):
        raise ValueError(f"baseline.slots: invalid entry {item!r}")
    return slot, Moments(float(mean), float(var), n)


def _ewma(old: Moments | None, value: float, alpha: float) -> Moments:
    if old is None:
        return Moments(value, 0.0, 1)
    diff = value - old.mean
    incr = alpha * diff
    return Moments(old.mean + incr, (1.0 - alpha) * (old.var + diff * incr), old.n + 1)


def update(baseline: Baseline, ts_ms: int, value: float, *, alpha: float) -> Baseline:
    """Fold ``value`` (taken at epoch-ms ``ts_ms``) into its hour-of-week slot.

    ``alpha`` in (0, 1] is the weight of the new sample (Finch's EWMA form).
    """
    if not 0 < alpha <= 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    if not math.isfinite(value):
        raise ValueError(f"value must be finite, got {value!r}")
    slot = hour_of_week(ts_ms, baseline.utc_offset_h)
    moments = _ewma(baseline.moments(slot), float(value), alpha)
    others = tuple(item for item in baseline.slots if item[0] != slot)
    slots = tuple(sorted((*others, (slot, moments)), key=lambda item: item[0]))
    last = ts_ms if baseline.last_ts_ms is None else max(ts_ms, baseline.last_ts_ms)
    return replace(baseline, slots=slots, last_ts_ms=last)


def anomaly(
    baseline: Baseline, ts_ms: int, value: float, *, min_samples: int, min_sd: float
) -> float | None:
    """z-score of ``value`` against the mean and deviation of its slot.

    None until the slot holds ``min_samples`` samples. The deviation is floored
    at ``min_sd`` (value unit) so a constant history gives a finite z. Score a
    value *before* folding it in with :func:`update`.
    """
    if not min_sd > 0:
        raise ValueError(f"min_sd must be > 0, got {min_sd}")
    if not math.isfinite(value):
        raise ValueError(f"value must be finite, got {value!r}")
    moments = baseline.moments(hour_of_week(ts_ms, baseline.utc_offset_h))
    if moments is None or moments.n < max(min_samples, 1):
        return None
    return (value - moments.mean) / max(math.sqrt(moments.var), min_sd)


def anomaly_component(z: float, *, half_at: float = 3.0) -> float:
    """Map a z-score to [0, 1): 0 for z ≤ 1, then ``u / (u + (half_at − 1)²)``, u = (z − 1)².

    Smooth (zero slope at z = 1), non-decreasing, 0.5 at ``z = half_at``, 0.2 at
    z = 2 and 0.8 at z = 5 with the default; kept below 1 so it never decides a
    noisy-OR score on its own. Only unusually *high* values count.
    """
    if math.isnan(z):
        raise ValueError("z must not be NaN")
    if not half_at > 1:
        raise ValueError(f"half_at must be > 1, got {half_at}")
    if z <= 1:
        return 0.0
    ratio = (half_at - 1.0) / (z - 1.0)  # u / (u + c²) = 1 / (1 + (c / (z − 1))²), no overflow
    return min(1.0 / (1.0 + ratio * ratio), _BELOW_ONE)


@dataclass(frozen=True, slots=True)
class BaselineConfig:
    """Baseline settings. ``min_sd`` is in the metric's unit (persons/m² for density).

    A cell contributes at most one sample per ``interval_ms`` (60 s), so a busy
    cell with many cameras does not learn faster than a quiet one. Defaults are
    project choices: ``alpha`` 0.01 remembers roughly the last 100 samples of a
    slot (1–2 weeks of that hour at one sample a minute); 30 samples before
    scoring; ``min_sd`` 0.1 persons/m².
    """

    alpha: float = 0.01
    min_samples: int = 30
    min_sd: float = 0.1
    interval_ms: int = 60_000
    utc_offset_h: float = 8

    def __post_init__(self) -> None:
        if not 0 < self.alpha <= 1:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        if self.min_samples < 1 or self.interval_ms < 0 or not self.min_sd > 0:
            raise ValueError("need min_samples ≥ 1, interval_ms ≥ 0 and min_sd > 0")
        hour_of_week(0, self.utc_offset_h)

    def empty(self) -> Baseline:
        """A baseline with no samples, counting slots in this config's local time."""
        return Baseline(utc_offset_h=self.utc_offset_h)


def observe(baseline: Baseline, ts_ms: int, value: float, config: BaselineConfig) -> Baseline:
    """:func:`update`, unless a sample was taken less than ``interval_ms`` before ``ts_ms``.

    Samples at or before the last one taken are ignored too (late data).
    """
    last = baseline.last_ts_ms
    if last is not None and ts_ms - last < max(config.interval_ms, 1):
        return baseline
    return update(baseline, ts_ms, value, alpha=config.alpha)


def score(baseline: Baseline, ts_ms: int, value: float, config: BaselineConfig) -> float | None:
    """:func:`anomaly` with the settings of ``config``."""
    return anomaly(baseline, ts_ms, value, min_samples=config.min_samples, min_sd=config.min_sd)
