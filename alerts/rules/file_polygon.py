"""Checks of a rule's bounding polygon: GeoJSON Polygon coordinates in WGS-84 degrees.

A polygon is a list of linear rings of ``[lon, lat]`` positions, the outer
boundary first and holes after it; each ring has at least four positions and
ends where it starts. The commonest mistake, ``[lat, lon]``, is named as such.
"""

from __future__ import annotations

from collections.abc import Sequence

from alerts.rules.bounds import MAX_POLYGON_POSITIONS

Loc = tuple[int, ...]


def polygon_problems(rings: Sequence[Sequence[Sequence[float]]]) -> list[tuple[Loc, str]]:
    """(path inside the polygon, message) for every problem; empty when the polygon is sound.

    Positions are ``[lon, lat]`` pairs (their length is checked by the format model); at
    most :data:`MAX_POLYGON_POSITIONS` of them, all rings together, as the crossing check
    is quadratic.
    """
    positions = sum(len(ring) for ring in rings)
    if positions > MAX_POLYGON_POSITIONS:
        message = (
            f"polygon of {positions} positions; at most {MAX_POLYGON_POSITIONS} "
            "(draw the area coarser, or split the rule)"
        )
        return [((), message)]
    problems: list[tuple[Loc, str]] = []
    for r, ring in enumerate(rings):
        for p, (lon, lat) in enumerate(ring):
            if not -90.0 <= lat <= 90.0:
                swap = " (positions are [lon, lat], longitude first)" if abs(lon) <= 90 else ""
                problems.append(((r, p), f"latitude {lat} is outside -90 … 90{swap}"))
            elif not -180.0 <= lon <= 180.0:
                problems.append(((r, p), f"longitude {lon} is outside -180 … 180"))
        if len(ring) < 4:
            problems.append(((r,), f"a polygon ring needs at least 4 positions, got {len(ring)}"))
        elif ring[0] != ring[-1]:
            problems.append(((r, len(ring) - 1), "a polygon ring must end where it starts "
                             f"(repeat {list(ring[0])} at the end)"))  # fmt: skip
    if problems or not rings:
        return problems
    crossing = _self_intersection([[(lon, lat) for lon, lat in ring] for ring in rings])
    if crossing is not None:
        problems.append(((crossing,), "polygon ring crosses itself or another ring"))
    return problems


def _self_intersection(rings: Sequence[Sequence[tuple[float, float]]]) -> int | None:
    """Index of the first ring with an edge crossing a non-adjacent edge, or None.

    Quadratic in the number of edges: scope polygons are hand-written, a few dozen points.
    """
    edges = [
        (r, i, ring[i], ring[i + 1]) for r, ring in enumerate(rings) for i in range(len(ring) - 1)
    ]
    for a in range(len(edges)):
        ra, ia, p1, p2 = edges[a]
        for b in range(a + 1, len(edges)):
            rb, ib, q1, q2 = edges[b]
            if ra == rb and (ib - ia == 1 or (ia == 0 and ib == len(rings[ra]) - 2)):
                continue  # neighbours share an end point
            if _cross(p1, p2, q1, q2):
                return ra if ra == rb else rb
    return None


def _orient(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> float:
    return (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0])


def _cross(
    p1: tuple[float, float],
    p2: tuple[float, float],
    q1: tuple[float, float],
    q2: tuple[float, float],
) -> bool:
    d1, d2 = _orient(q1, q2, p1), _orient(q1, q2, p2)
    d3, d4 = _orient(p1, p2, q1), _orient(p1, p2, q2)
    if ((d1 > 0) != (d2 > 0)) and ((d3 > 0) != (d4 > 0)) and 0 not in (d1, d2, d3, d4):
        return True
    # Touching or collinear overlaps count as crossing: a ring must not touch itself.
    return any(
        d == 0 and _between(a, b, c)
        for d, a, b, c in ((d1, q1, q2, p1), (d2, q1, q2, p2), (d3, p1, p2, q1), (d4, p1, p2, q2))
    )


def _between(a: tuple[float, float], b: tuple[float, float], c: tuple[float, float]) -> bool:
    return min(a[0], b[0]) <= c[0] <= max(a[0], b[0]) and min(a[1], b[1]) <= c[1] <= max(a[1], b[1])
