"""The recording format's data: header, record, their JSON Lines objects, and errors.

Pure. See :mod:`feeds.recording.files` for the format and the functions to read and
write recordings; this module holds what both the JSON Lines and the Parquet
code share.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from citybrain.config.topics import EVENTS_LABELS

FORMAT: Final = "citybrain-recording"
VERSION: Final = 1
LABELS_TOPIC: Final = EVENTS_LABELS
"""Logical topic of labelled incidents (ground truth for backtests)."""

_RECORD_KEYS: Final = frozenset(
    {"topic", "partition", "offset", "ts", "key", "key_b64", "value", "value_b64"}
)


class RecordingError(ValueError):
    """A recording that cannot be read as one; ``path`` and ``line`` (1-based; for
    Parquet the row, for :func:`labels_in` the record position) say where."""

    def __init__(self, message: str, *, path: Path | str | None = None, line: int | None = None):
        self.path = None if path is None else Path(path)
        self.line = line
        self.reason = message
        where = "" if path is None else f"{path}:" + ("" if line is None else f"{line}:")
        super().__init__(f"{where} {message}" if where else message)


@dataclass(frozen=True, slots=True)
class RecordedRecord:
    """One Kafka record as recorded.

    ``topic`` is the logical topic name (no prefix); ``ts_ms`` the Kafka record
    timestamp, epoch ms; ``key``/``value`` the record's bytes, unchanged.
    """

    topic: str
    partition: int
    offset: int
    ts_ms: int
    key: bytes | None
    value: bytes

    def to_json(self) -> dict[str, Any]:
        """The JSON Lines object of this record (``*_b64`` for bytes that are not UTF-8)."""
        obj: dict[str, Any] = {
            "topic": self.topic,
            "partition": self.partition,
            "offset": self.offset,
            "ts": self.ts_ms,
        }
        _put_bytes(obj, "key", self.key)
        _put_bytes(obj, "value", self.value)
        return obj

    @classmethod
    def from_json(cls, obj: object) -> RecordedRecord:
        """Validate a decoded JSON line; ValueError naming the field at fault."""
        if not isinstance(obj, dict):
            raise ValueError(f"a record is a JSON object, got {type(obj).__name__}")
        unknown = obj.keys() - _RECORD_KEYS
        if unknown:
            raise ValueError(f"unknown field(s) {sorted(unknown)}")
        topic = obj.get("topic")
        if not isinstance(topic, str) or not topic:
            raise ValueError("'topic' must be a non-empty string")
        value = _get_bytes(obj, "value")
        if value is None:
            raise ValueError("'value' must be a string ('value_b64' for non-UTF-8 bytes)")
        return cls(
            topic=topic,
            partition=_non_negative_int(obj, "partition"),
            offset=_non_negative_int(obj, "offset"),
            ts_ms=_non_negative_int(obj, "ts"),
            key=_get_bytes(obj, "key"),
            value=value,
        )


def _put_bytes(obj: dict[str, Any], name: str, data: bytes | None) -> None:
    if data is None:
        obj[name] = None
        return
    try:
        obj[name] = data.decode("utf-8")
    except UnicodeDecodeError:
        obj[f"{name}_b64"] = base64.b64encode(data).decode("ascii")


def _get_bytes(obj: Mapping[str, Any], name: str) -> bytes | None:
    b64 = f"{name}_b64"
    if name in obj and b64 in obj:
        raise ValueError(f"both {name!r} and {b64!r} given")
    if b64 in obj:
        encoded = obj[b64]
        if not isinstance(encoded, str):
            raise ValueError(f"{b64!r} must be a base64 string")
        try:
            return base64.b64decode(encoded, validate=True)
        except binascii.Error as exc:
            raise ValueError(f"{b64!r} is not valid base64: {exc}") from exc
    text = obj.get(name)
    if text is not None and not isinstance(text, str):
        raise ValueError(f"{name!r} must be a string or null")
    return None if text is None else text.encode("utf-8")


def _non_negative_int(obj: Mapping[str, Any], name: str) -> int:
    v = obj.get(name)
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"{name!r} must be an integer >= 0, got {v!r}")
    return v


@dataclass(frozen=True, slots=True)
class RecordingHeader:
    """The first line: ``created_ms`` epoch ms, ``topics`` the logical topics asked
    for, ``source`` free-form facts about where it came from (broker, prefix …)."""

    created_ms: int
    topics: tuple[str, ...]
    source: Mapping[str, Any] = field(default_factory=dict)
    version: int = VERSION

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": self.version,
            "created_ms": self.created_ms,
            "topics": list(self.topics),
            "source": dict(self.source),
        }

    @classmethod
    def from_json(cls, obj: object) -> RecordingHeader:
        """Validate a decoded header; ValueError saying what is wrong."""
        if not isinstance(obj, dict) or obj.get("format") != FORMAT:
            raise ValueError(f'not a citybrain recording: line 1 lacks "format": "{FORMAT}"')
        version = obj.get("version")
        if version != VERSION:
            raise ValueError(f"format version {version!r}; this citybrain reads version {VERSION}")
        topics = obj.get("topics", [])
        if not isinstance(topics, list) or not all(isinstance(t, str) for t in topics):
            raise ValueError("header 'topics' must be a list of topic names")
        source = obj.get("source", {})
        if not isinstance(source, dict):
            raise ValueError("header 'source' must be an object")
        return cls(
            created_ms=_non_negative_int(obj, "created_ms"),
            topics=tuple(topics),
            source=source,
        )
