"""The input contract: good events normalised, every bad one rejected with a reason."""

import json
import math

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from geo.cells import cell_of
from geo.crs import wgs84_to_bd09, wgs84_to_gcj02
from streams.pipeline.decode import Limits, mask_phone
from streams.pipeline.events import CameraReading, SensorReading, Ticket
from streams.pipeline.records import decode_record
from tests.bad_events import BadEvent, BadRecord, bad_events, bad_records, good_camera

NOW = 1_790_000_000_000
LIMITS = Limits()
CAMERA = {"id": "r1", "ts": NOW - 1000, "lat": 23.02, "lon": 113.11, "people": 40, "area_m2": 200.0}


def decode(kind: str, value: object) -> tuple[list, list]:
    raw = value if isinstance(value, bytes) else orjson.dumps(value)
    out = decode_record(kind, raw, NOW, LIMITS)  # type: ignore[arg-type]
    return out.events, out.rejections


def test_camera_event_is_normalised_and_indexed() -> None:
    (ev,), rejected = decode("camera", CAMERA)
    assert rejected == []
    assert isinstance(ev, CameraReading)
    assert ev.cell == cell_of(23.02, 113.11, 9)
    assert ev.camera == "r1" and ev.people == 40 and ev.area_m2 == 200.0


def test_batch_keeps_good_events_next_to_bad_ones() -> None:
    batch = [CAMERA, {**CAMERA, "id": "r2", "people": -3}, "nope", {**CAMERA, "id": "r3"}]
    events, rejected = decode("camera", batch)
    assert [e.id for e in events] == ["r1", "r3"]
    assert [(r.index, r.error) for r in rejected] == [(1, "validation"), (2, "shape")]
    assert "people" in rejected[0].reason


@pytest.mark.parametrize("crs,convert", [("gcj02", wgs84_to_gcj02), ("bd09", wgs84_to_bd09)])
def test_chinese_datums_are_converted_to_wgs84(crs: str, convert) -> None:
    lat, lon = convert(23.02, 113.11)
    assert abs(lat - 23.02) + abs(lon - 113.11) > 1e-3  # the datum really differs here
    (ev,), _ = decode(
        "sensor",
        {"id": "s", "ts": NOW, "lat": lat, "lon": lon, "crs": crs, "type": "smoke", "value": 1.0},
    )
    assert isinstance(ev, SensorReading)
    assert math.isclose(ev.lat, 23.02, abs_tol=1e-5) and math.isclose(ev.lon, 113.11, abs_tol=1e-5)


def test_iso_timestamps_need_an_offset() -> None:
    lenient = Limits(max_age_ms=10**13)
    # 2024-01-01T00:00:00Z is 1704067200 s after the epoch
    for text in ("2024-01-01T08:00:00+08:00", "2024-01-01T00:00:00Z", "2024-01-01T00:00:00+00:00"):
        out = decode_record("camera", orjson.dumps({**CAMERA, "ts": text}), NOW, lenient)
        assert [e.ts for e in out.events] == [1_704_067_200_000]
    _, (rej,) = decode("camera", {**CAMERA, "ts": "2024-01-01T08:00:00"})
    assert "offset" in rej.reason


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"\xff\xfe\x00garbage", "encoding"),
        (b"{not json", "json"),
        (b"NaN", "json"),
        (b'{"id": "x", "ts": 1, "lat": Infinity}', "json"),
        (b"42", "shape"),
        (b"[]", "shape"),
        (b"[" * 5000 + b"]" * 5000, "json"),
    ],
)
def test_bad_records(raw: bytes, error: str) -> None:
    events, (rej,) = decode("camera", raw)
    assert events == [] and rej.error == error and rej.index is None


def test_oversized_record_is_refused_before_parsing() -> None:
    out = decode_record(
        "camera", b" " * 100 + orjson.dumps(CAMERA), NOW, Limits(max_record_bytes=64)
    )
    assert [r.error for r in out.rejections] == ["size"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"lat": 91}, "lat"), ({"lon": -181}, "lon"), ({"people": 1.5}, "people"),
        ({"people": True}, "people"), ({"area_m2": 0}, "area_m2"), ({"crs": "utm"}, "crs"),
        ({"id": ""}, "id"), ({"ts": True}, "ts"), ({"id": None}, "id"),
    ],
)  # fmt: skip
def test_invalid_fields_are_named(change: dict, field: str) -> None:
    _, (rej,) = decode("camera", {**CAMERA, **change})
    assert rej.error == "validation" and rej.reason.startswith(field)


def test_missing_fields_and_time_bounds() -> None:
    _, (rej,) = decode("camera", {k: v for k, v in CAMERA.items() if k != "area_m2"})
    assert "area_m2" in rej.reason
    _, (future,) = decode("camera", {**CAMERA, "ts": NOW + 3_600_000})
    _, (past,) = decode("camera", {**CAMERA, "ts": NOW - 3 * 86_400_000})
    assert future.error == past.error == "time"


