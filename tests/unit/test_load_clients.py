"""citybrain.load_clients: reading server messages cheaply and correctly."""

from __future__ import annotations

import orjson
import pytest

from citybrain.load_clients import cell_updates, peek_head, read_head


def test_peek_head_reads_the_start_the_server_writes() -> None:
    msg = orjson.dumps({"type": "cells", "server_time": 1_765_000_000_123, "cells": []})
    assert peek_head(msg) == ("cells", 1_765_000_000_123)
    assert peek_head(b'{"type":"pong","server_time":5}') == ("pong", 5)
    assert peek_head(b'{"server_time":5,"type":"cells"}') is None  # other key order
    assert peek_head(b'{"type":"cells","server_time":"5"}') is None
    assert peek_head(b"not json") is None
    # only the start is looked at: a long message is not scanned
    assert peek_head(b" " * 100 + b'{"type":"cells","server_time":1}') is None


def test_read_head_falls_back_to_parsing() -> None:
    assert read_head(b'{"type":"cells","server_time":7,"cells":[]}') == ("cells", 7)
    assert read_head(b'{"server_time": 9, "type": "cells"}') == ("cells", 9)
    assert read_head(b'{"type": "error", "error": "x"}') == ("error", None)
    for bad in (b"[1, 2]", b'{"type": 3}', b"{nope"):
        with pytest.raises(ValueError):
            read_head(bad)


def test_cell_updates_lists_cells_and_checks_the_shape() -> None:
    msg = orjson.dumps(
        {
            "type": "cells",
            "server_time": 1,
            "cells": [
                {"cell": "89a", "updated_at": 10, "people": 3},
                {"cell": "89b", "updated_at": 12},
            ],
            "removed": [],
        }
    )
    assert list(cell_updates(msg)) == [("89a", 10), ("89b", 12)]
    for bad in (
        b'{"type":"cells"}',
        b'{"type":"cells","cells":[1]}',
        b'{"type":"cells","cells":[{"cell":"89a"}]}',
        b'{"type":"cells","cells":[{"cell":5,"updated_at":1}]}',
    ):
        with pytest.raises(ValueError):
            list(cell_updates(bad))
