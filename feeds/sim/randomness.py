"""Deterministic, order-independent randomness for the simulator.

Every random draw is derived from a hash of *what* it is for (seed, device,
tick index, ...), never from a shared generator advanced in call order. So
generating the events of ``[t0, t1)`` in one call or in many sub-intervals
gives identical numbers: the basis of the simulator's splitting guarantee.
"""

from __future__ import annotations

import hashlib
import math
import random
from typing import Final

_MOBILE_PREFIXES: Final = (
    "130", "131", "132", "133", "134", "135", "136", "137", "138", "139",
    "150", "151", "152", "153", "155", "156", "157", "158", "159",
    "166", "173", "176", "177", "178",
    "180", "181", "182", "183", "184", "185", "186", "187", "188", "189",
    "198", "199",
)  # fmt: skip


def rng_for(*parts: object) -> random.Random:
    """A fresh generator seeded from a stable hash of ``parts`` (ints and strings)."""
    text = "\x1f".join(str(p) for p in parts).encode("utf-8")
    digest = hashlib.blake2b(text, digest_size=16).digest()
    return random.Random(int.from_bytes(digest, "big"))


def poisson(rng: random.Random, lam: float) -> int:
    """One Poisson(``lam``) draw by inversion; ``lam`` >= 0, meant for small ``lam``."""
    if lam < 0:
        raise ValueError(f"negative Poisson rate {lam}")
    if lam == 0:
        return 0
    u = rng.random()
    k = 0
    p = math.exp(-lam)
    cumulative = p
    while u > cumulative and k < 10_000:
        k += 1
        p *= lam / k
        cumulative += p
    return k


def mobile_number(rng: random.Random) -> str:
    """A realistic-looking (fake) mainland mobile number, 11 digits, e.g. ``13812345678``."""
    prefix = rng.choice(_MOBILE_PREFIXES)
    return prefix + "".join(str(rng.randrange(10)) for _ in range(8))
