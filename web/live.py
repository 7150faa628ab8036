"""The live view the web server keeps between Kafka and websocket clients (pure).

Cell updates are coalesced: between two broadcasts only the newest view of each
cell is kept, and a cell removed then re-added is sent as added. The Kafka
timestamps of the records merged are kept with them, for the broadcast lag.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import h3

from alerts.crowd.los import LosConfig
from alerts.crowd.zone_metrics import ZoneCell, ZoneFigures
from alerts.rules.vocabulary import SENSOR_CRITICAL
from geo.rollup import CellFigures, rollup
from web.params import integer


@dataclass(slots=True)
class CellDelta:
    """Pending cell changes since the last broadcast."""

    cells: dict[str, dict[str, Any]] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    record_ms: list[int] = field(default_factory=list)  # Kafka timestamps of merged records

    def apply(self, body: dict[str, Any], record_ms: int | None = None) -> None:
        """Merge one ``cells.state`` record body ``{"cells": [...], "removed": [...]}``;
        ``record_ms`` is the record's Kafka timestamp (epoch ms), if it has one."""
        if record_ms is not None and (body.get("cells") or body.get("removed")):
            self.record_ms.append(record_ms)
        for view in body.get("cells", ()):
            self.cells[view["cell"]] = view
            self.removed.discard(view["cell"])
        for cell in body.get("removed", ()):
            self.cells.pop(cell, None)
            self.removed.add(cell)

    def __bool__(self) -> bool:
        return bool(self.cells or self.removed)

    def take(self, server_time: int) -> dict[str, Any]:
        """The ``cells`` message for the pending changes, and reset."""
        return self.take_with_records(server_time)[0]

    def take_with_records(self, server_time: int) -> tuple[dict[str, Any], list[int]]:
        """The ``cells`` message and the Kafka timestamps of the records it carries; reset."""
        msg = {
            "type": "cells",
            "server_time": server_time,
            "cells": list(self.cells.values()),
            "removed": sorted(self.removed),
        }
        records = self.record_ms
        self.cells, self.removed, self.record_ms = {}, set(), []
        return msg, records


def validate_cells_body(body: object) -> dict[str, Any]:
    """Check a ``cells.state`` record; raises ValueError with a reason."""
    if not isinstance(body, dict):
        raise ValueError("cells.state record must be an object")
    cells, removed = body.get("cells", []), body.get("removed", [])
    if not isinstance(cells, list) or not isinstance(removed, list):
        raise ValueError("cells and removed must be arrays")
    for view in cells:
        if not isinstance(view, dict) or not isinstance(view.get("cell"), str):
            raise ValueError("every cell view needs a string 'cell'")
    if not all(isinstance(c, str) for c in removed):
        raise ValueError("removed must hold cell ids")
    return body


def validate_alert(body: object) -> dict[str, Any]:
    """Check an ``alerts`` record; raises ValueError with a reason."""
    if not isinstance(body, dict):
        raise ValueError("alert must be an object")
    for name in ("id", "rule", "severity", "state", "cell"):
        if not isinstance(body.get(name), str):
            raise ValueError(f"alert field {name!r} must be a string")
    return body


def cell_figures(view: dict[str, Any]) -> CellFigures:
    """What a roll-up needs of a cell view (see docs/protocol.md)."""
    return CellFigures(
        cell=view["cell"],
        people=view.get("people"),
        walkable_m2=view.get("area_m2"),
        risk=float(view.get("risk") or 0.0),
        tickets=int(view.get("tickets_total") or 0),
        alarms=int(view.get("alarms") or 0),
    )


def rollup_views(
    views: list[dict[str, Any]], resolution: int, los: LosConfig
) -> list[dict[str, Any]]:
    """Coarse cell views at ``resolution`` from fine cell views (docs/protocol.md)."""
    out = []
    for r in rollup((cell_figures(v) for v in views), resolution).values():
        lat, lon = h3.cell_to_latlng(r.cell)
        out.append(
            {
                "cell": r.cell,
                "lat": round(lat, 6),
                "lon": round(lon, 6),
                "resolution": r.resolution,
                "people": round(r.people, 1),
                "area_m2": round(r.walkable_m2, 1),
                "density": round(r.density, 3) if r.density is not None else None,
                "los": los.walkway.classify(r.density) if r.density is not None else None,
                "risk": round(r.risk, 3),
                "tickets_total": r.tickets,
                "alarms": r.alarms,
                "children": r.children,
            }
        )
    return out


def parse_resolution(query: str, fine: int) -> int | None:
    """``res`` from a query string like ``res=7``: None when absent; ValueError when bad."""
    params = parse_qs(query, keep_blank_values=True)
    values = params.get("res")
    if not values:
        return None
    raw = values[-1]
    res = integer(raw, 0, fine)
    if res is None:
        raise ValueError(f"res must be an integer from 0 to {fine}, got {raw[:20]!r}")
    return res


def zone_cell(view: dict[str, Any]) -> ZoneCell:
    """What zone metrics need of a cell view."""
    sensors = view.get("sensors") or {}
    alarmed = [t for t, s in sensors.items() if isinstance(s, dict) and s.get("alarm")]
    return ZoneCell(
        density=view.get("density"),
        trend=view.get("trend"),
        alarms=len(alarmed),
        critical_alarms=sum(1 for t in alarmed if t in SENSOR_CRITICAL),
        tickets=int(view.get("tickets_total") or 0),
    )


def zone_features(layer: dict[str, Any], figures: list[ZoneFigures]) -> dict[str, Any]:
    """The zone layer's GeoJSON with each zone's live figures in its properties."""
    live = {f.zone: f for f in figures}
    features = []
    for feature in layer["features"]:
        f = live.get(feature["properties"]["id"])
        props = dict(feature["properties"])
        props["live"] = (
            {
                "people": round(f.people, 1) if f.people is not None else None,
                "walkable_m2": round(f.walkable_m2, 1),
                "density": round(f.density, 3) if f.density is not None else None,
                "los": f.los,
                "still": f.still,
                "trend": f.trend,
                "alarms": f.alarms,
                "tickets": f.tickets,
                "risk": f.risk.score,
                "factors": f.risk.factors,
            }
            if f
            else None
        )
        features.append({**feature, "properties": props})
    return {"type": "FeatureCollection", "features": features}
