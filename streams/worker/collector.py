"""The worker's garbage collector (edge): what it is told once at start-up.

CPython's cyclic collector runs a young-generation pass every 700 net allocations of
container objects, and older passes after every 10 younger ones. The hot path makes
short-lived containers by the thousand per fetch (decoded readings, lists of ids) while
the worker holds a large long-lived heap (modules, rule sets, zone layers, tables), so
with the defaults the collector took about a third of the worker's CPU in
``citybrain bench throughput`` (docs/benchmarks.md, "The collector"). Reference
counting frees nearly everything the hot path makes; the cyclic passes find next to
nothing there.

So the worker (:func:`settle_heap`):

* moves everything alive after start-up into the permanent generation
  (:func:`gc.freeze`), so no pass walks it again;
* runs young passes every :data:`YOUNG_ALLOCATIONS` allocations, and the older ones
  less often. Cyclic garbage is still collected, later and in fewer passes.
"""

from __future__ import annotations

import gc

#: Net container allocations between two young-generation passes (CPython's: 700).
YOUNG_ALLOCATIONS = 20_000
#: Young passes between two middle-generation passes (CPython's: 10).
YOUNG_PER_MIDDLE = 50
#: Middle passes between two full passes (CPython's: 10; CPython also waits for the
#: long-lived heap to have grown by a quarter).
MIDDLE_PER_FULL = 100


def settle_heap() -> None:
    """Collect once, freeze what survives, and space the passes out (see the module
    docstring). Call once, after start-up and before the first record."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(YOUNG_ALLOCATIONS, YOUNG_PER_MIDDLE, MIDDLE_PER_FULL)
