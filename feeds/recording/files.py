"""Recordings of the input topics: the file format, reading, writing and checking them.

Pure: files in, records out (and back); no Kafka, no asyncio. ``feeds/recording/record.py``
and ``feeds/recording/replay.py`` are the Kafka edges. This module is the one to import:
it re-exports the record types (:mod:`feeds.recording.format`) and the replay
timing math (:mod:`feeds.recording.retime`).

Format version 1 is JSON Lines, gzip-compressed when the name ends in ``.gz``:

* line 1, the header: ``{"format": "citybrain-recording", "version": 1,
  "created_ms": <epoch ms>, "topics": [<logical topic>, ...], "source": {...}}``;
* then one line per Kafka record, in the order the recorder received them:
  ``{"topic": "events.camera", "partition": 0, "offset": 42, "ts": <epoch ms>,
  "key": <str or null>, "value": <str>}``. ``topic`` is the logical name (without
  ``kafka.topic_prefix``), ``ts`` the Kafka record timestamp, ``key``/``value``
  the record's bytes decoded as UTF-8. Bytes that are not valid UTF-8 are kept in
  ``key_b64``/``value_b64`` (standard base64) instead, so bad input replays byte
  for byte and the pipeline dead-letters it as it did live.

Parquet (name ends in ``.parquet``) holds the same columns, ``key``/``value``
as binary, the header as JSON under the schema metadata key
``citybrain-recording``; see :mod:`feeds.recording.parquet`.

Errors: reading is strict by default, a damaged line raises
:class:`RecordingError` naming the file and line (a backtest or replay must not
silently run on part of a file). Pass a list as ``errors`` to collect bad lines
instead and go on with the good ones.
"""

from __future__ import annotations

import gzip
import time
import zlib
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Final

import orjson

from alerts.incidents.labels import Label, LabelError
from feeds.recording.format import (
    FORMAT,
    LABELS_TOPIC,
    VERSION,
    RecordedRecord,
    RecordingError,
    RecordingHeader,
)
from feeds.recording.retime import Pacer, ReplayPlan, event_time_ms, retime_value, shift_iso

if TYPE_CHECKING:
    from feeds.recording.parquet import ParquetRecordingWriter

_Stream = IO[bytes] | gzip.GzipFile
_GZIP_MAGIC: Final = b"\x1f\x8b"
_PARQUET_MAGIC: Final = b"PAR1"

__all__ = [
    "FORMAT",
    "LABELS_TOPIC",
    "VERSION",
    "Pacer",
    "RecordedRecord",
    "RecordingError",
    "RecordingHeader",
    "RecordingInfo",
    "RecordingWriter",
    "ReplayPlan",
    "TopicInfo",
    "event_time_ms",
    "labels_in",
    "plan_replay",
    "read_header",
    "read_recording",
    "recording_info",
    "retime_record",
    "retime_value",
    "shift_iso",
    "write_recording",
]


def _is_parquet(path: Path) -> bool:
    return path.suffix.lower() == ".parquet"


class RecordingWriter:
    """Writes a recording; use as ``with RecordingWriter(path, topics=...) as w: w.write(r)``.

    The format follows the name: ``.parquet`` Parquet, ``.gz`` gzip JSON Lines,
    anything else JSON Lines. The header is written at once. JSON Lines are
    flushed to the OS at least every ``flush_interval_s`` seconds (so a recording
    in progress can be read, and a crash loses at most that much); Parquet is
    written a row group at a time and is readable only once closed. Refuses to
    replace an existing file unless ``overwrite``.
    """

    def __init__(
        self,
        path: Path | str,
        *,
        topics: Sequence[str],
        source: Mapping[str, Any] | None = None,
        created_ms: int | None = None,
        flush_interval_s: float = 1.0,
        overwrite: bool = False,
    ) -> None:
        self.path = Path(path)
        self.header = RecordingHeader(
            created_ms=time.time_ns() // 1_000_000 if created_ms is None else created_ms,
            topics=tuple(topics),
            source=dict(source or {}),
        )
        self.records = 0
        self.bytes = 0
        """Uncompressed bytes of the record lines written (JSON Lines), or of keys and values."""
        self._flush_interval_s = flush_interval_s
        self._last_flush = time.monotonic()
        self._parquet: ParquetRecordingWriter | None = None
        self._file: _Stream | None = None
        self._raw: IO[bytes] | None = None
        mode = "wb" if overwrite else "xb"
        if _is_parquet(self.path):
            from feeds.recording.parquet import ParquetRecordingWriter

            self._parquet = ParquetRecordingWriter(self.path, self.header.to_json(), mode)
        else:
            raw = self.path.open(mode)
            self._raw = raw
            self._file = gzip.GzipFile(fileobj=raw, mode="wb") if _is_gzip_name(self.path) else raw
            self._file.write(orjson.dumps(self.header.to_json()) + b"\n")

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def write(self, record: RecordedRecord) -> int:
        """Append ``record``; returns its size in bytes (uncompressed)."""
        if self._parquet is not None:
            size = self._parquet.write(record)
        else:
            if self._file is None:
                raise ValueError(f"{self.path}: recording already closed")
            line = orjson.dumps(record.to_json()) + b"\n"
            self._file.write(line)
            size = len(line)
        self.records += 1
        self.bytes += size
        self.flush_if_due()
        return size

    def flush_if_due(self) -> None:
        """Flush JSON Lines if ``flush_interval_s`` passed since the last flush; a
        recorder calls it while idle too, so quiet periods do not hold records back."""
        now = time.monotonic()
        if self._file is not None and now - self._last_flush >= self._flush_interval_s:
            self.flush()
            self._last_flush = now

    def flush(self) -> None:
        """Push what was written so far to the OS (Parquet: write the pending row group)."""
        if self._parquet is not None:
            self._parquet.flush()
        elif self._file is not None:
            self._file.flush()  # gzip: a sync flush, so what is written so far decompresses

    def close(self) -> None:
        """Flush and close; idempotent."""
        if self._parquet is not None:
            parquet, self._parquet = self._parquet, None
            parquet.close()
        if self._file is not None:
            file, self._file = self._file, None
            file.close()  # gzip: writes the trailer; it leaves the raw file open
            if self._raw is not None and self._raw is not file:
                self._raw.close()


