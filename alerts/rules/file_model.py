"""The rule-file format as pydantic models: the shape of each key, and the JSON Schema.

These models check *shape* only (which keys, which types); the meaning — known
metrics, units, thresholds in order, desks, placeholders — is checked by
:mod:`alerts.rules.file_check`, with positions. Enumerations are added to the
schema so that editors can complete metric names, desks and kinds.

Types are strict: ``enabled: "no"`` is text, not false. Desks and zone ids
may be written unquoted (``110``): YAML reads those as numbers, taken as text.
"""

from __future__ import annotations

import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    Tag,
    WithJsonSchema,
)

from alerts.rules.catalog import HOTLINE_CATEGORIES, METRICS, SENSOR_TYPES, ZONE_KINDS
from alerts.rules.spec import DAYS
from alerts.rules.vocabulary import DESKS

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
DAY_ALIASES = ("daily", "weekdays", "weekend")
DURATION_PATTERN = r"^([0-9]+(\.[0-9]+)?(ms|s|min|m|h))+$"
TIME_PATTERN = r"^([01]?[0-9]|2[0-3]):[0-5][0-9]$|^24:00$"

#: Tags of union members appear in error locations; they start with "=" so that no YAML key
#: is mistaken for one.
FIXED_SEVERITY = "=fixed"

_STRICT = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


def _name_text(value: object) -> object:
    # `desks: [110, 12345]` unquoted: YAML gives ints; desks and zone ids are names.
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


Desk = Annotated[
    StrictStr,
    BeforeValidator(_name_text),
    WithJsonSchema(
        {
            "enum": [*DESKS, *(int(d) for d in DESKS if d.isdigit())],
            "description": "a desk: " + ", ".join(DESKS),
        }
    ),
]
Threshold = Annotated[
    StrictFloat | StrictStr | StrictBool,
    Field(
        description="a number in the metric's unit, optionally with the unit "
        '("2.15 persons/m2"); a level for level metrics ("E"); true for bool metrics'
    ),
]
Duration = Annotated[
    StrictStr | StrictInt,
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": DURATION_PATTERN}, {"const": 0}],
            "description": 'a duration: "500ms", "10s", "5m", "1h", "1m30s"; or 0',
        }
    ),
]
TimeOfDay = Annotated[
    StrictStr,
    Field(
        description='local time "HH:MM", China time; "24:00" ends a day',
        json_schema_extra={"pattern": TIME_PATTERN},
    ),
]
Position = Annotated[
    list[StrictFloat],
    Field(min_length=2, max_length=2, description="[longitude, latitude] in degrees"),
]


def _enum(values: tuple[str, ...], description: str) -> Any:
    return Field(description=description, json_schema_extra={"enum": list(values)})


class ScopeModel(BaseModel):
    """Where the rule applies. Fields left out do not restrict; fields given all must match."""

    model_config = ConfigDict(**_STRICT, title="scope")
    zones: list[Annotated[StrictStr, BeforeValidator(_name_text)]] = Field(
        default=[], description="zone ids of the zone layer"
    )
    zone_kinds: list[Annotated[StrictStr, _enum(ZONE_KINDS, "a zone kind")]] = Field(
        default=[], description="zones of these kinds: " + ", ".join(ZONE_KINDS)
    )
    sensor_types: list[Annotated[StrictStr, _enum(SENSOR_TYPES, "a sensor type")]] = Field(
        default=[], description="sensor metrics only: these sensor types"
    )
    categories: list[Annotated[StrictStr, _enum(HOTLINE_CATEGORIES, "a ticket category")]] = Field(
        default=[], description="hotline metrics only: these ticket categories"
    )
    polygon: list[list[Position]] = Field(
        default=[],
        description="GeoJSON Polygon coordinates in WGS-84: rings of [lon, lat], outer first, "
        "each closed (last position = first)",
    )


class WindowModel(BaseModel):
    """Days of the week and a local time range (China time). ``to`` at or before ``from``
    runs past midnight into the next day."""

    model_config = ConfigDict(**_STRICT, title="schedule window")
    days: list[Annotated[StrictStr, _enum(DAYS + DAY_ALIASES, "a day")]] = Field(
        default=["daily"], description="mon … sun, or daily, weekdays, weekend"
    )
    start: TimeOfDay = Field(default="00:00", alias="from")
    end: TimeOfDay = Field(default="24:00", alias="to")


def _one_or_many(value: object) -> str:
    return "=many" if isinstance(value, list) else "=one"


