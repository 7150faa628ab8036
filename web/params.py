"""Numbers in query parameters, parsed strictly (pure).

Only ASCII digits count: ``str.isdigit`` also takes "²" (which ``int`` then refuses)
and full-width "１２" (which ``int`` quietly reads as 12), and a 5,000-digit number makes
``int`` raise. Every endpoint reads its numeric parameters through :func:`integer` and
answers 400 with its own message when it gives None.
"""

from __future__ import annotations

import re
from typing import Final

MAX_DIGITS: Final = 16
"""Longer numbers are refused before they are converted (epoch ms have 13 digits)."""

_DIGITS: Final = re.compile(rf"[0-9]{{1,{MAX_DIGITS}}}")


def integer(raw: str | None, low: int, high: int) -> int | None:
    """``raw`` as an integer from ``low`` to ``high``; None when it is missing, not plain
    ASCII digits (no sign, no spaces), longer than :data:`MAX_DIGITS` or out of range."""
    if raw is None or _DIGITS.fullmatch(raw) is None:
        return None
    value = int(raw)
    return value if low <= value <= high else None


EPOCH_MS_MAX: Final = 10**MAX_DIGITS - 1
"""The largest time in epoch ms a parameter may name (far beyond any real one)."""
