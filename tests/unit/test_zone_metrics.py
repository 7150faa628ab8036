"""Zone metrics from cells: walkable-area weighting and a monotone zone risk."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.crowd.zone_metrics import ZoneCell, zone_cell_areas, zone_metrics
from geo.cells import cell_of
from geo.zone_index import build_zone_index
from geo.zones import default_zones

INDEX = build_zone_index(default_zones(), 9)
AREAS = zone_cell_areas(INDEX)
BRIDGE_CELL = cell_of(23.0258, 113.1166, 9)


def by_zone(cells: dict[str, ZoneCell]) -> dict:
    return {z.zone: z for z in zone_metrics(INDEX, AREAS, cells)}


def test_the_bridge_deck_takes_its_cells_density() -> None:
    deck = by_zone({BRIDGE_CELL: ZoneCell(density=3.0, trend=0.8, tickets=2)})["tongji-bridge-deck"]
    assert deck.density == pytest.approx(3.0)
    assert deck.walkable_m2 == pytest.approx(316.1, abs=1.0)
    assert deck.people == pytest.approx(3.0 * deck.walkable_m2)
    assert deck.los == "F" and deck.still == "busy" and deck.tickets == 2
    assert deck.risk.factors["rise"] > 0


def test_zones_without_live_cells_are_left_out() -> None:
    assert by_zone({}) == {}


def test_a_street_over_several_cells_is_weighted_by_its_own_area() -> None:
    zone = max(INDEX.cells_of_zone, key=lambda z: len(INDEX.cells_of_zone[z]))
    cells = INDEX.cells_of_zone[zone]
    assert len(cells) >= 2
    dens = {c: float(i + 1) for i, c in enumerate(cells)}
    fig = by_zone({c: ZoneCell(density=d) for c, d in dens.items()})[zone]
    expected = sum(AREAS[zone][c] * d for c, d in dens.items()) / sum(AREAS[zone].values())
    assert fig.density == pytest.approx(expected)


@given(st.floats(0, 10), st.floats(0, 10), st.integers(0, 20), st.integers(0, 3))
def test_zone_risk_never_decreases_when_a_cells_density_rises(
    a: float, b: float, tickets: int, alarms: int
) -> None:
    lo, hi = sorted((a, b))
    low = by_zone({BRIDGE_CELL: ZoneCell(lo, None, alarms, 0, tickets)})
    high = by_zone({BRIDGE_CELL: ZoneCell(hi, None, alarms, 0, tickets)})
    for zone, fig in low.items():
        assert fig.risk.score <= high[zone].risk.score
