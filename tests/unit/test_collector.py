"""The worker's collector settings (streams/worker/collector.py)."""

from __future__ import annotations

import gc

from streams.worker.collector import (
    MIDDLE_PER_FULL,
    YOUNG_ALLOCATIONS,
    YOUNG_PER_MIDDLE,
    settle_heap,
)


def test_settle_heap_freezes_the_heap_and_spaces_the_passes_out() -> None:
    before = gc.get_threshold()
    kept = [[i] for i in range(1000)]  # alive at start-up: frozen
    try:
        settle_heap()
        assert gc.get_freeze_count() >= len(kept)
        assert gc.get_threshold() == (YOUNG_ALLOCATIONS, YOUNG_PER_MIDDLE, MIDDLE_PER_FULL)
        # cyclic garbage made afterwards is still collected
        cycle: list[object] = []
        cycle.append(cycle)
        del cycle
        assert gc.collect() >= 1
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
