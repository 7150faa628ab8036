"""Place names over HTTP, and on every alert (geo/placename.py).

* ``GET /api/places?cells=<h3>,<h3>,…`` (at most :data:`MAX_CELLS`, the heatmap's
  resolution) — ``{"places": {cell: place}}``, each ``place`` as in docs/protocol.md;
* ``GET /api/places/search?q=<text>&limit=<n>`` — zones, streets, landmarks and districts
  whose Chinese or English name holds ``q``: ``{"query", "matches": [...]}``.

:meth:`PlaceRoutes.name_alert` adds ``place`` to an alert before the web server stores
and broadcasts it, so the list, the detail and the desks read it with the alert.
"""

from __future__ import annotations

from typing import Any, Final

from aiohttp import web

from geo.cells import is_cell
from geo.placename import PlaceNamer
from web.guard import ApiError, requires
from web.params import integer
from web.routes import json_response

MAX_CELLS: Final = 200
MAX_QUERY_CHARS: Final = 64
MAX_MATCHES: Final = 50


class PlaceRoutes:
    """The place-name endpoints over one :class:`PlaceNamer` (viewer role)."""

    def __init__(self, namer: PlaceNamer) -> None:
        self.namer = namer

    def routes(self, app: web.Application) -> None:
        viewer = requires("viewer")
        app.router.add_get("/api/places", viewer(self.get_places))
        app.router.add_get("/api/places/search", viewer(self.get_search))

    def name_alert(self, alert: dict[str, Any]) -> dict[str, Any]:
        """``alert`` with ``place`` (its anchor cell's); unchanged when its cell is not a
        cell at the namer's resolution (an alert from a worker set up otherwise)."""
        cell = alert.get("cell")
        if not self._valid(cell):
            return alert
        return {**alert, "place": self.namer.at_cell(str(cell)).to_dict()}

    def _valid(self, cell: object) -> bool:
        return is_cell(cell, self.namer.resolution)

    async def get_places(self, request: web.Request) -> web.Response:
        raw = request.query.get("cells", "")
        cells = [c for c in raw.split(",") if c]
        if not cells:
            raise ApiError(400, "give cells=<h3>,<h3>,… (H3 cell ids)")
        if len(cells) > MAX_CELLS:
            raise ApiError(400, f"at most {MAX_CELLS} cells per request")
        bad = [c for c in cells if not self._valid(c)]
        if bad:
            raise ApiError(
                400,
                f"not H3 cells at resolution {self.namer.resolution}: {', '.join(bad[:5])}",
            )
        places = {c: self.namer.at_cell(c).to_dict() for c in cells}
        return json_response({"places": places})

    async def get_search(self, request: web.Request) -> web.Response:
        query = request.query.get("q", "").strip()
        if not query or len(query) > MAX_QUERY_CHARS:
            raise ApiError(400, f"give q=<1 to {MAX_QUERY_CHARS} characters>")
        limit = integer(request.query.get("limit", "10"), 1, MAX_MATCHES)
        if limit is None:
            raise ApiError(400, f"limit must be 1 to {MAX_MATCHES}")
        matches = self.namer.search(query, limit)
        return json_response({"query": query, "matches": [m.to_dict() for m in matches]})