def _is_gzip_name(path: Path) -> bool:
    return path.suffix.lower() == ".gz"


def write_recording(
    path: Path | str,
    records: Iterable[RecordedRecord],
    *,
    topics: Sequence[str] | None = None,
    source: Mapping[str, Any] | None = None,
    created_ms: int | None = None,
    overwrite: bool = False,
) -> int:
    """Write ``records`` (in order) to a new recording at ``path``; returns how many.

    ``topics`` for the header defaults to the topics seen, in order of first appearance.
    """
    records = list(records)
    if topics is None:
        topics = list(dict.fromkeys(r.topic for r in records))
    with RecordingWriter(
        path, topics=topics, source=source, created_ms=created_ms, overwrite=overwrite
    ) as writer:
        for record in records:
            writer.write(record)
    return len(records)


def _sniff(path: Path) -> str:
    with path.open("rb") as f:
        head = f.read(4)
    if head.startswith(_GZIP_MAGIC):
        return "gzip"
    if head == _PARQUET_MAGIC:
        return "parquet"
    return "jsonl"


def read_header(path: Path | str) -> RecordingHeader:
    """The header of the recording at ``path``; :class:`RecordingError` if it is none."""
    path = Path(path)
    if _sniff(path) == "parquet":
        from feeds.recording.parquet import parquet_header

        return RecordingHeader.from_json(parquet_header(path))
    with _open_lines(path) as lines:
        return _header_from_lines(path, lines)


def _open_lines(path: Path) -> _Stream:
    if _sniff(path) == "gzip":
        return gzip.open(path, "rb")
    return path.open("rb")


def _header_from_lines(path: Path, lines: _Stream) -> RecordingHeader:
    try:
        first = lines.readline()
    except (EOFError, OSError, zlib.error) as exc:
        raise RecordingError(f"cannot read the header: {exc}", path=path, line=1) from exc
    if not first.strip():
        raise RecordingError("empty file: no header", path=path, line=1)
    try:
        return RecordingHeader.from_json(orjson.loads(first))
    except (orjson.JSONDecodeError, ValueError) as exc:
        raise RecordingError(str(exc), path=path, line=1) from exc


def read_recording(
    path: Path | str, *, errors: list[RecordingError] | None = None
) -> Iterator[RecordedRecord]:
    """The records of the recording at ``path``, in file order, read as a stream.

    JSON Lines and gzip JSON Lines are read line by line (any size); blank lines
    are skipped. A bad line raises :class:`RecordingError` naming the file and
    line; with ``errors`` given, it is appended there instead and reading goes on
    (a cut-off gzip stream, as a killed recorder leaves, ends the reading).
    A bad or missing header always raises.
    """
    path = Path(path)
    if _sniff(path) == "parquet":
        from feeds.recording.parquet import read_parquet

        yield from read_parquet(path, errors)
        return
    with _open_lines(path) as lines:
        _header_from_lines(path, lines)
        number = 1
        while True:
            try:
                line = lines.readline()
            except (EOFError, OSError, zlib.error) as exc:
                bad = RecordingError(
                    f"compressed stream cut off after this line ({exc})", path=path, line=number
                )
                if errors is None:
                    raise bad from exc
                errors.append(bad)
                return
            if not line:
                return
            number += 1
            if not line.strip():
                continue
            try:
                yield RecordedRecord.from_json(orjson.loads(line))
            except (orjson.JSONDecodeError, ValueError) as exc:
                bad = RecordingError(str(exc), path=path, line=number)
                if errors is None:
                    raise bad from exc
                errors.append(bad)


@dataclass(frozen=True, slots=True)
class TopicInfo:
    """Records of one topic and the range of their Kafka timestamps (epoch ms)."""

    records: int
    first_ts_ms: int
    last_ts_ms: int


