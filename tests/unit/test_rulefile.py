"""Rule files: every kind of problem at its exact line and column, the default rule set,
version hashes, the published schema and catalogue, and fuzzing."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from alerts.crowd.los import FRUIN_WALKWAY, STILL_CRITICAL_MOVING
from alerts.rules.catalog import (
    HOTLINE_CATEGORIES,
    METRICS,
    SENSOR_TYPES,
    ZONE_KINDS,
    metric_table_markdown,
    unit_table_markdown,
)
from alerts.rules.engine import MAX_MESSAGE_CHARS, render
from alerts.rules.file import (
    DEFAULT_RULES,
    RuleFileError,
    check_rule_files,
    check_rule_text,
    load_rule_files,
    rule_schema_json,
)
from alerts.rules.file_check import RULE_ID
from alerts.rules.spec import RuleProblem, TimeWindow, schedule_active
from alerts.rules.vocabulary import DESKS, SENSOR_CRITICAL

DOCS = Path(__file__).resolve().parents[2] / "docs"
DEFAULT_TEXT = (DEFAULT_RULES / "default.yaml").read_text(encoding="utf-8")


def rule(body: str) -> str:
    """A file with one rule ``t.rule``; ``body`` holds its other keys, from line 3, column 5."""
    return "rules:\n  - id: t.rule\n" + textwrap.indent(textwrap.dedent(body).lstrip("\n"), "    ")


GOOD = """
metric: density
enter: 2.15
exit: 1.08
desks: [110]
message: {zh: "密度 {density:.2f}"}
"""

TAIL = "desks: [fire]\nmessage: {zh: x}\n"
SENSOR = "metric: sensor_alarm\nscope: {sensor_types: [smoke]}\n" + TAIL
VALUE = "metric: sensor_value\nscope: {sensor_types: [gas]}\nenter: 10\nexit: 5\n" + TAIL
SWAPPED = "[[[23.0, 113.0], [23.1, 113.0], [23.1, 113.1], [23.0, 113.0]]]"
OPEN_RING = "[[[113, 23], [113.1, 23], [113.1, 23.1], [113, 23.1]]]"
BOWTIE = "[[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]"


def swap(old: str, new: str) -> str:
    """The good rule with one piece of it rewritten."""
    assert old in GOOD
    return rule(GOOD.replace(old, new))


def plus(extra: str) -> str:
    """The good rule with one more key, on line 8."""
    return rule(GOOD + extra + "\n")


# (what, file text, line, column, fragment of the message)
# fmt: off
CASES = [
    ("yaml syntax", rule("metric: [density\nenter: 1\n"), 4, 10, "YAML syntax error"),
    ("yaml tab", "rules:\n\t- id: x\n", 2, 1, "spaces, not tabs"),
    ("duplicate key", plus("enter: 3"), 8, 5, "duplicate key 'enter' (first written at line 4)"),
    ("unknown key", plus("exti: 1"), 8, 5, "unknown key 'exti' in rule; did you mean 'exit'?"),
    ("unknown nested key", plus("scope: {zonez: [a]}"), 8, 13, "in scope; did you mean 'zones'?"),
    ("unknown file key", "rule:\n  - id: x\n", 1, 1, "in rule file; did you mean 'rules'?"),
    ("missing key", swap("message: {zh: \"密度 {density:.2f}\"}\n", ""), 2, 5,
     "rule 't.rule' is missing 'message'"),
    ("unknown metric", swap("density\n", "densty\n"), 3, 13,
     "unknown metric 'densty'; did you mean 'density'?"),
    ("wrong unit", swap("enter: 2.15", 'enter: "2.15 persons"'), 4, 18,
     "unit 'persons' does not match density's unit persons/m2"),
    ("unknown unit", swap("enter: 2.15", "enter: 2.15 ppl/m2"), 4, 17,
     "unknown unit 'ppl/m2' in enter threshold"),
    ("exit above enter", swap("exit: 1.08", "exit: 3.0"), 5, 11,
     "exit threshold 3.0 persons/m2 is above enter threshold 2.15 persons/m2"),
    ("falling exit below enter", swap("exit: 1.08", "exit: 1.0\ndirection: falling"), 5, 11,
     "exit threshold 1.0 persons/m2 is below enter threshold 2.15 persons/m2 (falling rule)"),
    ("level on number metric", swap("enter: 2.15", "enter: E"), 4, 12,
     "density is a number in persons/m2; enter threshold 'E' is not a number"),
    ("number on level metric", swap("density\n", "los_walkway\n"), 4, 12,
     "los_walkway is a level (A, B, C, D, E, F); enter threshold 2.15 is not one"),
    ("unknown level", swap("density\nenter: 2.15", "still\nenter: critcal"), 4, 12,
     "still is a level (free, busy, critical, dangerous); enter threshold 'critcal' is not one"),
    ("bool with exit", rule(SENSOR + "exit: true\n"), 7, 11,
     "sensor_alarm is true or false: no exit threshold"),
    ("out of range", swap("density\nenter: 2.15", "risk\nenter: 2"), 4, 12,
     "enter threshold 2.0 is outside risk's range 0 … 1"),
    ("missing exit", swap("exit: 1.08\n", ""), 2, 5, "rule 't.rule' needs an exit threshold"),
    ("unknown desk", swap("[110]", "[110, firee]"), 6, 18,
     "unknown desk 'firee'; did you mean 'fire'?"),
    ("desk twice", swap("[110]", "[110, 110]"), 6, 18, "desk '110' is listed twice"),
    ("no desks", swap("[110]", "[]"), 6, 12, "routes to no desk: add desks, or set shadow: true"),
    ("unknown placeholder", swap("{density:.2f}", "{densty:.2f}"), 7, 23,
     "message.zh: unknown placeholder {densty:.2f}; did you mean 'density'?"),
    ("bad format spec", swap("{density:.2f}", "{density:.2q}"), 7, 23,
     "bad format in placeholder {density:.2q}"),
    ("level with number format", swap("{density:.2f}", "{los_walkway:.1f}"), 7, 23,
     "Unknown format code 'f'"),
    ("placeholder of other subject", swap("{density:.2f}", "{hotline_count}"), 7, 23,
     "placeholder {hotline_count} is a hotline metric; this rule is on cell metrics"),
    ("unbalanced brace", swap("{density:.2f}", "{density"), 7, 19, "bad template"),
    ("bad duration", plus("dwell: {enter: 10x}"), 8, 20, "bad duration '10x'"),
    ("duration without unit", plus("cooldown: 30"), 8, 15, "duration 30 needs a unit: 30s"),
    ("bad time", plus('schedule: {from: "25:00"}'), 8, 22,
     "time '25:00' is out of range 00:00 to 23:59"),
    ("unknown day", plus("schedule: {days: [sat, sunday]}"), 8, 28,
     "unknown day 'sunday'; did you mean 'sun'?"),
    ("empty time range", plus('schedule: {from: "09:00", to: "09:00"}'), 8, 35,
     "from and to are both 09:00"),
    ("bad schedule shape", plus("schedule: always"), 8, 15,
     "schedule: expected a mapping (key: value), got the text 'always'"),
    ("dedupe unknown field", plus('dedupe: "{rule}:{celll}"'), 8, 21,
     "unknown field {celll} in dedupe key; did you mean 'cell'?"),
    ("dedupe field of other subject", plus('dedupe: "{rule}:{category}"'), 8, 21,
     "dedupe field {category} does not exist for cell metrics"),
    ("where unknown metric", plus('where: ["densty < 2"]'), 8, 14,
     "unknown metric 'densty'; did you mean 'density'?"),
    ("where syntax", plus('where: ["los_walkway = E"]'), 8, 13,
     "write '==' to compare for equality"),
    ("where other subject", plus('where: ["hotline_count > 3"]'), 8, 14,
     "condition on hotline metric 'hotline_count' in a rule on cell metric 'density'"),
    ("where level value", plus('where: ["los_walkway >= G"]'), 8, 29,
     "los_walkway is a level (A, B, C, D, E, F); value 'G' is not one"),
    ("severity out of order", plus("severity: {warning: 4, critical: 2.15}"), 8, 38,
     "critical threshold 2.15 persons/m2 is below warning threshold 4.0 persons/m2"),
    ("unknown severity", plus("severity: urgent"), 8, 15,
     "'urgent' is not one of 'info', 'warning' or 'critical'"),
    ("escalate not above", plus("escalate: {after: 5m, severity: info}"), 8, 37,
     "escalate severity 'info' is not above the rule's 'warning'"),
    ("escalate unknown desk", plus("escalate: {after: 5m, add_desks: [polic]}"), 8, 39,
     "unknown desk 'polic'"),
    ("sensor types on cell metric", plus("scope: {sensor_types: [smoke]}"), 8, 13,
     "scope.sensor_types is for sensor metrics; density is a cell metric"),
    ("unknown sensor type", rule(SENSOR.replace("[smoke]", "[smok]")), 4, 28,
     "unknown sensor type 'smok'; did you mean 'smoke'?"),
    ("unknown zone kind", plus("scope: {zone_kinds: [bridg]}"), 8, 26,
     "unknown zone kind 'bridg'; did you mean 'bridge'?"),
    ("sensor value mixed units", rule(VALUE.replace("[gas]", "[smoke, gas]")), 4, 27,
     "sensor types smoke, gas have different units (%LEL, %obs/m)"),
    ("sensor value unit", rule(VALUE.replace("enter: 10", "enter: 20 °C")), 5, 15,
     "unit '°C' does not match sensor_value's unit %LEL"),
    ("polygon lat lon swapped", plus(f"scope: {{polygon: {SWAPPED}}}"), 8, 24,
     "latitude 113.0 is outside -90 … 90 (positions are [lon, lat], longitude first)"),
    ("polygon not closed", plus(f"scope: {{polygon: {OPEN_RING}}}"), 8, 63,
     "a polygon ring must end where it starts"),
    ("polygon crossing", plus(f"scope: {{polygon: {BOWTIE}}}"), 8, 23,
     "polygon ring crosses itself"),
    ("extra desks on cell metric", plus("extra_desks: {traffic: [110]}"), 8, 5,
     "extra_desks is by ticket category or sensor type; density is a cell metric"),
    ("wrong type", plus('enabled: "no"'), 8, 14, "enabled: expected true/false, got the text 'no'"),
    ("union type", swap("enter: 2.15", "enter: [2.15]"), 4, 12,
     "enter: expected a number, text or true/false, got a list"),
    ("bad id", rule(GOOD).replace("t.rule", "Crowd Density"), 2, 9,
     "rule id 'Crowd Density' must be dotted lowercase words"),
    ("not a mapping", "rules:\n  - 42\n", 2, 5, "a rule must be a mapping"),
    ("rules not a list", "rules: {id: x}\n", 1, 8, "'rules' must be a list of rules"),
    ("control character", "rules: \x07\n", 1, 8, "character not allowed in YAML"),
]
# fmt: on


@pytest.mark.parametrize(
    ("text", "line", "column", "fragment"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_each_problem_at_its_position(text: str, line: int, column: int, fragment: str) -> None:
    specs, problems = check_rule_text(text, "rules/t.yaml")
    assert specs == []
    hits = [p for p in problems if fragment in p.message]
    assert hits, f"no problem mentions {fragment!r}: {[str(p) for p in problems]}"
    assert (hits[0].line, hits[0].column) == (line, column), str(hits[0])
    assert str(hits[0]).startswith(f"rules/t.yaml:{line}:{column}: ")


def test_the_good_rule_is_good() -> None:
    specs, problems = check_rule_text(rule(GOOD))
    assert problems == []
    (spec,) = specs
    assert (spec.enter, spec.exit, spec.desks, spec.dedupe) == (
        2.15,
        1.08,
        ("110",),
        "{rule}:{cell}",
    )
    assert spec.message.en == spec.message.zh  # English defaults to the Chinese


def test_units_aliases_levels_and_unquoted_times() -> None:
    text = rule("""
        metric: density
        enter: "2.15 人/m²"
        exit: 1.08 persons/m²
        where: ["los_walkway >= e", "still != dangerous"]
        schedule: {days: [weekend], from: 21:00, to: 2:00}
        dwell: {enter: 500ms, exit: 1m30s}
        desks: [110, chengguan]
        message: {zh: "x"}
    """)
    (spec,), problems = check_rule_text(text)
    assert problems == []
    assert (spec.enter, spec.exit) == (2.15, 1.08)
    assert [c.value for c in spec.where] == ["E", "dangerous"]
    assert spec.schedule == (TimeWindow(frozenset({5, 6}), 21 * 60, 2 * 60),)
    assert (spec.enter_dwell_ms, spec.exit_dwell_ms) == (500, 90_000)


def test_anchors_merge_keys_and_unquoted_names() -> None:
    text = """\
