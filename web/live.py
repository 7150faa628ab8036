"""The live view the web server keeps between Kafka and websocket clients (pure).

Cell updates are coalesced: between two broadcasts only the newest view of each
cell is kept, and a cell removed then re-added is sent as added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class CellDelta:
    """Pending cell changes since the last broadcast."""

    cells: dict[str, dict[str, Any]] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)

    def apply(self, body: dict[str, Any]) -> None:
        """Merge one ``cells.state`` record body ``{"cells": [...], "removed": [...]}``."""
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
        msg = {
            "type": "cells",
            "server_time": server_time,
            "cells": list(self.cells.values()),
            "removed": sorted(self.removed),
        }
        self.cells, self.removed = {}, set()
        return msg


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
