"""Numbers in query parameters (web/params.py): ASCII digits, bounded, or nothing."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from web.params import MAX_DIGITS, integer


def test_plain_digits_in_range_are_numbers_and_everything_else_is_refused() -> None:
    assert integer("42", 1, 100) == 42
    assert integer("0", 0, 0) == 0
    for bad in ("", " 42", "42 ", "+4", "-4", "4.0", "²", "１２", "٣", "0x10", "1_000", None):
        assert integer(bad, 0, 10**12) is None, bad
    assert integer("101", 1, 100) is None and integer("0", 1, 100) is None
    assert integer("9" * 5000, 0, 10**20) is None  # refused before int() is asked
    assert integer("1" * MAX_DIGITS, 0, 10**MAX_DIGITS) == int("1" * MAX_DIGITS)


@given(st.text(max_size=30))
def test_any_text_gives_an_integer_in_range_or_none(raw: str) -> None:
    got = integer(raw, 5, 500)
    assert got is None or (5 <= got <= 500 and raw == str(got).zfill(len(raw)))
