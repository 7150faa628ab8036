"""citybrain.tools.load.probes: end-to-end markers resolved by the cells the map receives."""

from __future__ import annotations

from citybrain.tools.load.probes import ProbeBook


def test_a_marker_resolves_once_its_cell_is_as_new() -> None:
    book = ProbeBook()
    book.add("89a", 1_000, at_s=0.5)
    book.add("89a", 2_000, at_s=1.5)
    book.add("89b", 1_500, at_s=1.0)
    assert (book.sent, book.pending) == (3, 3)
    # an older view of the cell resolves nothing; other cells do not matter
    assert book.observe([("89a", 999), ("89c", 5_000)], received_ms=1_800) == 0
    # a view as new as the first marker resolves it, not the later one
    assert book.observe([("89a", 1_000)], received_ms=1_900) == 1
    assert book.lags == [(0.5, 900.0)]
    # a newer reading (another camera in the cell) resolves what is older than it
    assert book.observe([("89a", 2_500), ("89b", 1_500)], received_ms=2_600.5) == 2
    assert sorted(book.lags) == [(0.5, 900.0), (1.0, 1_100.5), (1.5, 600.5)]
    assert book.pending == 0
    # resolved markers are not resolved twice
    assert book.observe([("89a", 9_999)], received_ms=10_000) == 0
    assert len(book.lags) == 3
