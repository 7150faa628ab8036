"""The driver (streams/pipeline/driver.py): a fetch becomes cells.ingest records in send
order, and each kind of cells.ingest record is dispatched to its partition's step."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
from pipeline_kit import BRIDGE, CAR_PARK, T0, camera

from alerts.incidents.action_record import ActionRecord
from alerts.rules.file import DEFAULT_RULES, load_rule_files
from citybrain.config.settings import Settings
from geo.cells import cell_of
from geo.geocode import load_gazetteer
from streams.pipeline.cell_partitions import CellPartitions
from streams.pipeline.clock import EventClock
from streams.pipeline.config import decode_limits, lateness, pipeline_config
from streams.pipeline.device_rate import Ceiling
from streams.pipeline.driver import ACTIONS, TICK, Driver, action_record, late_rejection
from streams.pipeline.events import Kind, rows_body
from streams.pipeline.halo import NEAR
from streams.pipeline.ingest import Ingest, InputRecord, parts_of
from streams.pipeline.lateness import LateEvent
from streams.pipeline.step_data import Stores

SETTINGS = Settings().with_overrides(kafka={"partitions": 4})
RULES = load_rule_files([DEFAULT_RULES])


def driver() -> Driver:
    p = SETTINGS.pipeline
    config = pipeline_config(SETTINGS)
    assert config.placement is not None
    ingest = Ingest(
        decode_limits(SETTINGS),
        Ceiling(per_s=p.device_max_per_s, burst=p.device_burst),
        load_gazetteer(),
        config.placement,
    )
    cells = CellPartitions(
        Stores.in_memory(), None, EventClock(), lateness(SETTINGS), p.measure_every_ms
    )
    return Driver(ingest, cells, config)


def record(kind: Kind, offset: int, body: Any) -> InputRecord:
    value = body if isinstance(body, bytes) else orjson.dumps(body)
    return InputRecord(kind, f"events.{kind}", 0, offset, value)


READING = {"id": "r1", "camera": "c1", "ts": T0, "lat": BRIDGE[0], "lon": BRIDGE[1]}
READING |= {"people": 300, "area_m2": 400.0}
CALL = {"id": "t1", "ts": T0, "channel": "12345", "category": "traffic", "text": "车辆被困"}
CALL |= {"lat": CAR_PARK[0], "lon": CAR_PARK[1]}


def test_a_fetch_sends_event_rows_then_camera_bodies_then_halo_tickets() -> None:
    d = driver()
    records = [
        record("camera", 0, [READING]),
        record("hotline", 0, [CALL]),
        record("hotline", 1, b"not json"),
    ]
    fetched = d.fetch(parts_of(records), T0 + 1000)
    kinds = [
        "near" if v.startswith(NEAR) else "rows" if v.startswith(b"[") else "camera"
        for _, v in fetched.sends
    ]
    assert kinds[:2] == ["rows", "camera"] and set(kinds[2:]) <= {"near"}
    assert fetched.halo == len(kinds) - 2  # one ticket: one halo record per partition
    assert fetched.ingested.records == {"camera": 1, "hotline": 2}
    assert [r.offset for r, _ in fetched.ingested.rejected] == [1]


def test_a_tick_is_skipped_until_the_partition_has_a_clock_then_republishes_once() -> None:
    d = driver()
    assert d.record(0, TICK, T0, RULES).skipped
    body = rows_body([camera(0, 300)])
    stepped = d.record(0, body, T0 + 100, RULES)
    assert not stepped.skipped and stepped.folded == 1 and stepped.republished is None
    assert stepped.state is not None
    view = orjson.loads(stepped.state)["cells"][0]
    assert view["cell"] == camera(0, 300).cell and set(stepped.views) == {view["cell"]}
    first = d.record(0, TICK, T0 + 1000, RULES)
    assert first.republished == 0 and first.measured_round
    assert d.record(0, TICK, T0 + 2000, RULES).republished is None


def test_an_action_for_an_alert_not_held_comes_back_unknown() -> None:
    d = driver()
    anchor = cell_of(*BRIDGE, 9)
    action = ActionRecord(
        id="x1", alert="a-none", anchor=anchor, kind="ack", by="li", role="duty", at=T0
    )
    key, value = action_record(action, "k")
    assert key == b"k" and value.startswith(ACTIONS)
    handled = d.record(2, value, T0, RULES)
    assert [a.id for a in handled.unknown] == ["x1"] and handled.alerts == ()


def test_new_rules_replace_the_rules_of_the_step() -> None:
    d = driver()
    fewer = replace(RULES, rules=RULES.rules[:1])
    d.record(0, rows_body([camera(0, 300)]), T0, fewer)
    assert d.config.rules is fewer


def test_a_late_event_becomes_a_late_rejection() -> None:
    late = late_rejection(LateEvent(camera(0, 300), 3, 90_000, 60_000))
    assert (late.error, late.index) == ("late", 3)
    assert orjson.loads(late.original)["id"] == camera(0, 300).id
