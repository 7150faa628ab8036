"""Failed sign-ins per caller address, and when an address must wait (pure: no I/O, no
clock of its own).

A request that presents a token the server does not know is a failed sign-in. Tokens
are long random strings, so many failures from one address are someone guessing, or a
screen with a stale token hammering the server; either way the address is refused for
a while before its tokens are even looked at. A :class:`SigninPolicy` allows
``max_failures`` failures within any ``window_s`` seconds; the failure that goes past
that starts a lockout of ``lockout_s`` seconds, during which every request from the
address that presents a token is refused (429 with ``Retry-After``), valid token or not
(a guesser that hit one must not learn it). Other addresses are not affected; requests
without a token keep their own rate limits.

Times are seconds on a monotonic clock, passed in by the caller.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from web.ratelimit import RecentKeys


@dataclass(frozen=True, slots=True)
class SigninPolicy:
    """``max_failures`` within ``window_s`` seconds are tolerated; one more locks the
    address out for ``lockout_s`` seconds."""

    max_failures: int
    window_s: float
    lockout_s: float

    def __post_init__(self) -> None:
        if self.max_failures < 1:
            raise ValueError(f"max_failures must be at least 1, got {self.max_failures!r}")
        for name in ("window_s", "lockout_s"):
            value = getattr(self, name)
            if not (value > 0 and math.isfinite(value)):
                raise ValueError(f"{name} must be a positive number of seconds, got {value!r}")


@dataclass(frozen=True, slots=True)
class Failures:
    """One address's recent failures (monotonic seconds, oldest first, at most
    ``max_failures`` of them) and the end of its lockout (0: none)."""

    times: tuple[float, ...] = ()
    locked_until_s: float = 0.0


def wait_s(failures: Failures, now_s: float) -> float:
    """Seconds until the address may present a token again; 0 when it may now."""
    return max(0.0, failures.locked_until_s - now_s)


def failed(failures: Failures, policy: SigninPolicy, now_s: float) -> Failures:
    """``failures`` after one more failure at ``now_s``: locked out when this one makes
    more than ``max_failures`` within the window (the lockout then starts afresh and the
    count with it)."""
    recent = (*(t for t in failures.times if now_s - t < policy.window_s), now_s)
    if len(recent) > policy.max_failures:
        return Failures((), now_s + policy.lockout_s)
    return Failures(recent, failures.locked_until_s)


class FailureLog:
    """:class:`Failures` per caller address under one policy, for at most ``max_keys``
    addresses (beyond that the least recently failing is forgotten, so memory stays
    bounded whatever the number of addresses)."""

    def __init__(self, policy: SigninPolicy, max_keys: int = 10_000) -> None:
        self.policy = policy
        self._entries: RecentKeys[Failures] = RecentKeys(max_keys)

    @property
    def max_keys(self) -> int:
        return self._entries.max_keys

    def __len__(self) -> int:
        return len(self._entries)

    def wait_s(self, key: str, now_s: float) -> float:
        """Seconds ``key`` must still wait before presenting a token; 0 when it need not."""
        entry = self._entries.get(key)
        return 0.0 if entry is None else wait_s(entry, now_s)

    def fail(self, key: str, now_s: float) -> bool:
        """Record a failed sign-in of ``key`` at ``now_s``; True when it is now locked out."""
        entry = failed(self._entries.get(key) or Failures(), self.policy, now_s)
        self._entries.store(key, entry)  # most recently failing last
        return wait_s(entry, now_s) > 0
