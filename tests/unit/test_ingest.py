"""The ingest stage over a batch of input records: every record decoded on its own (one
bad event spoils nothing else), the batch's good events routed together."""

from __future__ import annotations

import time

import orjson

from citybrain.config.settings import Settings
from geo.cells import cell_of
from geo.geocode import load_gazetteer
from streams.pipeline.columnar.camera_body import decode_body
from streams.pipeline.config import decode_limits, placement, zone_index
from streams.pipeline.device_rate import Ceiling
from streams.pipeline.events import CameraReading, Ticket, events_of_body
from streams.pipeline.ingest import Ingest, InputPart, InputRecord, bodies, parts_of
from streams.pipeline.placement import partition_of

NOW = int(time.time() * 1000)
SETTINGS = Settings().with_overrides(kafka={"partitions": 4})


def ingest() -> Ingest:
    return Ingest(
        decode_limits(SETTINGS),
        Ceiling(per_s=5, burst=3),
        load_gazetteer(),
        placement(SETTINGS, zone_index(SETTINGS)),
    )


def readings(body: bytes) -> list[CameraReading]:
    """The camera readings of a columnar ``cells.ingest`` body."""
    return decode_body(body).readings()


def cam(i: int, lat: float = 23.0262, lon: float = 113.1158, **kw: object) -> dict[str, object]:
    return {"id": f"c{i}", "ts": NOW, "lat": lat, "lon": lon, "people": 5, "area_m2": 400.0, **kw}


def rec(kind: str, offset: int, value: object) -> InputRecord:
    raw = value if isinstance(value, bytes) else orjson.dumps(value)
    return InputRecord(kind, f"events.{kind}", 0, offset, raw)  # type: ignore[arg-type]


def test_one_event_per_record_is_routed_as_one_batch() -> None:
    stage = ingest()
    place = stage.placement
    records = [rec("camera", i, cam(i, 23.0 + 0.01 * i)) for i in range(10)]
    out = stage.take(records, NOW)
    assert out.records == {"camera": 10} and out.events == {"camera": 10}
    routed = {r.id: partition_of(key, 4) for key, body in out.camera_bodies for r in readings(body)}
    want = {f"c{i}": place.partition(cell_of(23.0 + 0.01 * i, 113.1158, 9)) for i in range(10)}
    assert routed == want
    # one columnar body per partition: a few cells.ingest records, not one per reading
    assert len(out.camera_bodies) == len(set(want.values())) < 10
    assert not out.rejected and not out.groups


def test_bad_records_and_events_are_rejected_with_their_record_and_the_rest_goes_on() -> None:
    out = ingest().take(
        [
            rec("camera", 0, [cam(1), cam(2, people=-1)]),
            rec("camera", 1, b"\xff not json"),
            rec("camera", 2, cam(3)),
        ],
        NOW,
    )
    rejected = [(r.offset, [(x.error, x.index) for x in rs]) for r, rs in out.rejected]
    assert rejected == [(0, [("validation", 1)]), (1, [("encoding", None)])]
    assert sorted(r.id for _, body in out.camera_bodies for r in readings(body)) == ["c1", "c3"]
    assert out.records == {"camera": 3} and out.events == {"camera": 2}


def test_a_device_over_its_ceiling_is_refused_across_records_of_the_batch() -> None:
    same = [rec("camera", i, cam(i, camera="cam-7")) for i in range(5)]  # burst of 3
    out = ingest().take(same, NOW)
    assert [(r.offset, rs[0].error) for r, rs in out.rejected] == [(3, "rate"), (4, "rate")]


def test_tickets_are_masked_located_or_unlocated_and_copied_to_their_halo() -> None:
    ticket = {
        "id": "t1",
        "ts": NOW,
        "channel": "12345",
        "category": "traffic",
        "text": "车辆被困，电话13900001111",
        "address": "佛山市禅城区普澜二路通济桥停车场",
        "caller": "13900001111",
    }
    nowhere = {**ticket, "id": "t2", "address": "某某小区门口", "text": "噪音扰民"}
    out = ingest().take([rec("hotline", 0, [ticket, nowhere])], NOW)
    (located,) = [e for g in out.groups.values() for e in g]
    assert isinstance(located, Ticket) and located.id == "t1" and located.precision == "poi"
    assert "13900001111" not in located.text and located.caller == "139****1111"
    assert [p.id for p in out.private] == ["t1", "t2"]  # unmasked text, for its own topic
    assert [t.id for t in out.unlocated] == ["t2"] and out.geocoded == ["poi"]
    for key, copies in out.halo.items():
        assert key not in out.groups and [t.id for t in copies] == ["t1"]


def test_bodies_cut_a_long_group_in_order_and_under_the_size() -> None:
    readings = [
        CameraReading(f"r{i}", NOW, 23.0, 113.1, "89411c", f"cam-{i}", i, 400.0) for i in range(50)
    ]
    (whole,) = bodies(readings)
    cut = list(bodies(readings, max_bytes=len(whole) // 3))
    assert len(cut) >= 3 and all(len(b) <= len(whole) // 3 for b in cut)
    assert [e for b in cut for e in events_of_body(b)] == readings


def test_parts_keep_each_rejected_record_where_it_was_read() -> None:
    """A batch fetched from several partitions (one part each): the camera records of all
    parts are decoded together, and each refused record is named by its own partition
    and offset."""
    good = [cam(i, 23.0 + 0.01 * i) for i in range(6)]
    first = InputPart(
        "camera", "events.camera", 0, [10, 11, 12], [orjson.dumps(c) for c in good[:3]]
    )
    second = InputPart(
        "camera",
        "events.camera",
        3,
        [70, 71, 72, 73],
        [orjson.dumps(good[3]), b"{not json", orjson.dumps(good[4]), None],
    )
    sensors = parts_of([rec("sensor", 5, {"id": "s1"})])  # invalid: refused on its own
    out = ingest().take_parts([first, *sensors, second], NOW)
    assert out.records == {"camera": 7, "sensor": 1} and out.events["camera"] == 5
    refused = sorted((r.kind, r.partition, r.offset) for r, _ in out.rejected)
    assert refused == [("camera", 3, 71), ("camera", 3, 73), ("sensor", 0, 5)]
    kept = sorted(r.id for _, body in out.camera_bodies for r in readings(body))
    assert kept == sorted(f"c{i}" for i in range(5))


def test_parts_of_cuts_records_into_runs_of_one_partition_in_order() -> None:
    records = [
        rec("camera", 0, {}),
        rec("camera", 1, {}),
        rec("sensor", 2, {}),
        rec("camera", 3, {}),
    ]
    parts = parts_of(records)
    assert [(p.kind, list(p.offsets)) for p in parts] == [
        ("camera", [0, 1]),
        ("sensor", [2]),
        ("camera", [3]),
    ]
    assert [parts[i].record(j) for i, j in ((0, 0), (0, 1), (1, 0), (2, 0))] == records
