"""The camera log over a table (streams/pipeline/camera_log.py): a worker taking a partition over
reads the newest complete snapshot and the deltas written after it, in order; a
snapshot cut short (its marker never written) is not read; partitions do not mix."""

from __future__ import annotations

from streams.pipeline.camera_log import SNAPSHOT_EVERY_MS, CameraLog, end_key, key_of


def test_the_newest_snapshot_and_its_deltas_are_read_in_order() -> None:
    table: dict[bytes, bytes] = {}
    log = CameraLog(table)
    assert log.snapshot_due(3, 0.0)  # nothing written yet
    log.write(3, [b"s1a", b"s1b"], full=True, wall_ms=0.0)
    log.write(3, [b"d1"], full=False, wall_ms=10.0)
    log.write(5, [b"other"], full=True, wall_ms=10.0)
    assert not log.snapshot_due(3, 10.0)
    log.write(3, [b"s2"], full=True, wall_ms=20.0)
    log.write(3, [b"d2", b"d3"], full=False, wall_ms=30.0)
    assert CameraLog(table).records(3) == [b"s2", b"d2", b"d3"]
    assert CameraLog(table).records(5) == [b"other"]
    assert not any(v in (b"s1a", b"s1b", b"d1") for v in table.values())  # replaced
    assert log.snapshot_due(3, 20.0 + SNAPSHOT_EVERY_MS)


def test_a_snapshot_cut_short_is_not_read_and_the_older_one_is() -> None:
    table: dict[bytes, bytes] = {}
    CameraLog(table).write(1, [b"s1"], full=True, wall_ms=0.0)
    # a worker died while writing its next snapshot: a record sent, its marker (and the
    # older snapshot's deletion, which follows the marker) not
    table[key_of(1, 1, 0)], table[key_of(1, 1, 1)] = b"s2a", b"s2b"
    reader = CameraLog(table)
    assert reader.records(1) == [b"s1"]
    reader.write(1, [b"d"], full=False, wall_ms=6.0)  # the log goes on from what was read
    assert CameraLog(table).records(1) == [b"s1", b"d"]
    reader.write(1, [b"s3"], full=True, wall_ms=7.0)
    assert CameraLog(table).records(1) == [b"s3"]
    assert b"s2b" not in table.values() and end_key(1, 0) not in table