x-crowd: &crowd
  metric: density
  enter: 2.15
  exit: 1.08
  desks: [110, 12345]
rules:
  - <<: *crowd
    id: t.one
    scope: {zones: [7551, tongji]}
    message: {zh: x}
  - <<: *crowd
    id: t.two
    exit: 1.5
    message: {zh: y}
"""
    specs, problems = check_rule_text(text)
    assert problems == []
    assert [(s.id, s.exit, s.desks) for s in specs] == [
        ("t.one", 1.08, ("110", "12345")),
        ("t.two", 1.5, ("110", "12345")),
    ]
    assert specs[0].scope.zones == ("7551", "tongji")


def test_every_problem_of_a_file_is_reported() -> None:
    text = (
        rule("""
        metric: density
        enter: 2.15
        exit: 3
        exti: 1
        desks: [111]
        dwell: {enter: 5x}
        message: {zh: "{densty}"}
    """)
        + "  - id: t.other\n    metric: nope\n    message: {zh: x}\n"
    )
    _, problems = check_rule_text(text, "f.yaml")
    where = [(p.line, p.column) for p in problems]
    # exit above enter, unknown key, desk, duration, placeholder; the second rule: no desks
    # (reported at the rule), unknown metric.
    assert where == [(5, 11), (6, 5), (7, 13), (8, 20), (9, 20), (10, 5), (11, 13)], problems
    assert where == sorted(where)


def test_duplicate_ids_across_files_report_both(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text(rule(GOOD), encoding="utf-8")
    (tmp_path / "b.yaml").write_text("# another file\n" + rule(GOOD), encoding="utf-8")
    problems = check_rule_files([tmp_path])
    assert [str(p) for p in problems] == [
        f"{tmp_path / 'a.yaml'}:2:9: duplicate rule id 't.rule' "
        f"(defined again at {tmp_path / 'b.yaml'}:3:9)",
        f"{tmp_path / 'b.yaml'}:3:9: duplicate rule id 't.rule' "
        f"(defined first at {tmp_path / 'a.yaml'}:2:9)",
    ]


def test_missing_paths_yml_files_and_empty_sets(tmp_path: Path) -> None:
    (tmp_path / "crowd.yml").write_text(rule(GOOD), encoding="utf-8")
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    problems = check_rule_files([tmp_path, tmp_path / "nope.yaml"])
    messages = {Path(p.file).name: p.message for p in problems}
    assert "rule files must end in .yaml" in messages["crowd.yml"]
    assert "empty file" in messages["empty.yaml"]
    assert messages["nope.yaml"] == "no such file or directory"
    assert str(problems[0]).startswith(f"{tmp_path / 'crowd.yml'}: ")  # whole-file problem


def test_load_raises_with_every_problem(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(rule(GOOD.replace("exit: 1.08", "exit: 3").replace("[110]", "[11]")), "utf-8")
    with pytest.raises(RuleFileError) as caught:
        load_rule_files([bad])
    assert [(p.line, p.column) for p in caught.value.problems] == [(5, 11), (6, 13)]
    assert f"{bad}:5:11: exit threshold" in str(caught.value)


def test_default_rule_set_loads_clean() -> None:
    assert check_rule_files([DEFAULT_RULES]) == []
    rules = load_rule_files([DEFAULT_RULES])
    assert rules.sources == (str(DEFAULT_RULES / "default.yaml"),)
    ids = [r.id for r in rules.rules]
    assert ids[:3] == ["crowd.density", "crowd.rise", "crowd.anomaly"]
    assert len(ids) == len(set(ids))


#: Desks of sensor alarms by type, as docs/rules.md lists them for the default set.
SENSOR_DESKS = {
    "smoke": ("fire", "110"),
    "gas": ("fire", "110"),
    "ebike_charging": ("fire",),
    "water_level": ("chengguan", "110"),
    "temperature": ("fire",),
    "noise": ("chengguan",),
}


def test_default_rule_set_uses_the_reference_numbers() -> None:
    rules = load_rule_files([DEFAULT_RULES])
    crowd = rules.get("crowd.density")
    assert crowd is not None
    # Fruin walkway LOS F opens, back at LOS D closes; Still's moving-crowd limit is critical.
    assert (crowd.enter, crowd.exit) == (FRUIN_WALKWAY.limits[4], FRUIN_WALKWAY.limits[3])
    assert (crowd.enter_dwell_ms, crowd.exit_dwell_ms) == (10_000, 30_000)
    assert crowd.severity.thresholds[-1] == ("critical", STILL_CRITICAL_MOVING)
    assert crowd.desks == ("110", "chengguan")
    for sensor_type, desks in SENSOR_DESKS.items():
        spec = rules.get(f"sensor.alarm.{sensor_type}")
        assert spec is not None and spec.scope.sensor_types == (sensor_type,)
        assert spec.desks == desks
        assert spec.severity.fixed == ("critical" if sensor_type in SENSOR_CRITICAL else "warning")
        assert spec.exit_dwell_ms == 60_000
    hotline = rules.get("hotline.cluster")
    assert hotline is not None
    assert (hotline.enter, hotline.exit) == (5.0, 2.0)
    assert hotline.severity.thresholds[-1] == ("critical", 10.0)
    assert hotline.desks == ("12345",)
    assert dict(hotline.extra_desks)["traffic"] == ("110", "traffic")
    rise, anomaly = rules.get("crowd.rise"), rules.get("crowd.anomaly")
    assert rise is not None and anomaly is not None
    assert (rise.metric, rise.enter, rise.enter_dwell_ms) == ("trend", 0.5, 20_000)
    assert [(c.metric, c.op, c.value) for c in rise.where] == [("density", "<", 2.15)]
    assert (rise.severity.fixed, rise.desks, rise.shadow) == (
        "warning",
        ("110", "chengguan"),
        False,
    )
    assert (anomaly.metric, anomaly.enter, anomaly.shadow) == ("density_z", 4.0, True)
    assert [(c.metric, c.op, c.value) for c in anomaly.where] == [("density", ">=", 1.08)]


def test_version_is_stable_and_follows_content(tmp_path: Path) -> None:
    one = tmp_path / "one"
    one.mkdir()
    (one / "default.yaml").write_text(DEFAULT_TEXT, encoding="utf-8")
    version = load_rule_files([DEFAULT_RULES]).version
    assert load_rule_files([one]).version == version
    # Comments, layout and file names do not change the meaning ...
    block = "dwell:\n      enter: 10s\n      exit: 30s"
    relaid = DEFAULT_TEXT.replace("dwell: {enter: 10s, exit: 30s}", block)
    (one / "default.yaml").write_text("# tuned\n" + relaid, "utf-8")
    assert load_rule_files([one / "default.yaml"]).version == version
    # ... a threshold does.
    (one / "default.yaml").write_text(DEFAULT_TEXT.replace("exit: 1.08 persons/m2", "exit: 1.0"))
    assert load_rule_files([one]).version != version


def test_schedules_run_in_china_time_and_past_midnight() -> None:
    weekend_nights = (TimeWindow(frozenset({5, 6}), 21 * 60, 2 * 60),)
    sat_2230_cst = 1_700_317_800_000  # 2023-11-18 22:30 +08:00, a Saturday
    assert schedule_active(weekend_nights, sat_2230_cst)
    assert schedule_active(weekend_nights, sat_2230_cst + 3 * 3_600_000)  # Sunday 01:30
    assert not schedule_active(weekend_nights, sat_2230_cst + 12 * 3_600_000)  # Sunday 10:30
    assert schedule_active(weekend_nights, sat_2230_cst + 27 * 3_600_000)  # Monday 01:30
    assert not schedule_active(weekend_nights, sat_2230_cst + 51 * 3_600_000)  # Tuesday 01:30
    assert schedule_active((), 0)


def test_published_schema_is_the_generated_one() -> None:
    published = (DOCS / "rules.schema.json").read_text(encoding="utf-8")
    assert published == rule_schema_json(), (
        "docs/rules.schema.json is stale: citybrain rules schema > docs/rules.schema.json"
    )


def _between(text: str, name: str) -> str:
    match = re.search(f"<!-- {name}:start -->\n(.*?)<!-- {name}:end -->", text, re.S)
    assert match, f"docs/rules.md lacks the {name} markers"
    return match.group(1)


def test_documented_catalogue_is_the_catalogue() -> None:
    doc = (DOCS / "rules.md").read_text(encoding="utf-8")
    assert _between(doc, "metric-table") == metric_table_markdown()
    assert _between(doc, "unit-table") == unit_table_markdown()
    names = [*METRICS, *DESKS, *ZONE_KINDS, *SENSOR_TYPES, *HOTLINE_CATEGORIES]
    assert [name for name in names if f"`{name}`" not in doc] == []


def test_documented_examples_are_valid() -> None:
    doc = (DOCS / "rules.md").read_text(encoding="utf-8")
    blocks = re.findall(r"```yaml\n(.*?)```", doc, re.S)
    rules = [b for b in blocks if re.search("^rules:", b, re.M)]
    assert len(rules) >= 2
    for block in rules:
        assert check_rule_text(block, "docs/rules.md")[1] == []
    scope = next(b for b in blocks if b.startswith("scope:"))
    schedule = next(b for b in blocks if b.startswith("schedule:"))
    for extra in (scope, schedule):
        body = GOOD + extra
        assert check_rule_text(rule(body), "docs/rules.md")[1] == []


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=400))
def test_arbitrary_text_gives_problems_not_crashes(text: str) -> None:
    specs, problems = check_rule_text(text, "fuzz.yaml")
    assert all(isinstance(p, RuleProblem) and p.file == "fuzz.yaml" for p in problems)
    assert all(RULE_ID.fullmatch(s.id) for s in specs)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_mutated_default_rules_give_problems_not_crashes(data: st.DataObject) -> None:
    text = DEFAULT_TEXT
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 8))
        insert = data.draw(
            st.sampled_from(["", ":", "-", " ", "\n", "{", "'", "x", "9", "*a", "&a"])
        )
        text = text[:at] + insert + text[at + cut :]
    specs, problems = check_rule_text(text, "mutated.yaml")
    assert problems or specs
    lines = text.count("\n") + 2
    assert all(0 <= p.line <= lines for p in problems)


@settings(max_examples=50, deadline=None)
@given(st.binary(max_size=200))
def test_arbitrary_files_raise_only_rule_file_errors(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    path = tmp_path_factory.mktemp("fuzz") / "rules.yaml"
    path.write_bytes(data)
    try:
        load_rule_files([path])
    except RuleFileError as exc:
        assert exc.problems


def test_format_widths_and_huge_numbers_are_refused_not_built() -> None:
    _, problems = check_rule_text(swap("{density:.2f}", "{density:>50000000.0f}"))
    assert any("width or precision over 40" in p.message for p in problems)
    _, problems = check_rule_text(swap("enter: 2.15", "enter: " + "9" * 5000))
    assert any("5000 digits" in p.message for p in problems)
    _, problems = check_rule_text(swap("{density:.2f}", "{density:>12.3f}"))
    assert problems == []  # ordinary widths stay fine


def test_a_rendered_message_is_cut_to_its_bound() -> None:
    text = render("{cell}", {"cell": "x" * 2000}, {})
    assert len(text) == MAX_MESSAGE_CHARS and text.endswith("…")
    assert render("{cell}", {"cell": "short"}, {}) == "short"
