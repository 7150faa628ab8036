"""streams.pipeline.decode for grid worker reports (input kind ``worker``): good ones in WGS-84,
every bad field named in a dead letter, bad records refused whole."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.crs import wgs84_to_bd09, wgs84_to_gcj02
from streams.pipeline.decode import (
    Limits,
    Rejection,
    dead_letter,
    decode_worker_record,
)
from streams.pipeline.events import INPUT_KINDS, KINDS, WorkerReport
from streams.pipeline.records import decode_record

NOW = 1_790_000_000_000
LIMITS = Limits()
REPORT = {
    "id": "gw-7-1",
    "ts": NOW - 1000,
    "lat": 23.0258,
    "lon": 113.1166,
    "worker": "GW-007",
    "status": "online",
    "grid": "G-024",
    "name": "张磊",
}


def decode(value: object) -> tuple[list[WorkerReport], list[Rejection]]:
    raw = value if isinstance(value, bytes) else orjson.dumps(value)
    out = decode_worker_record(raw, NOW, LIMITS)
    return out.reports, out.rejections


def test_worker_is_an_input_kind_but_not_a_cell_pipeline_kind() -> None:
    assert "worker" in INPUT_KINDS and "worker" not in KINDS
    assert set(KINDS) < set(INPUT_KINDS)


def test_good_report_is_kept_as_sent() -> None:
    (report,), rejected = decode(REPORT)
    assert rejected == []
    assert report == WorkerReport(
        id="gw-7-1",
        ts=NOW - 1000,
        lat=23.0258,
        lon=113.1166,
        worker="GW-007",
        status="online",
        grid="G-024",
        name="张磊",
    )


def test_name_defaults_to_the_worker_id_and_iso_time_is_read() -> None:
    bare = {k: v for k, v in REPORT.items() if k != "name"}
    local = datetime.fromtimestamp((NOW - 1000) / 1000, timezone(timedelta(hours=8)))
    assert local.isoformat().endswith("+08:00")
    (report,), _ = decode({**bare, "status": "offline", "ts": local.isoformat()})
    assert report.name == "GW-007" and report.status == "offline"
    assert report.ts == NOW - 1000


@pytest.mark.parametrize("crs,convert", [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_chinese_datums_are_converted_to_wgs84(crs: str, convert) -> None:
    lat, lon = convert(23.0258, 113.1166)
    assert abs(lat - 23.0258) + abs(lon - 113.1166) > 1e-3  # the datum really differs here
    (report,), _ = decode({**REPORT, "lat": lat, "lon": lon, "crs": crs})
    assert math.isclose(report.lat, 23.0258, abs_tol=1e-6)
    assert math.isclose(report.lon, 113.1166, abs_tol=1e-6)


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"id": ""}, "id: String should have at least 1 character"),
        ({"id": None}, "id: Input should be a valid string"),
        ({"ts": True}, "ts: Value error, ts must be epoch milliseconds or ISO-8601, not a boolean"),
        ({"lat": 91}, "lat: Input should be less than or equal to 90"),
        (
            {"lon": "east"},
            "lon: Input should be a valid number, unable to parse string as a number",
        ),
        ({"crs": "utm"}, "crs: Input should be 'wgs84', 'gcj02' or 'bd09'"),
        ({"worker": ""}, "worker: String should have at least 1 character"),
        ({"worker": 7}, "worker: Input should be a valid string"),
        ({"status": "busy"}, "status: Input should be 'online' or 'offline'"),
        ({"status": True}, "status: Input should be 'online' or 'offline'"),
        ({"grid": 24}, "grid: Input should be a valid string"),
        ({"grid": "G" * 129}, "grid: String should have at most 128 characters"),
        ({"name": ""}, "name: String should have at least 1 character"),
        ({"name": ["张磊"]}, "name: Input should be a valid string"),
    ],
)
def test_every_bad_field_is_named(change: dict, reason: str) -> None:
    reports, (rej,) = decode({**REPORT, **change})
    assert reports == []
    assert (rej.error, rej.index, rej.reason) == ("validation", 0, reason)
    assert orjson.loads(rej.original) == {**REPORT, **change}


@pytest.mark.parametrize("missing", ["id", "ts", "lat", "lon", "worker", "status", "grid"])
def test_required_fields(missing: str) -> None:
    _, (rej,) = decode({k: v for k, v in REPORT.items() if k != missing})
    assert rej.error == "validation" and rej.reason == f"{missing}: Field required"


def test_time_bounds() -> None:
    _, (future,) = decode({**REPORT, "ts": NOW + 3_600_000})
    _, (past,) = decode({**REPORT, "ts": NOW - 3 * 86_400_000})
    assert (future.error, future.reason) == (
        "time",
        f"ts {NOW + 3_600_000} is 3600 s in the future",
    )
    assert (past.error, past.reason) == ("time", f"ts {NOW - 3 * 86_400_000} is 259200 s old")


def test_batch_keeps_good_reports_next_to_bad_ones() -> None:
    batch = [REPORT, {**REPORT, "id": "b", "status": "away"}, "nope", {**REPORT, "id": "c"}]
    reports, rejected = decode(batch)
    assert [r.id for r in reports] == ["gw-7-1", "c"]
    assert [(r.index, r.error) for r in rejected] == [(1, "validation"), (2, "shape")]


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (None, "shape"),
        (b"\xff\xfe\x00garbage", "encoding"),
        (b"{not json", "json"),
        (b"42", "shape"),
        (b"[]", "shape"),
    ],
)
def test_bad_records(raw: bytes | None, error: str) -> None:
    out = decode_worker_record(raw, NOW, LIMITS)
    assert out.reports == [] and [(r.error, r.index) for r in out.rejections] == [(error, None)]


def test_oversized_record_is_refused() -> None:
    out = decode_worker_record(b" " * 100 + orjson.dumps(REPORT), NOW, Limits(max_record_bytes=64))
    assert [r.error for r in out.rejections] == ["size"]


def test_dead_letter_of_a_bad_report() -> None:
    _, (rej,) = decode({**REPORT, "status": "busy"})
    letter = dead_letter(rej, topic="events.worker", partition=0, offset=12, at_ms=NOW)
    assert letter["topic"] == "events.worker" and letter["error"] == "validation"
    assert letter["reason"].startswith("status") and letter["index"] == 0
    assert orjson.loads(letter["original"])["worker"] == "GW-007"


def test_camera_decoding_is_unchanged_by_the_refactor() -> None:
    camera = {"id": "r1", "ts": NOW, "lat": 23.02, "lon": 113.11, "people": 4, "area_m2": 20.0}
    out = decode_record("camera", orjson.dumps([camera, REPORT]), NOW, LIMITS)
    assert [e.id for e in out.events] == ["r1"]
    assert [(r.index, r.reason) for r in out.rejections] == [
        (1, "people: Field required; area_m2: Field required")
    ]


_VALUES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.floats()
    | st.text(max_size=8)
)
_ITEMS = st.dictionaries(st.sampled_from([*REPORT, "crs"]), _VALUES, max_size=9)


@settings(max_examples=200, deadline=None)
@given(
    raw=st.binary(max_size=200)
    | st.builds(orjson.dumps, _ITEMS)
    | st.builds(orjson.dumps, st.lists(_ITEMS | _VALUES, max_size=4))
)
def test_decoder_never_raises(raw: bytes) -> None:
    out = decode_worker_record(raw, NOW, LIMITS)
    assert len(out.reports) + len(out.rejections) >= 1
