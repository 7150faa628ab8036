"""feeds.recording.files: the file format (JSON Lines, gzip, Parquet), its errors, labels."""

from __future__ import annotations

import base64
import gzip
from pathlib import Path

import orjson
import pytest

from alerts.incidents.labels import Label
from feeds.recording.files import (
    FORMAT,
    LABELS_TOPIC,
    RecordedRecord,
    RecordingError,
    RecordingWriter,
    labels_in,
    read_header,
    read_recording,
    recording_info,
    write_recording,
)

T0 = 1_739_359_800_000  # 2025-02-12 19:30 China Standard Time
CAMERA = orjson.dumps({"id": "c1", "ts": T0, "lat": 23.0258, "lon": 113.1166, "people": 40})
LABEL = Label(
    "sim-crowd",
    "通济桥 crowd surge",
    T0,
    T0 + 330_000,
    23.0258,
    113.1166,
    400.0,
    ("crowd.density",),
)

RECORDS = [
    RecordedRecord("events.camera", 0, 10, T0, None, CAMERA),
    RecordedRecord("events.hotline", 1, 3, T0 + 250, b"k1", '{"text": "停车场"}'.encode()),
    RecordedRecord("events.camera", 0, 11, T0 + 500, b"\xfe\xff", b"\xff\xfe not utf-8 \x00"),
    RecordedRecord(LABELS_TOPIC, 0, 0, T0 + 600, b"sim-crowd", orjson.dumps(LABEL.to_dict())),
    RecordedRecord("events.sensor", 2, 7, T0 + 400, b"", b""),
]


@pytest.mark.parametrize("name", ["r.jsonl", "r.jsonl.gz", "r.parquet"])
def test_round_trip_keeps_every_byte_and_the_order(tmp_path: Path, name: str) -> None:
    path = tmp_path / name
    assert write_recording(path, RECORDS, source={"topic_prefix": "cb."}, created_ms=T0) == 5
    assert list(read_recording(path)) == RECORDS
    header = read_header(path)
    assert header.created_ms == T0 and header.source == {"topic_prefix": "cb."}
    assert header.topics == ("events.camera", "events.hotline", LABELS_TOPIC, "events.sensor")