def test_hotline_without_coordinates_keeps_its_address_and_masks_caller() -> None:
    ticket = {
        "id": "t1",
        "ts": NOW,
        "channel": "12345",
        "category": "traffic",
        "text": "车辆被困",
        "address": "佛山市禅城区祖庙路",
        "caller": "13812345678",
    }
    (ev,), _ = decode("hotline", ticket)
    assert isinstance(ev, Ticket) and ev.cell is None and ev.caller == "138****5678"
    _, (rej,) = decode("hotline", {k: v for k, v in ticket.items() if k != "address"})
    assert "lat/lon or address" in rej.reason
    _, (rej,) = decode("hotline", {**ticket, "channel": "911"})
    assert rej.reason.startswith("channel")


def test_mask_phone() -> None:
    assert mask_phone("+86 138-1234-5678") == "138****5678"  # the country code dropped
    assert mask_phone("13812345678") == "138****5678"
    assert mask_phone("12345") == "*****"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(max_size=8), c, max_size=6),
    max_leaves=30,
)
contract_keys = st.sampled_from(
    [
        "id",
        "ts",
        "lat",
        "lon",
        "crs",
        "people",
        "area_m2",
        "type",
        "value",
        "alarm",
        "channel",
        "category",
        "text",
        "caller",
    ]
)
event_like = st.dictionaries(contract_keys, json_values, max_size=10)


@settings(max_examples=400, deadline=None)
@given(
    st.binary(max_size=300)
    | json_values.map(lambda v: json.dumps(v).encode())  # may hold NaN, Infinity, huge ints
    | st.lists(event_like, max_size=4).map(lambda v: json.dumps(v).encode())
)
def test_decoder_never_raises(raw: bytes) -> None:
    for kind in ("camera", "sensor", "hotline"):
        out = decode_record(kind, raw, NOW, LIMITS)  # type: ignore[arg-type]
        assert len(out.events) + len(out.rejections) >= 1
        assert all(r.reason for r in out.rejections)


@pytest.mark.parametrize("bad", bad_events(NOW, "u"), ids=lambda b: b.name)
def test_corpus_bad_event_is_rejected_alone_in_its_batch(bad: BadEvent) -> None:
    goods = [good_camera(NOW, n, (23.02, 113.11), "u") for n in range(2)]
    if bad.kind != "camera":  # a batch of the bad event's own kind: its good twin
        goods = [{**bad.event, **_fixes(bad)} for _ in range(2)]
        goods = [{**g, "id": f"u-ok-{i}"} for i, g in enumerate(goods)]
    out = decode_record(bad.kind, orjson.dumps([goods[0], bad.event, goods[1]]), NOW, LIMITS)  # type: ignore[arg-type]
    assert len(out.events) == 2, out.rejections
    (rej,) = out.rejections
    assert (rej.error, rej.index) == (bad.error, 1)
    assert bad.fragment in rej.reason


def _fixes(bad: BadEvent) -> dict:
    """What turns a non-camera corpus event back into a valid one."""
    return {
        "sensor-nan": {"value": 1.0},
        "sensor-kind-mismatch": {"kind": "sensor"},
        "hotline-channel": {"channel": "110"},
        "hotline-nowhere": {"address": "佛山市禅城区祖庙路"},
        "hotline-long-text": {"text": "堵"},
    }[bad.name]


@pytest.mark.parametrize("bad", bad_records("camera", "u"), ids=lambda b: b.name)
def test_corpus_bad_record_is_rejected_whole(bad: BadRecord) -> None:
    out = decode_record("camera", bad.raw, NOW, LIMITS)
    assert out.events == []
    (rej,) = out.rejections
    assert (rej.error, rej.index) == (bad.error, None) and bad.fragment in rej.reason
    assert len(rej.original) <= max(len(bad.raw), 1024) and (
        bad.error != "size" or len(rej.original) == 1024
    )


# JSON that orjson writes and reads (64-bit ints, finite floats): the record stays
# readable, so only the junk events themselves may be refused
valid_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda c: st.lists(c, max_size=5) | st.dictionaries(st.text(max_size=8), c, max_size=6),
    max_leaves=30,
)
event_like_json = valid_json | st.dictionaries(contract_keys, valid_json, max_size=10)


@settings(max_examples=200, deadline=None)
@given(st.lists(event_like_json, max_size=6), st.integers(0, 6))
def test_fuzzed_events_never_spoil_the_valid_ones_next_to_them(junk: list, at: int) -> None:
    goods = [good_camera(NOW, n, (23.02, 113.11), "f") for n in range(3)]
    batch = [*junk[:at], goods[0], *junk[at:], goods[1], goods[2]]
    out = decode_record("camera", orjson.dumps(batch), NOW, LIMITS)
    assert len(out.events) + len(out.rejections) == len(batch)
    assert {e.id for e in out.events} >= {g["id"] for g in goods}
    assert all(r.index is not None and r.reason for r in out.rejections)
