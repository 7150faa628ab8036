"""Deferred measurement: a worker under a backlog folds records into their cells and
measures each busy cell once per round (streams/worker/app.py). Folding several batches with
``defer`` and measuring their cells in the last call must come to what one call over all
their events gives, and nothing folded may stay unmeasured."""

from __future__ import annotations

from pipeline_kit import BRIDGE, T0, camera, ticket

from streams.pipeline.events import Event
from streams.pipeline.step import process_batch
from streams.pipeline.step_data import Output, PipelineConfig, Stores

CONFIG = PipelineConfig()
NEAR_BRIDGE = (BRIDGE[0] + 0.004, BRIDGE[1] + 0.004)


def call(stores: Stores, events: list[Event], now_s: float, **kw: object) -> Output:
    return process_batch(
        events,
        stores=stores,
        partition=0,
        now_ms=int(T0 + now_s * 1000),
        config=CONFIG,
        **kw,  # type: ignore[arg-type]
    )


def surge() -> list[list[Event]]:
    """Three batches: a crowd building on the bridge, a quieter camera nearby."""
    return [
        [camera(t, 300 + 200 * t), camera(t, 100 + t, "cam-near", NEAR_BRIDGE)] for t in range(3)
    ]


def test_deferred_batches_then_one_measurement_equal_one_call() -> None:
    batches = surge()
    whole = Stores.in_memory()
    expected = call(whole, [e for b in batches for e in b], 3)

    stores = Stores.in_memory()
    waiting: dict[str, None] = {}
    for batch in batches[:-1]:
        out = call(stores, batch, 3, defer=True)
        assert out.cells == {} and out.alerts == {}  # nothing measured, nothing raised
        waiting.update(dict.fromkeys(out.deferred))
    assert set(waiting) == {e.cell for e in batches[0]}
    assert all(stores.cells.get(c).pending for c in waiting)  # type: ignore[union-attr]
    last = call(stores, batches[-1], 3, pending=list(waiting))

    assert last.cells == expected.cells and last.deferred == []
    assert [a.to_dict() for a in last.alerts.values()] == [
        a.to_dict() for a in expected.alerts.values()
    ]
    for cell in waiting:
        assert stores.cells.get(cell) == whole.cells.get(cell)
        assert not stores.cells.get(cell).pending  # type: ignore[union-attr]


def test_a_sweep_measures_cells_left_pending() -> None:
    """A worker that restarts forgets which cells it deferred; the cells remember."""
    stores = Stores.in_memory()
    out = call(stores, [camera(0, 900)], 0, defer=True)
    (cell,) = out.deferred
    swept = call(stores, [], 1, sweep=True)
    assert cell in swept.cells and swept.cells[cell]["density"] > 2
    assert not stores.cells.get(cell).pending  # type: ignore[union-attr]


def test_tickets_in_a_deferred_batch_are_clustered_at_once() -> None:
    stores = Stores.in_memory()
    alerts = {}
    for i in range(6):
        out = call(stores, [ticket(i, i * 10), camera(i * 10, 50)], i * 10, defer=True)
        alerts.update(out.alerts)
        assert camera(0, 0).cell in out.deferred  # the camera's cell waits
    (incident,) = alerts.values()
    assert incident.rule == "hotline.cluster"
    assert incident.evidence["signals"][0]["count"] == 6
