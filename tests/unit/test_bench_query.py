"""The spatial-query benchmark, small: every shape and size is queried, through the API's
own code, and answers grow with the area asked about. No timing is checked."""

from __future__ import annotations

import random

from citybrain.tools.bench.query import CIRCLES, POLYGONS, polygon_around, query_markdown, run
from web.query_api import parse_query


def test_a_small_run_covers_every_shape_and_size() -> None:
    rows, built_s, cells = run(features=3000, per_size=3)
    assert [(r.shape, r.size) for r in rows] == [
        *(("circle", label) for label, _ in CIRCLES),
        *(("polygon", label) for label, _ in POLYGONS),
    ]
    assert all(r.n == 3 and 0 < r.p50_ms <= r.p99_ms <= r.max_ms for r in rows)
    circles = [r.inside for r in rows if r.shape == "circle"]
    assert circles[-1] > circles[0]  # 5 km holds more than 200 m
    assert built_s > 0 and cells > 0
    assert query_markdown(rows).count("\n") == 2 + len(rows)


def test_the_polygons_are_accepted_by_the_api_even_at_the_largest_size() -> None:
    rng = random.Random(1)
    largest = POLYGONS[-1][1]
    for _ in range(50):
        region = parse_query({"geometry": polygon_around(23.02, 113.1, largest, rng)})
        assert region.area_m2 <= 50e6
