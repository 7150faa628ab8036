"""The rule vocabulary, as data: every metric a rule may name, with its subject, kind and unit.

The pipeline computes exactly these names; a rule file may use nothing else. A
metric belongs to one *subject*, the thing it is measured on:

* ``cell`` — one H3 cell (densities per m² of *walkable* area, not the hexagon's);
* ``sensor`` — one cell and one sensor type (the freshest reading of that type);
* ``hotline`` — a cluster of tickets of one category in an H3 neighbourhood;
* ``zone`` — one zone of the zone layer (a bridge, a square, …).

Units are written in their canonical form (``persons/m2``) but rule files may
use any alias (``persons/m²``, ``人/m²``); :func:`canonical_unit` maps one to
the other. Levels are ordered lowest first, so rules compare them by rank.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final, Literal

Subject = Literal["cell", "sensor", "hotline", "zone"]
Kind = Literal["number", "level", "bool"]

#: Fruin's level of service letters, best first.
LOS_LEVELS: Final = ("A", "B", "C", "D", "E", "F")
#: G. K. Still's crowd states, calmest first.
STILL_LEVELS: Final = ("free", "busy", "critical", "dangerous")

#: Canonical unit -> aliases accepted in rule files. Matching ignores case and spaces
#: and reads ² as 2 (see :func:`canonical_unit`).
UNITS: Final[Mapping[str, tuple[str, ...]]] = MappingProxyType(
    {
        "persons/m2": ("persons/m²", "person/m2", "人/m²", "人/平方米"),
        "persons/m2/min": ("persons/m²/min", "人/m²/min", "人/平方米/分钟"),
        "persons/m/min": ("person/m/min", "人/m/min", "人/米/分钟"),
        "persons": ("person", "people", "人"),
        "m2": ("m²", "平方米"),
        "sigma": ("σ", "sd"),
        "1": (),
        "count": ("cameras", "camera"),
        "tickets": ("ticket", "件"),
        "%obs/m": (),
        "%LEL": (),
        "m": ("metre", "meter", "米"),
        "°C": ("degC", "℃", "摄氏度"),
        "dB(A)": ("dBA",),
    }
)

#: Sensor type -> the canonical unit of its ``sensor_value``.
SENSOR_UNITS: Final[Mapping[str, str]] = MappingProxyType(
    {
        "smoke": "%obs/m",  # optical smoke obscuration
        "gas": "%LEL",  # share of the lower explosive limit
        "water_level": "m",  # standing water depth
        "temperature": "°C",
        "ebike_charging": "°C",  # charger temperature
        "noise": "dB(A)",
    }
)
SENSOR_TYPES: Final = tuple(SENSOR_UNITS)

#: Kinds of zone in the zone layer.
ZONE_KINDS: Final = (
    "bridge",
    "square",
    "scenic",
    "car_park",
    "street",
    "park",
    "station",
    "mall",
    "grid",
)

#: Hotline ticket categories a rule may scope to; add new ones here first.
HOTLINE_CATEGORIES: Final = ("traffic", "crowd", "fire", "noise", "parking", "environment")

#: Fields of a rule's subject, usable in dedupe keys and message templates.
SUBJECT_FIELDS: Final[Mapping[Subject, tuple[str, ...]]] = MappingProxyType(
    {
        "cell": ("rule", "cell", "zone"),
        "sensor": ("rule", "cell", "zone", "sensor_type"),
        "hotline": ("rule", "cell", "zone", "category"),
        "zone": ("rule", "zone"),
    }
)
#: Every field a dedupe key may name, whatever the subject.
DEDUPE_FIELDS: Final = ("rule", "cell", "zone", "category", "sensor_type")


@dataclass(frozen=True, slots=True)
class Metric:
    """One metric of the catalogue.

    ``unit`` is canonical (a key of :data:`UNITS`); ``""`` for level and bool
    metrics; ``None`` for ``sensor_value``, whose unit is the sensor type's
    (:data:`SENSOR_UNITS`). ``levels`` (level metrics only) run lowest first.
    ``minimum``/``maximum`` bound the values the pipeline can produce.
    """

    name: str
    subject: Subject
    kind: Kind
    unit: str | None
    description: str
    levels: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None

    def __post_init__(self) -> None:
        if (self.kind == "level") != bool(self.levels):
            raise ValueError(f"{self.name}: levels are for level metrics, and required there")
        if self.kind != "number" and self.unit != "":
            raise ValueError(f"{self.name}: {self.kind} metrics have no unit")
        if self.unit and self.unit not in UNITS:
            raise ValueError(f"{self.name}: unit {self.unit!r} is not in UNITS")

    @property
    def unit_aliases(self) -> tuple[str, ...]:
        """Other spellings of :attr:`unit` accepted in rule files."""
        return UNITS.get(self.unit or "", ())

    def rank(self, level: str) -> int:
        """Position of ``level`` in :attr:`levels` (0 = lowest); ValueError if unknown."""
        return self.levels.index(level)


#: The catalogue, by name, in documentation order.
METRICS: Final[Mapping[str, Metric]] = MappingProxyType(
    {
        m.name: m
        for m in (
            Metric("density", "cell", "number", "persons/m2",
                   "fused camera density on the cell's walkable area", minimum=0.0),
            Metric("density_max", "cell", "number", "persons/m2",
                   "highest density seen by a single camera in the cell", minimum=0.0),
            Metric("people", "cell", "number", "persons", "persons counted in the cell",
                   minimum=0.0),
            Metric("walkable_m2", "cell", "number", "m2", "walkable area of the cell",
                   minimum=0.0),
            Metric("los_walkway", "cell", "level", "", "Fruin walkway level of service",
                   levels=LOS_LEVELS),
            Metric("los_queuing", "cell", "level", "", "Fruin queuing (standing) level of service",
                   levels=LOS_LEVELS),
            Metric("still", "cell", "level", "", "G. K. Still's crowd state",
                   levels=STILL_LEVELS),
            Metric("trend", "cell", "number", "persons/m2/min",
                   "rate of rise of the density (negative when falling)"),
            Metric("flow", "cell", "number", "persons/m/min",
                   "pedestrian flow per metre of walkway width", minimum=0.0),
            Metric("los_flow", "cell", "level", "", "Fruin walkway level of service by flow rate",
                   levels=LOS_LEVELS),
            Metric("density_z", "cell", "number", "sigma",
                   "anomaly: density against its hour-of-week baseline"),
            Metric("risk", "cell", "number", "1", "risk score", minimum=0.0, maximum=1.0),
            Metric("stale_cameras", "cell", "number", "count",
                   "cameras in the cell gone silent", minimum=0.0),
            Metric("sensor_value", "sensor", "number", None,
                   "freshest reading of the sensor type, in the type's unit"),
            Metric("sensor_alarm", "sensor", "bool", "",
                   "a sensor of the type is in alarm (device flag, or value at its limit)"),
            Metric("sensor_z", "sensor", "number", "sigma",
                   "anomaly: sensor value against its hour-of-week baseline"),
            Metric("hotline_count", "hotline", "number", "tickets",
                   "fresh tickets of the category in the neighbourhood", minimum=0.0),
            Metric("hotline_z", "hotline", "number", "sigma",
                   "anomaly: ticket count against its hour-of-week baseline"),
            Metric("zone_density", "zone", "number", "persons/m2",
                   "density over the zone's walkable area", minimum=0.0),
            Metric("zone_people", "zone", "number", "persons", "persons counted in the zone",
                   minimum=0.0),
            Metric("zone_risk", "zone", "number", "1", "risk score of the zone",
                   minimum=0.0, maximum=1.0),
        )
    }
)  # fmt: skip


def _unit_key(text: str) -> str:
    # NFKC folds ² to 2 and full-width characters to ASCII, so 人／ｍ² matches 人/m2.
    return "".join(unicodedata.normalize("NFKC", text).split()).casefold()


_UNIT_LOOKUP: Final[Mapping[str, str]] = MappingProxyType(
    {_unit_key(alias): unit for unit, aliases in UNITS.items() for alias in (unit, *aliases)}
)


def canonical_unit(text: str) -> str | None:
    """The canonical unit spelled ``text`` (any alias, case and spaces ignored), or None."""
    return _UNIT_LOOKUP.get(_unit_key(text))


def metric_unit(metric: Metric, sensor_type: str | None = None) -> str | None:
    """The canonical unit of ``metric`` for a subject; None when it depends on an unknown type."""
    if metric.unit is None:
        return SENSOR_UNITS.get(sensor_type or "")
    return metric.unit


def metric_table_markdown() -> str:
    """The catalogue as a Markdown table, as published in the rule-file documentation."""
    lines = [
        "| metric | subject | kind | unit | values | meaning |",
        "|---|---|---|---|---|---|",
    ]
    for m in METRICS.values():
        unit = f"`{m.unit}`" if m.unit else "—"
        if m.unit is None:
            unit = "the sensor type's"
        if m.levels:
            values = " < ".join(m.levels)
        elif m.kind == "bool":
            values = "true / false"
        elif m.minimum is not None and m.maximum is not None:
            values = f"{m.minimum:g} … {m.maximum:g}"
        elif m.minimum is not None:
            values = f"≥ {m.minimum:g}"
        else:
            values = "any"
        lines.append(
            f"| `{m.name}` | {m.subject} | {m.kind} | {unit} | {values} | {m.description} |"
        )
    return "\n".join(lines) + "\n"


def unit_table_markdown() -> str:
    """Units and their accepted spellings, and the unit of each sensor type, as Markdown."""
    lines = ["| unit | also accepted |", "|---|---|"]
    for unit, aliases in UNITS.items():
        lines.append(f"| `{unit}` | {' '.join(f'`{a}`' for a in aliases) or '—'} |")
    lines += ["", "| sensor type | unit of `sensor_value` |", "|---|---|"]
    lines += [f"| `{t}` | `{u}` |" for t, u in SENSOR_UNITS.items()]
    return "\n".join(lines) + "\n"
