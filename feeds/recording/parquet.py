"""Parquet recordings: the JSON Lines format's columns, in a Parquet file (pyarrow).

Columns: ``topic`` (string, logical name), ``partition`` (int32), ``offset``
(int64), ``ts`` (int64, Kafka timestamp, epoch ms), ``key`` (binary, null when
the record had none), ``value`` (binary). Bytes are stored as they are, so no
base64 is needed. The header (:class:`~feeds.recording.format.RecordingHeader`
as JSON) is the schema metadata under the key ``citybrain-recording``.
``key``/``value`` columns of type string are read too (as UTF-8).

Imported only when a Parquet recording is written or read: pyarrow is large.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Final

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from feeds.recording.format import FORMAT, RecordedRecord, RecordingError

ROW_GROUP_ROWS: Final = 65_536
"""Records buffered before a row group is written."""
READ_BATCH_ROWS: Final = 8_192
COLUMNS: Final = ("topic", "partition", "offset", "ts", "key", "value")
SCHEMA: Final = pa.schema(
    [
        pa.field("topic", pa.string(), nullable=False),
        pa.field("partition", pa.int32(), nullable=False),
        pa.field("offset", pa.int64(), nullable=False),
        pa.field("ts", pa.int64(), nullable=False),
        pa.field("key", pa.binary(), nullable=True),
        pa.field("value", pa.binary(), nullable=False),
    ]
)
_META_KEY: Final = FORMAT.encode()


class ParquetRecordingWriter:
    """Buffers records and writes them a row group at a time; the file is only
    readable once :meth:`close` wrote its footer."""

    def __init__(self, path: Path, header: Mapping[str, Any], mode: str) -> None:
        self._file: IO[bytes] = path.open(mode)
        try:
            self._schema = SCHEMA.with_metadata({_META_KEY: orjson.dumps(dict(header))})
            self._writer = pq.ParquetWriter(self._file, self._schema)
        except BaseException:
            self._file.close()
            raise
        self._rows: dict[str, list[Any]] = {c: [] for c in COLUMNS}

    def write(self, r: RecordedRecord) -> int:
        """Buffer ``r``; returns its key and value bytes."""
        for name, v in zip(
            COLUMNS, (r.topic, r.partition, r.offset, r.ts_ms, r.key, r.value), strict=True
        ):
            self._rows[name].append(v)
        if len(self._rows["topic"]) >= ROW_GROUP_ROWS:
            self.flush()
        return len(r.value) + len(r.key or b"")

    def flush(self) -> None:
        """Write the buffered records as one row group."""
        if self._rows["topic"]:
            self._writer.write_table(pa.table(self._rows, schema=self._schema))
            self._rows = {c: [] for c in COLUMNS}

    def close(self) -> None:
        try:
            self.flush()
            self._writer.close()
        finally:
            self._file.close()


def _open(path: Path) -> Any:
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise RecordingError(f"not a readable Parquet file: {exc}", path=path) from exc


def parquet_header(path: Path) -> object:
    """The decoded header JSON of a Parquet recording."""
    metadata = _open(path).schema_arrow.metadata or {}
    raw = metadata.get(_META_KEY)
    if raw is None:
        raise RecordingError(f"Parquet file without a {FORMAT!r} header", path=path)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise RecordingError(f"header is not JSON: {exc}", path=path) from exc


def _bytes(v: object, name: str) -> bytes | None:
    if v is None or isinstance(v, bytes):
        return v
    if isinstance(v, str):
        return v.encode("utf-8")
    raise ValueError(f"{name!r} must be binary or string, got {type(v).__name__}")


def _int(v: object, name: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"{name!r} must be an integer >= 0, got {v!r}")
    return v


def _record(row: Mapping[str, object]) -> RecordedRecord:
    topic = row["topic"]
    if not isinstance(topic, str) or not topic:
        raise ValueError("'topic' must be a non-empty string")
    value = _bytes(row["value"], "value")
    if value is None:
        raise ValueError("'value' must not be null")
    return RecordedRecord(
        topic=topic,
        partition=_int(row["partition"], "partition"),
        offset=_int(row["offset"], "offset"),
        ts_ms=_int(row["ts"], "ts"),
        key=_bytes(row["key"], "key"),
        value=value,
    )


def read_parquet(path: Path, errors: list[RecordingError] | None) -> Iterator[RecordedRecord]:
    """Records of a Parquet recording in row order, a batch at a time; a bad row
    raises (``line`` = the 1-based row) or, with ``errors``, is collected there."""
    parquet_header(path)
    file = _open(path)
    missing = [c for c in COLUMNS if c not in file.schema_arrow.names]
    if missing:
        raise RecordingError(f"Parquet recording lacks column(s) {missing}", path=path)
    row = 0
    for batch in file.iter_batches(batch_size=READ_BATCH_ROWS, columns=list(COLUMNS)):
        columns = {c: batch.column(c).to_pylist() for c in COLUMNS}
        for i in range(batch.num_rows):
            row += 1
            try:
                yield _record({c: columns[c][i] for c in COLUMNS})
            except ValueError as exc:
                bad = RecordingError(str(exc), path=path, line=row)
                if errors is None:
                    raise bad from exc
                errors.append(bad)
