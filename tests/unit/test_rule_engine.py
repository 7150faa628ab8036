"""Rule files evaluated by the pipeline: scope, conditions, schedules, dedupe keys, zone
metrics, shadow rules, and swapping the rule set under live state."""

import textwrap
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from pipeline_kit import BRIDGE, T0, Run, camera

from alerts.crowd.zone_metrics import zone_cell_areas
from alerts.rules.engine import Subject, compile_rules, parse_subject_key, render
from alerts.rules.file import DEFAULT_RULES, RuleSet, load_rule_texts, read_rule_texts
from geo.cells import cell_center, cell_of
from geo.zone_index import build_zone_index
from geo.zones import default_zones
from streams.pipeline.step_data import PipelineConfig

ZONES = build_zone_index(default_zones(), 9)
PARK = ZONES.cells_of_zone["jihua-park"]  # four cells of one park

DENSE = """
- id: crowd.dense
  metric: density
  enter: 2.15 persons/m2
  exit: 1.08 persons/m2
  desks: [110]
  message: {zh: "密度 {density:.2f} 人/m²", en: "density {density:.2f} at {zone}"}
"""


def rules(body: str) -> RuleSet:
    return load_rule_texts({"test.yaml": "rules:\n" + textwrap.indent(textwrap.dedent(body), "  ")})


def config(body: str) -> PipelineConfig:
    return PipelineConfig(zones=ZONES, zone_areas=zone_cell_areas(ZONES), rules=rules(body))


def at(cell: str) -> tuple[float, float]:
    return cell_center(cell)


def crowd(run: Run, cells: list[str], people: int, seconds: range) -> None:
    for t in seconds:
        batch = [camera(t, people, cam=f"cam-{c}", where=at(c)) for c in cells]
        run.feed(batch, t)


def test_each_cell_is_its_own_alert_by_default() -> None:
    run = Run(config(DENSE))
    crowd(run, list(PARK[:2]), 1200, range(0, 3))
    signals = run.signals("crowd.dense")
    assert {s["cell"] for s in signals} == set(PARK[:2])
    assert len({s["id"] for s in signals}) == 2


def test_dedupe_by_zone_makes_one_alert_for_the_whole_park() -> None:
    body = DENSE.replace("  desks:", '  dedupe: "{rule}:{zone}"\n  desks:')
    run = Run(config(body))
    crowd(run, list(PARK[:2]), 1200, range(0, 3))
    signals = run.signals("crowd.dense")
    assert len({s["id"] for s in signals}) == 1
    assert signals[-1]["dedupe"] == "crowd.dense:jihua-park"
    assert signals[-1]["subjects"] == 2
    # One cell calms down: the alert stays open while the other is still dense.
    for t in range(3, 40):
        run.feed([camera(t, 100, cam=f"cam-{PARK[0]}", where=at(PARK[0]))], t)
        run.feed([camera(t, 1200, cam=f"cam-{PARK[1]}", where=at(PARK[1]))], t)
    assert run.alerts()[-1].state == "open"


def test_scope_by_zone_kind_and_polygon() -> None:
    bridge_only = DENSE.replace("  desks:", "  scope: {zone_kinds: [bridge]}\n  desks:")
    run = Run(config(bridge_only))
    crowd(run, [PARK[0], cell_of(*BRIDGE, 9)], 1200, range(0, 3))
    assert {s["cell"] for s in run.signals("crowd.dense")} == {cell_of(*BRIDGE, 9)}

    lat, lon = at(PARK[0])
    d = 0.0005  # ~50 m around the park cell's centre
    ring = [[lon - d, lat - d], [lon + d, lat - d], [lon + d, lat + d], [lon - d, lat + d]]
    ring.append(ring[0])
    in_square = DENSE.replace("  desks:", f"  scope: {{polygon: [{ring}]}}\n  desks:")
    run = Run(config(in_square))
    crowd(run, [PARK[0], cell_of(*BRIDGE, 9)], 1200, range(0, 3))
    assert {s["cell"] for s in run.signals("crowd.dense")} == {PARK[0]}


def test_where_conditions_gate_the_rule() -> None:
    body = DENSE.replace("  desks:", '  where: ["still >= critical"]\n  desks:')
    run = Run(config(body))
    crowd(run, [PARK[0]], 1200, range(0, 3))  # 3/m²: LOS F, but Still "busy" — no alert
    assert run.signals("crowd.dense") == []
    crowd(run, [PARK[0]], 1800, range(3, 6))  # 4.5/m²: critical for a moving crowd
    assert run.signals("crowd.dense")


def _china(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, UTC) + timedelta(hours=8)


@pytest.mark.parametrize("inside", [True, False])
def test_schedule_in_china_time(inside: bool) -> None:
    local = _china(T0)
    day = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")[local.weekday()]
    start = local if inside else local + timedelta(hours=2)
    window = f'{{days: [{day}], from: "{start:%H:%M}", to: "{start + timedelta(hours=1):%H:%M}"}}'
    run = Run(config(DENSE.replace("  desks:", f"  schedule: {window}\n  desks:")))
    crowd(run, [PARK[0]], 1200, range(0, 3))
    assert bool(run.signals("crowd.dense")) is inside