@dataclass(frozen=True, slots=True)
class RecordingInfo:
    """What a recording holds. ``first_ts_ms``/``last_ts_ms`` are the earliest and
    latest Kafka timestamps (epoch ms; None when empty); ``errors`` the bad lines
    skipped (only when asked to skip them)."""

    header: RecordingHeader
    records: int
    topics: Mapping[str, TopicInfo]
    first_ts_ms: int | None
    last_ts_ms: int | None
    errors: tuple[RecordingError, ...] = ()

    @property
    def duration_ms(self) -> int:
        """Span of the Kafka timestamps, ms (0 when empty)."""
        if self.first_ts_ms is None or self.last_ts_ms is None:
            return 0
        return self.last_ts_ms - self.first_ts_ms


def recording_info(path: Path | str, *, skip_bad: bool = False) -> RecordingInfo:
    """Counts per topic and the time range of the recording at ``path`` (reads it all).

    Raises :class:`RecordingError` at the first bad line, unless ``skip_bad``.
    """
    errors: list[RecordingError] | None = [] if skip_bad else None
    header = read_header(path)
    counts: dict[str, list[int]] = {}
    for r in read_recording(path, errors=errors):
        c = counts.get(r.topic)
        if c is None:
            counts[r.topic] = [1, r.ts_ms, r.ts_ms]
        else:
            c[0] += 1
            c[1] = min(c[1], r.ts_ms)
            c[2] = max(c[2], r.ts_ms)
    topics = {t: TopicInfo(n, first, last) for t, (n, first, last) in counts.items()}
    return RecordingInfo(
        header=header,
        records=sum(t.records for t in topics.values()),
        topics=topics,
        first_ts_ms=min((t.first_ts_ms for t in topics.values()), default=None),
        last_ts_ms=max((t.last_ts_ms for t in topics.values()), default=None),
        errors=tuple(errors or ()),
    )


def plan_replay(
    records: Iterable[RecordedRecord], speed: float, topics: Collection[str] | None = None
) -> ReplayPlan:
    """Work out a replay of ``records`` (those on ``topics``; default all) at
    ``speed`` (see :class:`Pacer`) in one streaming pass.

    Label records do not bound the event-time shift: a label announces an
    incident's end before it happens.
    """
    pacer = Pacer(speed)
    count = 0
    first: int | None = None
    last: int | None = None
    due = 0.0
    kafka_lead: float | None = None
    event_lead: float | None = None
    seen: dict[str, None] = {}
    for r in records:
        if topics is not None and r.topic not in topics:
            continue
        seen.setdefault(r.topic)
        due = pacer.due_ms(r.ts_ms)
        count += 1
        first = r.ts_ms if first is None else first
        last = r.ts_ms
        lead = due - r.ts_ms
        kafka_lead = lead if kafka_lead is None else min(kafka_lead, lead)
        event_ms = None if r.topic == LABELS_TOPIC else event_time_ms(r.value)
        if event_ms is not None:
            lead = due - event_ms
            event_lead = lead if event_lead is None else min(event_lead, lead)
    return ReplayPlan(
        speed=speed,
        records=count,
        first_ts_ms=first,
        last_ts_ms=last,
        duration_ms=due,
        kafka_lead_ms=kafka_lead,
        event_lead_ms=event_lead,
        topics=tuple(seen),
    )


def retime_record(
    record: RecordedRecord, *, event_shift_ms: int, kafka_shift_ms: int
) -> tuple[RecordedRecord, bool]:
    """``record`` with its Kafka timestamp and event times moved (see
    :func:`retime_value`); the flag says whether the value held a time to move.
    A value without one is kept byte for byte."""
    value = retime_value(record.value, event_shift_ms, label=record.topic == LABELS_TOPIC)
    moved = replace(
        record,
        ts_ms=record.ts_ms + kafka_shift_ms,
        value=record.value if value is None else value,
    )
    return moved, value is not None


def labels_in(records: Iterable[RecordedRecord]) -> list[Label]:
    """The labels on :data:`LABELS_TOPIC` among ``records``, in record order.

    A label record's value is one label object (``Label.to_dict()``) or a JSON
    array of them. Records of other topics are ignored. A label that repeats an
    earlier one exactly (a recording of a replay) is dropped; a bad label, or a
    different label under an id already seen, raises :class:`RecordingError` with
    ``line`` = the record's 1-based position among ``records``.
    """
    found: dict[str, Label] = {}
    for position, record in enumerate(records, start=1):
        if record.topic != LABELS_TOPIC:
            continue
        where = f"record {position} ({record.topic} [{record.partition}] @{record.offset})"
        try:
            doc = orjson.loads(record.value)
            for obj in doc if isinstance(doc, list) else [doc]:
                label = Label.from_dict(obj)
                known = found.setdefault(label.id, label)
                if known != label:
                    raise LabelError(f"label {label.id!r} differs from an earlier one of that id")
        except (orjson.JSONDecodeError, LabelError) as exc:
            raise RecordingError(f"{where}: {exc}", line=position) from exc
    return list(found.values())