Schedule = Annotated[
    Annotated[WindowModel, Tag("=one")] | Annotated[list[WindowModel], Tag("=many")],
    Discriminator(_one_or_many),
]


class DwellModel(BaseModel):
    """How long the metric must stay past a threshold before the alert opens or closes."""

    model_config = ConfigDict(**_STRICT, title="dwell")
    enter: Duration = 0
    exit: Duration = 0


class SeverityThresholdsModel(BaseModel):
    """Severity by metric value: the highest reached wins; below all, the lowest listed."""

    model_config = ConfigDict(**_STRICT, title="severity thresholds")
    info: Threshold | None = None
    warning: Threshold | None = None
    critical: Threshold | None = None


def _fixed_or_thresholds(value: object) -> str:
    return "=thresholds" if isinstance(value, dict) else FIXED_SEVERITY


Severity = Annotated[
    Annotated[Literal["info", "warning", "critical"], Tag(FIXED_SEVERITY)]
    | Annotated[SeverityThresholdsModel, Tag("=thresholds")],
    Discriminator(_fixed_or_thresholds),
    Field(description="info, warning or critical; or thresholds {warning: 2.15, critical: 4}"),
]


class EscalateModel(BaseModel):
    """Escalation of an alert nobody acknowledged within ``after``."""

    model_config = ConfigDict(**_STRICT, title="escalate")
    after: Duration
    severity: Literal["info", "warning", "critical"] | None = Field(
        default=None, description="raise to this severity"
    )
    add_desks: list[Desk] = []


class MessageModel(BaseModel):
    """Alert text; ``{name}`` placeholders name metrics of the rule's subject or its fields
    (rule, cell, zone, category, sensor_type), with an optional format: ``{density:.2f}``."""

    model_config = ConfigDict(**_STRICT, title="message")
    zh: StrictStr
    en: StrictStr | None = Field(default=None, description="English; defaults to the Chinese")


class RuleModel(BaseModel):
    """One rule: watch a metric per subject, open an alert past ``enter``, close past ``exit``."""

    model_config = ConfigDict(**_STRICT, title="rule")
    id: StrictStr = Field(
        description="dotted lowercase name, unique across the rule set, e.g. crowd.density",
        json_schema_extra={"pattern": r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$"},
    )
    description: StrictStr = ""
    metric: StrictStr = _enum(tuple(METRICS), "the metric watched, from the catalogue")
    direction: Literal["rising", "falling"] = Field(
        default="rising", description="rising: alert at or above enter; falling: at or below"
    )
    where: list[StrictStr] = Field(
        default=[], description='extra conditions "metric op value", op: > >= < <= == !='
    )
    scope: ScopeModel = Field(default_factory=ScopeModel)
    schedule: Schedule = Field(default=[], description="when the rule is active; default always")
    enter: Threshold | None = Field(default=None, description="threshold that opens an alert")
    exit: Threshold | None = Field(
        default=None, description="threshold that closes it: not above enter (rising)"
    )
    dwell: DwellModel = Field(default_factory=DwellModel)
    cooldown: Duration = Field(default=0, description="after closing, no new alert for this long")
    severity: Severity = "warning"
    escalate: EscalateModel | None = Field(default=None, description="when nobody acknowledges")
    desks: list[Desk] = Field(default=[], description="where alerts go; none for shadow rules")
    extra_desks: dict[StrictStr, list[Desk]] = Field(
        default={}, description="more desks by ticket category (hotline) or sensor type (sensor)"
    )
    dedupe: StrictStr | None = Field(
        default=None,
        description="key template: alerts with the same key are one alert; "
        "placeholders {rule} {cell} {zone} {category} {sensor_type}",
    )
    message: MessageModel
    shadow: StrictBool = Field(default=False, description="evaluate and record, never route")
    enabled: StrictBool = True


class RuleFileModel(BaseModel):
    """A rule file: a list of rules. A rule set may span several files."""

    model_config = ConfigDict(extra="forbid", strict=True, title="citybrain rule file")
    rules: list[RuleModel]


def rule_schema() -> dict[str, Any]:
    """The JSON Schema (draft 2020-12) of a rule file, as published in the documentation."""
    schema = RuleFileModel.model_json_schema(by_alias=True)
    return {"$schema": SCHEMA_DIALECT, **schema}


def rule_schema_json() -> str:
    """:func:`rule_schema` as the text of the published file (2-space indent, final newline)."""
    return json.dumps(rule_schema(), indent=2, ensure_ascii=False) + "\n"