def test_zone_rule_measures_the_zone_over_its_cells() -> None:
    body = """
    - id: zone.crowded
      metric: zone_density
      scope: {zones: [jihua-park]}
      enter: 2 persons/m2
      exit: 1 persons/m2
      desks: [chengguan]
      message: {zh: "{zone} 区域密度 {zone_density:.1f}"}
    """
    run = Run(config(body))
    crowd(run, list(PARK[:2]), 1200, range(0, 3))
    (sig, *_) = run.signals("zone.crowded")
    assert sig["zone"] == "jihua-park" and sig["zone_kind"] == "park"
    assert sig["density"] == pytest.approx(3.0, abs=0.01)  # 1200 people on 400 m² each
    assert sig["title"] == "jihua-park 区域密度 3.0"


def test_shadow_rule_is_recorded_but_never_joins_or_routes() -> None:
    shadow = DENSE.replace("crowd.dense", "crowd.dense.trial").replace(
        "  desks:", "  shadow: true\n  desks:"
    )
    run = Run(config(DENSE + shadow))
    crowd(run, [PARK[0]], 1200, range(0, 3))
    incidents = {a.id: a for a in run.alerts()}
    assert len(incidents) == 2  # the shadow signal does not join the live incident
    live = next(a for a in incidents.values() if not a.evidence["shadow"])
    trial = next(a for a in incidents.values() if a.evidence["shadow"])
    assert live.desks == ("110",) and live.evidence["rules"] == ["crowd.dense"]
    assert trial.desks == () and trial.evidence["rules"] == ["crowd.dense.trial"]


def test_alerts_record_the_rule_set_version() -> None:
    cfg = config(DENSE)
    run = Run(cfg)
    crowd(run, [PARK[0]], 1200, range(0, 3))
    alert = run.alerts()[0]
    assert alert.rule_version == cfg.rules.version
    assert alert.evidence["signals"][0]["rule_version"] == cfg.rules.version


def test_a_new_rule_set_keeps_state_closes_removed_rules_and_runs_new_ones() -> None:
    run = Run(config(DENSE))
    crowd(run, [PARK[0]], 1200, range(0, 3))
    opened = run.alerts()[-1]
    assert opened.state == "open"
    cell_before = run.cells.get(PARK[0])
    # Swap: crowd.dense is gone, a people-count rule arrives.
    swapped = """
    - id: crowd.people
      metric: people
      enter: 100 persons
      exit: 50 persons
      desks: [chengguan]
      message: {zh: "约 {people:.0f} 人"}
    """
    run.config = config(swapped)
    out = run.feed([], 3, sweep=True)
    closed = out.alerts[opened.id]
    assert not closed.active
    assert "not in rule set" in closed.evidence["signals"][0]["closed_reason"]
    assert run.cells.get(PARK[0]) == cell_before  # window state is untouched by the swap
    crowd(run, [PARK[0]], 1200, range(4, 6))
    assert run.signals("crowd.people")


def test_a_changed_threshold_keeps_the_open_alert() -> None:
    run = Run(config(DENSE))
    crowd(run, [PARK[0]], 1200, range(0, 3))
    first = run.alerts()[-1].id
    run.config = config(DENSE.replace("exit: 1.08", "exit: 0.5"))
    crowd(run, [PARK[0]], 300, range(3, 6))  # 0.75/m²: below the old exit, above the new
    assert run.alerts()[-1].id == first and run.alerts()[-1].state == "open"


def test_the_default_rule_set_is_what_the_pipeline_runs() -> None:
    texts, problems = read_rule_texts([DEFAULT_RULES])
    assert problems == []
    assert PipelineConfig().rules == load_rule_texts(texts)
    assert PipelineConfig().rules.version == replace(PipelineConfig()).rules.version


def test_subject_keys_round_trip() -> None:
    cell = PARK[0]
    subjects = [
        Subject("cell", cell, 0, 0),
        Subject("sensor", cell, 0, 0, sensor_type="smoke"),
        Subject("hotline", cell, 0, 0, category="traffic"),
        Subject("zone", cell, 0, 0, zones=("jihua-park",)),
    ]
    parsed = [parse_subject_key(s.key) for s in subjects]
    assert parsed == [
        ("cell", (cell,)),
        ("sensor", (cell, "smoke")),
        ("hotline", ("traffic", cell)),
        ("zone", ("jihua-park",)),
    ]
    with pytest.raises(ValueError, match="not a subject key"):
        parse_subject_key("cells:x")


def test_messages_render_missing_values_as_a_dash() -> None:
    rule = compile_rules(rules(DENSE)).rules[0]
    subject = Subject("cell", PARK[0], 0, 0, zones=("jihua-park",))
    assert rule.message(subject, lambda n: None) == ("密度 — 人/m²", "density — at jihua-park")
    assert render("{a} {b:.1f}", {"a": "x"}, lambda n: 2.25) == "x 2.2"
