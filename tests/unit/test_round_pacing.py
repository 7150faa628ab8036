"""Round pacing: rounds space out when they grow costly, and keep ``round_every_ms`` while
they are cheap; without pacing (the backtest) only ``round_every_ms`` counts."""

from __future__ import annotations

from streams.pipeline.cell_partitions import CellPartitions, RoundPacing
from streams.pipeline.clock import EventClock
from streams.pipeline.columnar.camera_columns import columns_of
from streams.pipeline.lateness import Lateness
from streams.pipeline.step_data import PipelineConfig, Stores
from tests.unit.pipeline_kit import T0, camera

CONFIG = PipelineConfig()


class CostClock:
    """A clock that moves ``cost_s`` between the two reads around each paced step."""

    def __init__(self, cost_s: float) -> None:
        self.cost_s, self.now, self.reads = cost_s, 0.0, 0

    def __call__(self) -> float:
        self.reads += 1
        if self.reads % 2 == 0:
            self.now += self.cost_s
        return self.now


def rounds_at(pacing: RoundPacing | None, every_ms: int = 100) -> list[int]:
    """The wall offsets (ms) of the steps that ran a round: a camera record every 20 ms
    for two seconds."""
    cells = CellPartitions(Stores.in_memory(), None, EventClock(), Lateness(), every_ms, pacing)
    ran = []
    for step in range(100):
        wall = T0 + step * 20
        reading = camera((wall - T0) / 1000, 10 + step % 7)
        stepped = cells.step(
            0, events=[], cameras=columns_of([reading], [0]), wall_ms=wall, config=CONFIG
        )
        if stepped.measured_round:
            ran.append(step * 20)
    return ran


def test_cheap_rounds_keep_their_interval() -> None:
    cheap = rounds_at(RoundPacing(0.1, CostClock(0.002)))  # 2 ms: 20 ms gap < 100 ms
    assert cheap == rounds_at(None) == list(range(0, 2000, 100))


def test_costly_rounds_take_at_most_their_share() -> None:
    costly = rounds_at(RoundPacing(0.1, CostClock(0.030)))  # 30 ms: 300 ms apart
    assert costly == list(range(0, 2000, 300))
    half = rounds_at(RoundPacing(0.5, CostClock(0.030)))  # 60 ms < 100 ms: the interval
    assert half == list(range(0, 2000, 100))


def test_a_sweep_rounds_whatever_the_pacing() -> None:
    cells = CellPartitions(
        Stores.in_memory(), None, EventClock(), Lateness(), 100, RoundPacing(0.1, CostClock(1.0))
    )
    reading = camera(0, 12)
    first = cells.step(0, events=[], cameras=columns_of([reading], [0]), wall_ms=T0, config=CONFIG)
    assert first.measured_round
    soon = cells.step(0, events=[], cameras=None, wall_ms=T0 + 500, config=CONFIG)
    assert not soon.measured_round  # 1 s round at 10 %: the next waits 10 s
    swept = cells.step(0, events=[], cameras=None, wall_ms=T0 + 600, config=CONFIG, sweep=True)
    assert swept.measured_round
