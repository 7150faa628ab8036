"""Camera fusion: no double counting of overlapping views, stale cameras flagged."""

from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from alerts.crowd.camera_fusion import fuse

NOW = 1_790_000_000_000
CELL_AREA = 105_000.0


@dataclass(frozen=True)
class Cam:
    camera: str
    people: int
    area_m2: float
    ts: int = NOW
    flow_in: float | None = None
    flow_out: float | None = None


def test_two_cameras_seeing_the_whole_plaza_are_not_added_up() -> None:
    # Both views cover all of a 317 m² plaza, the cell's whole mapped walkable area.
    est = fuse(
        [Cam("a", 634, 317.0), Cam("b", 650, 317.0)],
        now_ms=NOW,
        stale_ms=60_000,
        walkable_m2=317.0,
        cell_area_m2=CELL_AREA,
    )
    assert est is not None
    assert est.density == pytest.approx((634 + 650) / (2 * 317.0))
    assert est.covered_m2 == pytest.approx(317.0)
    assert est.people == pytest.approx(est.density * 317.0)  # ~642, not 1284
    assert est.walkable_from_layer and est.exceeds_layer == ()


def test_a_layer_never_shrinks_a_cameras_area_but_flags_it() -> None:
    # The layer maps only a 20 m² sliver of the cell; the camera sees 400 m² of ground.
    est = fuse(
        [Cam("a", 400, 400.0)], now_ms=NOW, stale_ms=60_000, walkable_m2=20.0, cell_area_m2=1e5
    )
    assert est is not None
    assert est.density == pytest.approx(1.0)  # not 400 / 20
    assert est.exceeds_layer == ("a",) and est.walkable_m2 == pytest.approx(400.0)


def test_without_a_layer_coverage_is_the_union_estimate_of_the_views() -> None:
    est = fuse(
        [Cam("a", 100, 400.0), Cam("b", 300, 400.0)],
        now_ms=NOW,
        stale_ms=60_000,
        walkable_m2=None,
        cell_area_m2=CELL_AREA,
    )
    assert est is not None
    assert est.density == pytest.approx(0.5)
    assert est.density_max == pytest.approx(0.75)
    expected_union = CELL_AREA * (1 - (1 - 400 / CELL_AREA) ** 2)
    assert est.covered_m2 == pytest.approx(expected_union)
    assert est.people == pytest.approx(0.5 * expected_union)
    assert not est.walkable_from_layer


def test_stale_cameras_are_flagged_and_left_out() -> None:
    cams = [Cam("live", 100, 100.0), Cam("old", 900, 100.0, ts=NOW - 61_000)]
    est = fuse(cams, now_ms=NOW, stale_ms=60_000, walkable_m2=None, cell_area_m2=CELL_AREA)
    assert est is not None
    assert est.live == ("live",) and est.stale == ("old",)
    assert est.density == pytest.approx(1.0)
    only_stale = fuse(cams[1:], now_ms=NOW, stale_ms=60_000, walkable_m2=None, cell_area_m2=1e5)
    assert only_stale is None


def test_flow_is_the_busiest_counting_line() -> None:
    cams = [Cam("a", 10, 100.0, flow_in=30, flow_out=10), Cam("b", 10, 100.0, flow_in=5)]
    est = fuse(cams, now_ms=NOW, stale_ms=60_000, walkable_m2=None, cell_area_m2=CELL_AREA)
    assert est is not None and est.flow == 40


cams = st.lists(
    st.builds(
        Cam,
        camera=st.text("abcdef", min_size=1, max_size=3),
        people=st.integers(0, 5_000),
        area_m2=st.floats(1.0, 5_000.0),
    ),
    min_size=1,
    max_size=8,
    unique_by=lambda c: c.camera,
)


@given(cams, st.one_of(st.none(), st.floats(10.0, 50_000.0)))
def test_fused_figures_are_bounded_by_the_cameras(cs: list[Cam], walkable: float | None) -> None:
    est = fuse(cs, now_ms=NOW, stale_ms=60_000, walkable_m2=walkable, cell_area_m2=CELL_AREA)
    assert est is not None
    densities = [c.people / c.area_m2 for c in cs]
    assert min(densities) - 1e-9 <= est.density <= max(densities) + 1e-9
    assert est.density_max == pytest.approx(max(densities))
    biggest = max(c.area_m2 for c in cs)
    reference = max(walkable, biggest) if walkable is not None else CELL_AREA
    areas = [min(c.area_m2, reference) for c in cs]
    # the union is at least the biggest view and at most their sum (and the reference area)
    assert max(areas) - 1e-6 <= est.covered_m2 <= min(sum(areas), reference) + 1e-6
    assert est.people >= est.people_seen - 1e-6
    # people seen never exceed the raw sum of counts (no double counting)
    assert est.people_seen <= sum(c.people for c in cs) + 1e-6
