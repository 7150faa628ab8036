"""Roll-ups to coarser H3 resolutions conserve people and stay consistent with fine cells."""

import h3
import pytest
from hypothesis import given
from hypothesis import strategies as st

from geo.cells import cell_of
from geo.rollup import CellFigures, rollup

BASE = cell_of(23.0258, 113.1166, 9)
NEIGHBOURS = sorted(h3.grid_disk(BASE, 6))

figures = st.lists(
    st.builds(
        CellFigures,
        cell=st.sampled_from(NEIGHBOURS),
        people=st.one_of(st.none(), st.floats(0, 10_000)),
        walkable_m2=st.floats(1, 100_000),
        risk=st.floats(0, 1),
        tickets=st.integers(0, 50),
        alarms=st.integers(0, 5),
    ),
    max_size=40,
    unique_by=lambda f: f.cell,
)


@given(figures, st.sampled_from([5, 6, 7, 8]))
def test_rollups_conserve_people_tickets_and_alarms(cells: list[CellFigures], res: int) -> None:
    out = rollup(cells, res)
    measured = [c for c in cells if c.people is not None]
    assert sum(r.people for r in out.values()) == pytest.approx(sum(c.people for c in measured))
    assert sum(r.tickets for r in out.values()) == sum(c.tickets for c in cells)
    assert sum(r.alarms for r in out.values()) == sum(c.alarms for c in cells)
    assert sum(r.children for r in out.values()) == len(cells)


@given(figures)
def test_coarse_density_lies_between_its_childrens(cells: list[CellFigures]) -> None:
    for parent, r in rollup(cells, 7).items():
        kids = [c for c in cells if h3.cell_to_parent(c.cell, 7) == parent]
        dens = [c.people / c.walkable_m2 for c in kids if c.people is not None]
        if dens:
            assert r.density is not None
            assert min(dens) - 1e-9 <= r.density <= max(dens) + 1e-9
        else:
            assert r.density is None
        assert r.risk == max(c.risk for c in kids)


@given(figures)
def test_rolling_up_in_steps_equals_rolling_up_at_once(cells: list[CellFigures]) -> None:
    direct = rollup(cells, 7)
    via8 = rollup(
        [
            CellFigures(r.cell, r.people, r.walkable_m2, r.risk, r.tickets, r.alarms)
            for r in rollup(cells, 8).values()
        ],
        7,
    )
    assert set(direct) == set(via8)
    for cell, r in direct.items():
        assert via8[cell].people == pytest.approx(r.people)
        assert via8[cell].risk == r.risk


def test_refuses_to_roll_down() -> None:
    with pytest.raises(ValueError, match="finer"):
        rollup([CellFigures(BASE, 1.0, 1.0, 0.0)], 10)
