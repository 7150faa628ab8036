"""Recompute the derived rows of ``foshan_gazetteer.csv``.

Run from the repository root: ``python -m geo.data.build_gazetteer`` rewrites
the file in place; with ``--check`` it only says whether the file is up to date
(exit status 1 if not). Every other row is kept by hand and left as it is,
``name_en`` included.

Derived rows:

* ``source=boundary``: the city and its five districts, from the GCJ-02
  outlines in ``foshan_admin.gcj02.geojson`` converted to WGS-84 by
  :func:`geo.district.load_district`. The point is the outline's centroid
  (checked to lie inside it); ``uncertainty_m`` is the largest geodesic distance
  from that point to the outline, rounded up to 100 m, so the circle covers the
  whole area. Their English ``name_en`` comes from :data:`ADMIN_NAMES_EN`.
* ``source=gcj02:…``: published coordinates known to be GCJ-02
  (:data:`GCJ02_READINGS`), converted with :func:`geo.crs.gcj02_to_wgs84`.
"""

from __future__ import annotations

import csv
import io
import math
import sys
from pathlib import Path
from typing import Final

import numpy as np
from pyproj import Geod

from geo.crs import gcj02_to_wgs84
from geo.district import District, load_district
from geo.geocode import CSV_FIELDS, GAZETTEER_FILE

CITY_ADCODE: Final = "440600"
DISTRICT_ADCODES: Final = ("440604", "440605", "440606", "440607", "440608")
"""禅城, 南海, 顺德, 三水, 高明."""

ADMIN_NAMES_EN: Final[dict[str, str]] = {
    CITY_ADCODE: "Foshan",
    "440604": "Chancheng District",
    "440605": "Nanhai District",
    "440606": "Shunde District",
    "440607": "Sanshui District",
    "440608": "Gaoming District",
}
"""English name of the city and of each district, by adcode."""

GCJ02_READINGS: Final[dict[str, tuple[float, float, str]]] = {
    # 祖庙: the encyclopedia's 23°02′07″N 113°06′59″E, datum not stated. As GCJ-02
    # it agrees with an independent map reading to ~25 m; as WGS-84 it is ~600 m off.
    "祖庙": (23.035151, 113.116307, "gcj02:encyclopedia"),
}
"""Name -> (lat, lon) in GCJ-02 degrees, and the ``source`` to record."""

GAZETTEER_PATH: Final = Path(__file__).with_name(GAZETTEER_FILE)
_GEOD: Final = Geod(ellps="WGS84")


def covering_radius_m(district: District, lat: float, lon: float) -> float:
    """Largest geodesic distance (m) from WGS-84 ``(lat, lon)`` to a vertex of the outline."""
    coords = np.concatenate(
        [np.asarray(poly.exterior.coords) for poly in district.geometry.geoms], axis=0
    )
    n = len(coords)
    _, _, dist = _GEOD.inv(np.full(n, lon), np.full(n, lat), coords[:, 0], coords[:, 1])
    return float(np.max(dist))


def admin_row(adcode: str) -> dict[str, str]:
    """The gazetteer row of the city or a district ``adcode``, computed from its outline."""
    district = load_district(adcode)
    lat, lon = district.centroid
    if not district.contains(lat, lon):
        raise ValueError(f"{district.name}: centroid outside the outline; pick another point")
    radius = math.ceil(covering_radius_m(district, lat, lon) / 100.0) * 100.0
    level = "city" if adcode == CITY_ADCODE else "district"
    return {
        "name": district.name,
        "name_en": ADMIN_NAMES_EN[adcode],
        "aliases": district.name[:-1],  # 禅城区 -> 禅城, 佛山市 -> 佛山
        "level": level,
        "adcode": adcode,
        "lat": f"{lat:.6f}",
        "lon": f"{lon:.6f}",
        "uncertainty_m": f"{radius:.0f}",
        "source": "boundary",
    }


def render(text: str) -> str:
    """``text`` (the gazetteer CSV) with its derived rows recomputed."""
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != CSV_FIELDS:
        raise ValueError(f"gazetteer header {reader.fieldnames} != {list(CSV_FIELDS)}")
    kept = [row for row in reader if row["source"] != "boundary"]
    for row in kept:
        reading = GCJ02_READINGS.get(row["name"])
        if reading is not None:
            lat, lon = gcj02_to_wgs84(reading[0], reading[1])
            row.update(lat=f"{lat:.6f}", lon=f"{lon:.6f}", source=reading[2])
    rows = [admin_row(CITY_ADCODE), *(admin_row(a) for a in DISTRICT_ADCODES), *kept]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def main(argv: list[str]) -> int:
    """Rewrite the gazetteer, or with ``--check`` report whether it is current."""
    current = GAZETTEER_PATH.read_text(encoding="utf-8")
    rebuilt = render(current)
    if "--check" in argv:
        if rebuilt != current:
            print(f"{GAZETTEER_PATH} is out of date: run python -m geo.data.build_gazetteer")
            return 1
        return 0
    GAZETTEER_PATH.write_text(rebuilt, encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