def test_jsonl_lines_are_the_documented_objects(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    write_recording(path, RECORDS, topics=["events.camera"], created_ms=T0)
    lines = [orjson.loads(x) for x in path.read_bytes().splitlines()]
    assert lines[0] == {
        "format": FORMAT,
        "version": 1,
        "created_ms": T0,
        "topics": ["events.camera"],
        "source": {},
    }
    assert lines[1] == {
        "topic": "events.camera",
        "partition": 0,
        "offset": 10,
        "ts": T0,
        "key": None,
        "value": CAMERA.decode(),
    }
    assert lines[2]["value"] == '{"text": "停车场"}' and lines[2]["key"] == "k1"
    # Bytes that are not UTF-8 are kept as base64, under another name.
    assert "value" not in lines[3] and "key" not in lines[3]
    assert base64.b64decode(lines[3]["value_b64"]) == b"\xff\xfe not utf-8 \x00"
    assert base64.b64decode(lines[3]["key_b64"]) == b"\xfe\xff"


def test_gzip_is_read_by_content_not_by_name(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"
    write_recording(path, RECORDS)
    assert path.read_bytes()[:2] == b"\x1f\x8b"
    renamed = path.rename(tmp_path / "r.jsonl")
    assert list(read_recording(renamed)) == RECORDS


def test_writer_flushes_so_a_recording_in_progress_is_readable(tmp_path: Path) -> None:
    for name in ("live.jsonl", "live.jsonl.gz"):
        path = tmp_path / name
        with RecordingWriter(path, topics=["events.camera"], flush_interval_s=0.0) as w:
            w.write(RECORDS[0])
            w.write(RECORDS[1])
            assert w.records == 2 and w.bytes > len(CAMERA)
            if name.endswith(".gz"):
                # A cut-off gzip stream (the recorder killed now) still yields both records.
                problems: list[RecordingError] = []
                assert list(read_recording(path, errors=problems)) == RECORDS[:2]
                assert len(problems) == 1 and "cut off" in str(problems[0])
            else:
                assert list(read_recording(path)) == RECORDS[:2]


def test_writer_refuses_to_replace_a_file_unless_asked(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text("keep me")
    with pytest.raises(FileExistsError):
        RecordingWriter(path, topics=[])
    assert path.read_text() == "keep me"
    write_recording(path, RECORDS[:1], overwrite=True)
    assert list(read_recording(path)) == RECORDS[:1]


def _jsonl(path: Path, *lines: object) -> Path:
    header = {"format": FORMAT, "version": 1, "created_ms": T0, "topics": [], "source": {}}
    body = [orjson.dumps(header)] + [
        x.encode() if isinstance(x, str) else orjson.dumps(x) for x in lines
    ]
    path.write_bytes(b"\n".join(body) + b"\n")
    return path


GOOD = {"topic": "events.camera", "partition": 0, "offset": 1, "ts": T0, "key": None, "value": "{}"}


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ('{"topic": "events.camera", "partition": 0,', "unexpected end|EOF"),
        ("[1, 2]", "JSON object"),
        ({**GOOD, "partition": -1}, "'partition' must be an integer >= 0"),
        ({**GOOD, "ts": "2025-02-12T19:30:00+08:00"}, "'ts' must be an integer"),
        ({**GOOD, "offset": True}, "'offset' must be an integer"),
        ({**GOOD, "topic": ""}, "'topic' must be a non-empty string"),
        ({k: v for k, v in GOOD.items() if k != "value"}, "'value' must be a string"),
        ({**GOOD, "value_b64": "AA=="}, "both 'value' and 'value_b64'"),
        ({**{k: v for k, v in GOOD.items() if k != "value"}, "value_b64": "*"}, "not valid base64"),
        ({**GOOD, "key": 7}, "'key' must be a string or null"),
        ({**GOOD, "vlaue": "x"}, r"unknown field\(s\) \['vlaue'\]"),
    ],
)
def test_a_bad_line_raises_naming_file_and_line(tmp_path: Path, bad: object, message: str) -> None:
    path = _jsonl(tmp_path / "bad.jsonl", GOOD, "", bad, GOOD)
    with pytest.raises(RecordingError, match=message) as caught:
        list(read_recording(path))
    assert caught.value.line == 4  # header, good, blank, bad
    assert caught.value.path == path
    assert str(caught.value).startswith(f"{path}:4: ")


def test_bad_lines_can_be_collected_instead(tmp_path: Path) -> None:
    path = _jsonl(tmp_path / "bad.jsonl", GOOD, "not json", {**GOOD, "offset": 2}, {"x": 1})
    problems: list[RecordingError] = []
    records = list(read_recording(path, errors=problems))
    assert [r.offset for r in records] == [1, 2]
    assert [p.line for p in problems] == [3, 5]
    info = recording_info(path, skip_bad=True)
    assert info.records == 2 and [e.line for e in info.errors] == [3, 5]
    with pytest.raises(RecordingError):
        recording_info(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b'{"format": "something-else"}\n', "not a citybrain recording"),
        (b'{"format": "citybrain-recording", "version": 2, "created_ms": 1}\n', "version 2"),
        (b"\xff\xfe\n", "line 1|unexpected|invalid|utf-8"),
    ],
)
def test_a_bad_header_always_raises(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_bytes(content)
    with pytest.raises(RecordingError, match=message) as caught:
        list(read_recording(path, errors=[]))
    assert caught.value.line == 1


def test_parquet_bad_rows_name_the_row(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from feeds.recording.parquet import SCHEMA

    rows = {
        "topic": ["events.camera", "", "events.camera"],
        "partition": [0, 0, 0],
        "offset": [1, 2, 3],
        "ts": [T0, T0, T0],
        "key": [None, None, None],
        "value": [b"{}", b"{}", b"{}"],
    }
    header = orjson.dumps({"format": FORMAT, "version": 1, "created_ms": T0, "topics": []})
    schema = SCHEMA.with_metadata({FORMAT.encode(): header})
    path = tmp_path / "bad.parquet"
    pq.write_table(pa.table(rows, schema=schema), path)
    with pytest.raises(RecordingError, match="topic") as caught:
        list(read_recording(path))
    assert caught.value.line == 2
    problems: list[RecordingError] = []
    assert [r.offset for r in read_recording(path, errors=problems)] == [1, 3]
    pq.write_table(pa.table(rows), tmp_path / "plain.parquet")
    with pytest.raises(RecordingError, match="header"):
        list(read_recording(tmp_path / "plain.parquet"))


def test_info_counts_per_topic_and_time_range(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"
    write_recording(path, RECORDS)
    info = recording_info(path)
    assert info.records == 5
    assert info.topics["events.camera"].records == 2
    assert (info.topics["events.camera"].first_ts_ms, info.topics["events.camera"].last_ts_ms) == (
        T0,
        T0 + 500,
    )
    assert (info.first_ts_ms, info.last_ts_ms, info.duration_ms) == (T0, T0 + 600, 600)
    empty = tmp_path / "empty.jsonl"
    write_recording(empty, [], topics=["events.camera"])
    assert recording_info(empty).records == 0 and recording_info(empty).first_ts_ms is None


def _label_record(position_value: bytes, offset: int = 0) -> RecordedRecord:
    return RecordedRecord(LABELS_TOPIC, 0, offset, T0, None, position_value)


def test_labels_in_reads_label_records_in_order() -> None:
    other = Label(
        "calls", "calls", T0 + 60_000, T0 + 210_000, 23.0236, 113.1184, 400.0, ("hotline.cluster",)
    )
    records = [
        *RECORDS,
        _label_record(orjson.dumps([other.to_dict()]), 1),
        _label_record(orjson.dumps(LABEL.to_dict()), 2),  # the same label again: once
    ]
    assert labels_in(records) == [LABEL, other]
    assert labels_in(RECORDS[:3]) == []


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (b"\xff not json", "record 2 \\(events.labels \\[0\\] @5\\)"),
        (orjson.dumps({**LABEL.to_dict(), "end_ms": T0 - 1}), "end_ms .* before start_ms"),
        (orjson.dumps({**LABEL.to_dict(), "lat": 123.0}), "out of range"),
        (orjson.dumps({**LABEL.to_dict(), "name": "other"}), "differs from an earlier one"),
    ],
)
def test_a_bad_label_raises_with_its_position(value: bytes, message: str) -> None:
    records = [_label_record(orjson.dumps(LABEL.to_dict())), _label_record(value, 5)]
    with pytest.raises(RecordingError, match=message) as caught:
        labels_in(records)
    assert caught.value.line == 2


def test_gzip_name_writes_gzip(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl.gz"
    write_recording(path, RECORDS[:1], created_ms=T0)
    first = gzip.decompress(path.read_bytes()).splitlines()[0]
    assert orjson.loads(first)["format"] == FORMAT
