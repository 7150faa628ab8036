"""The cell view of docs/protocol.md: what ``cells.state`` carries for one cell (edge code)."""

from __future__ import annotations

from typing import Any

from alerts.crowd.cell_metrics import CellMetrics
from geo.cells import cell_center, cell_resolution
from streams.pipeline.cellfold import CellState


def _r(value: float | None, digits: int) -> float | None:
    return round(value, digits) if value is not None else None


def view(state: CellState, m: CellMetrics) -> dict[str, Any]:
    """JSON-ready view of a measured cell (numbers rounded for the wire)."""
    lat, lon = cell_center(state.cell)
    c = m.crowd
    tickets: dict[str, int] = {}
    for t in state.tickets:
        tickets[t.category] = tickets.get(t.category, 0) + 1
    return {
        "cell": state.cell,
        "lat": round(lat, 6),
        "lon": round(lon, 6),
        "resolution": cell_resolution(state.cell),
        "people": round(c.people, 1) if c else None,
        "people_seen": round(c.people_seen, 1) if c else None,
        "area_m2": round(c.walkable_m2, 1) if c else _r(m.context.walkable_m2, 1),
        "walkable_from_layer": c.walkable_from_layer if c else m.context.walkable_m2 is not None,
        "covered_m2": round(c.covered_m2, 1) if c else None,
        "density": _r(c.density, 3) if c else None,
        "density_max": _r(c.density_max, 3) if c else None,
        "los": m.los_walkway,
        "los_queuing": m.los_queuing,
        "still": m.still,
        "crowd_kind": m.context.crowd_kind,
        "trend": m.trend,
        "flow": _r(m.flow, 1),
        "los_flow": m.los_flow,
        "density_z": _r(m.density_z, 2),
        "hotline_z": _r(m.hotline_z, 2),
        "cameras": len(c.live) if c else 0,
        "stale_cameras": list(c.stale) if c else sorted(o.camera for o in state.cameras),
        "sensors": {
            f.type: {"value": f.value, "unit": f.unit, "ts": f.ts, "alarm": f.alarm}
            for f in m.sensors
        },
        "alarms": sum(1 for s in state.sensors if s.alarm),
        "tickets": tickets,
        "tickets_total": len(state.tickets),
        "zones": list(m.context.zones),
        "risk": m.risk.score,
        "factors": m.risk.factors,
        "updated_at": state.updated_at,
    }
