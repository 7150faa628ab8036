"""What anonymous viewers are not shown (pure): grid workers' identities and positions, and
the cameras' stream addresses.

An anonymous viewer (``auth.anonymous_role`` set, no token) sees the heatmap, the
incidents and their evidence as a signed-in viewer does; these functions take the rest out
of the answers it gets (docs/operations.md, "Roles"). Counts stay: how many grid workers or
cameras are near says nothing of who or where.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

PRIVATE_PROPERTIES: Final = frozenset({"stream_url"})
"""Point properties never shown to anonymous viewers."""


def without_private(items: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """``items`` with their private properties taken out."""
    return [{k: v for k, v in item.items() if k not in PRIVATE_PROPERTIES} for item in items]


def public_nearby(body: Mapping[str, Any]) -> dict[str, Any]:
    """A ``GET /api/alerts/{id}/nearby`` answer for an anonymous viewer: cameras without
    stream addresses, no grid workers."""
    return {**body, "cameras": without_private(body["cameras"]), "workers": []}


def public_query(answer: Mapping[str, Any]) -> dict[str, Any]:
    """A ``POST /api/query`` answer for an anonymous viewer: cameras without stream
    addresses, grid workers counted but not listed."""
    cameras, workers = answer["cameras"], answer["workers"]
    return {
        **answer,
        "cameras": {**cameras, "items": without_private(cameras["items"])},
        "workers": {**workers, "items": []},
    }


def public_geojson(collection: Mapping[str, Any]) -> dict[str, Any]:
    """A layer's GeoJSON FeatureCollection with the private properties taken out."""
    features = [
        {**f, "properties": without_private([f.get("properties") or {}])[0]}
        for f in collection["features"]
    ]
    return {**collection, "features": features}
