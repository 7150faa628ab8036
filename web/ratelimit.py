"""Token-bucket rate limits (pure: no I/O, no clock of its own).

A :class:`Budget` allows a caller ``burst`` requests at once and ``rate_per_s``
requests per second on average: each caller has a bucket of at most ``burst``
tokens that refills at ``rate_per_s`` tokens per second, and every granted
request takes one token. Over any interval of ``t`` seconds a caller is granted
at most ``burst + rate_per_s × t`` requests; a caller that keeps within that
(for instance one request every ``1 / rate_per_s`` seconds) is never refused.

Times are seconds on a monotonic clock, passed in by the caller, so the
behaviour is exact and testable without sleeping.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

#: Tolerance for float rounding, in tokens, besides the clock's own (see :func:`take`).
_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Budget:
    """``burst`` requests at once, ``rate_per_s`` requests per second on average."""

    rate_per_s: float
    burst: int

    def __post_init__(self) -> None:
        if not (self.rate_per_s > 0 and math.isfinite(self.rate_per_s)):
            raise ValueError(f"rate_per_s must be a positive number, got {self.rate_per_s!r}")
        if self.burst < 1:
            raise ValueError(f"burst must be at least 1, got {self.burst!r}")


@dataclass(frozen=True, slots=True)
class Bucket:
    """A caller's tokens as of ``at_s`` (monotonic seconds)."""

    tokens: float
    at_s: float


@dataclass(frozen=True, slots=True)
class Decision:
    """Whether a request is granted; if not, ``retry_after_s`` until one would be."""

    granted: bool
    retry_after_s: float = 0.0

    @property
    def retry_after_header(self) -> str:
        """``Retry-After`` in whole seconds (HTTP allows no fractions), at least 1."""
        return str(max(1, math.ceil(self.retry_after_s)))


def share(budget: Budget, replicas: int) -> Budget:
    """One of ``replicas`` web servers' part of ``budget``: the rate divided, the burst
    divided rounding down (at least 1), so that a caller spread over every replica gets
    no more than ``budget`` in all. Budgets are kept per process, not shared (a shared
    store would put a round trip on every request); ``web.replicas`` says how many."""
    if replicas < 1:
        raise ValueError(f"replicas must be at least 1, got {replicas!r}")
    return Budget(budget.rate_per_s / replicas, max(1, budget.burst // replicas))


def full(budget: Budget, now_s: float) -> Bucket:
    """The bucket of a caller not seen before (or idle long enough to have refilled)."""
    return Bucket(float(budget.burst), now_s)


def refilled(bucket: Bucket, budget: Budget, now_s: float) -> Bucket:
    """``bucket`` as of ``now_s``; a clock reading earlier than the bucket's adds nothing."""
    elapsed = max(0.0, now_s - bucket.at_s)
    tokens = min(float(budget.burst), bucket.tokens + elapsed * budget.rate_per_s)
    return Bucket(tokens, max(now_s, bucket.at_s))


def take(bucket: Bucket, budget: Budget, now_s: float) -> tuple[Bucket, Decision]:
    """Try to take one token at ``now_s``: the new bucket and the decision."""
    current = refilled(bucket, budget, now_s)
    # A bucket short of a whole token by no more than the clock's rounding (a few units in
    # the last place of now_s, times the rate) still grants: requests spaced exactly
    # 1 / rate apart, as floats, must never be refused.
    tolerance = _EPSILON + 4 * math.ulp(now_s) * budget.rate_per_s
    if current.tokens >= 1.0 - tolerance:
        return Bucket(max(0.0, current.tokens - 1.0), current.at_s), Decision(True)
    wait = (1.0 - current.tokens) / budget.rate_per_s
    return current, Decision(False, wait)


V = TypeVar("V")


class RecentKeys(Generic[V]):
    """A value per key for at most ``max_keys`` keys, the most recently stored last:
    beyond ``max_keys`` the least recently stored key is forgotten, so memory stays
    bounded whatever the number of callers."""

    def __init__(self, max_keys: int = 10_000) -> None:
        if max_keys < 1:
            raise ValueError(f"max_keys must be at least 1, got {max_keys}")
        self.max_keys = max_keys
        self._values: OrderedDict[str, V] = OrderedDict()

    def __len__(self) -> int:
        return len(self._values)

    def get(self, key: str) -> V | None:
        """``key``'s value, or None; does not count as a use."""
        return self._values.get(key)

    def store(self, key: str, value: V) -> None:
        """Set ``key``'s value and make it the most recent, forgetting the least recent
        key beyond ``max_keys``."""
        self._values.pop(key, None)
        self._values[key] = value
        if len(self._values) > self.max_keys:
            self._values.popitem(last=False)


class BucketStore:
    """One bucket per caller key under one :class:`Budget`, for at most ``max_keys`` callers.

    Beyond ``max_keys`` the least recently seen caller is forgotten (it starts again
    with a full bucket), so memory stays bounded whatever the number of addresses.
    """

    def __init__(self, budget: Budget, max_keys: int = 10_000) -> None:
        self.budget = budget
        self._buckets: RecentKeys[Bucket] = RecentKeys(max_keys)

    @property
    def max_keys(self) -> int:
        return self._buckets.max_keys

    def __len__(self) -> int:
        return len(self._buckets)

    def take(self, key: str, now_s: float) -> Decision:
        """Take one token from ``key``'s bucket at ``now_s`` (monotonic seconds)."""
        bucket = self._buckets.get(key) or full(self.budget, now_s)
        bucket, decision = take(bucket, self.budget, now_s)
        self._buckets.store(key, bucket)  # most recently seen last
        return decision
