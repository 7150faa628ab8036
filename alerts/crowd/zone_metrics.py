"""Zone metrics: crowd, LOS and risk of a whole zone (bridge, square, grid 网格) from its cells.

The same risk formula as for cells (:mod:`alerts.crowd.risk`) applied to zone-level
inputs, so it is monotone in the same way:

* density = Σ (cell density × zone's walkable m² in that cell) / Σ zone's
  walkable m² in the measured cells — the zone's own walkable area weighs each
  cell, not the cell's;
* trend = the steepest cell trend (a rise anywhere in the zone is the zone's);
* sensor alarms and tickets = sums over the zone's cells.

Per-zone areas come from :func:`zone_cell_areas`, computed once per layer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from alerts.crowd.los import DEFAULT_LOS, LosConfig
from alerts.crowd.risk import Risk, RiskInputs, risk
from geo.cells import cell_polygon
from geo.measure import geodesic_area_m2
from geo.zone_index import ZoneIndex


@dataclass(frozen=True, slots=True)
class ZoneCell:
    """What zone metrics need of one live cell."""

    density: float | None  # persons/m²
    trend: float | None = None  # persons/m² per minute
    alarms: int = 0
    critical_alarms: int = 0
    tickets: int = 0


@dataclass(frozen=True, slots=True)
class ZoneFigures:
    zone: str
    people: float | None  # persons on the zone's walkable area in measured cells
    walkable_m2: float  # m² of the zone inside measured cells
    density: float | None
    los: str | None
    still: str | None
    trend: float | None
    alarms: int
    tickets: int
    risk: Risk


def zone_cell_areas(index: ZoneIndex) -> dict[str, dict[str, float]]:
    """zone id → cell → m² of the zone inside the cell (geodesic)."""
    out: dict[str, dict[str, float]] = {}
    for zone_id, cells in index.cells_of_zone.items():
        geometry = index.zones[zone_id].geometry
        out[zone_id] = {c: geodesic_area_m2(geometry.intersection(cell_polygon(c))) for c in cells}
    return out


def zone_metrics(
    index: ZoneIndex,
    areas: Mapping[str, Mapping[str, float]],
    cells: Mapping[str, ZoneCell],
    los: LosConfig = DEFAULT_LOS,
) -> list[ZoneFigures]:
    """Figures for every zone with at least one live cell, sorted by zone id."""
    out = []
    for zone_id in sorted(index.cells_of_zone):
        live = [(c, cells[c]) for c in index.cells_of_zone[zone_id] if c in cells]
        if not live:
            continue
        zone = index.zones[zone_id]
        measured = [(areas[zone_id].get(c, 0.0), z) for c, z in live if z.density is not None]
        area = sum(a for a, _ in measured)
        people = sum(a * (z.density or 0.0) for a, z in measured) if measured else None
        density = people / area if people is not None and area > 0 else None
        trends = [z.trend for _, z in live if z.trend is not None]
        trend = max(trends) if trends else None
        alarms = sum(z.alarms for _, z in live)
        tickets = sum(z.tickets for _, z in live)
        score = risk(
            RiskInputs(
                density=density,
                sensor_alarms=alarms,
                critical_alarms=sum(z.critical_alarms for _, z in live),
                tickets=tickets,
                trend=trend,
            )
        )
        out.append(
            ZoneFigures(
                zone=zone_id,
                people=people,
                walkable_m2=area,
                density=density,
                los=los.walkway.classify(density) if density is not None else None,
                still=los.still.classify(density, zone.crowd) if density is not None else None,
                trend=trend,
                alarms=alarms,
                tickets=tickets,
                risk=score,
            )
        )
    return out
