"""Websocket fan-out (web/fanout.py): one serialised message for all, in order per client;
a dead, stuck or flooded client is dropped and counted without holding up the others."""

from __future__ import annotations

import asyncio
import time

import pytest
from prometheus_client import REGISTRY

from web.fanout import Fanout


class FakeSocket:
    """Records what it is sent; ``mode`` makes it fail, hang on send, or hang on close."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode
        self.got: list[str] = []
        self.closed = False
        self.close_code: int | None = None
        self.aborted = False

    async def send_str(self, data: str, compress: int | None = None) -> None:
        if self.mode == "dead":
            raise ConnectionResetError("Cannot write to closing transport")
        if self.mode in ("stuck", "stuck-close", "close-cancelled"):
            await asyncio.Event().wait()
        self.got.append(data)

    async def close(self, *, code: int = 1000, message: bytes = b"", drain: bool = True) -> bool:
        self.close_code = code
        if self.mode == "stuck-close":
            await asyncio.Event().wait()
        if self.mode == "close-cancelled":  # what aiohttp does after a cancelled send
            raise asyncio.CancelledError
        self.closed = True
        return True

    def abort(self) -> None:
        self.aborted = True


def dropped(reason: str) -> float:
    return REGISTRY.get_sample_value("citybrain_ws_dropped_total", {"reason": reason}) or 0.0


async def settle() -> None:
    """Let the writer tasks run (each send is a few event-loop turns)."""
    await asyncio.sleep(0.05)


def connect(fanout: Fanout, ws: FakeSocket, first: str = "snapshot") -> None:
    fanout.add(ws, peer=ws.mode, abort=ws.abort).start(first)


@pytest.mark.asyncio
async def test_every_client_gets_the_same_string_in_order_after_its_snapshot() -> None:
    fanout = Fanout(queue_max=10, send_timeout_s=1)
    a, b = FakeSocket(), FakeSocket()
    client_a = fanout.add(a, peer="a", abort=a.abort)
    fanout.broadcast("m1")  # before the snapshot was read: waits behind it
    client_a.start("snapshot-a")
    connect(fanout, b, "snapshot-b")
    message = "".join(["m", "2"])
    fanout.broadcast(message)
    await settle()
    assert a.got == ["snapshot-a", "m1", "m2"] and b.got == ["snapshot-b", "m2"]
    assert a.got[-1] is message and b.got[-1] is message  # serialised once, shared
    for client in list(fanout.clients):
        await fanout.remove(client)
    assert not fanout.clients


@pytest.mark.asyncio
async def test_dead_and_stuck_clients_are_dropped_without_holding_up_the_others() -> None:
    failed, timed_out = dropped("send_failed"), dropped("send_timeout")
    fanout = Fanout(queue_max=100, send_timeout_s=0.3)
    ok, dead, stuck = FakeSocket(), FakeSocket("dead"), FakeSocket("stuck")
    for ws in (ok, dead, stuck):
        connect(fanout, ws)
    started = time.monotonic()
    for i in range(20):
        fanout.broadcast(f"m{i}")
    await settle()
    assert ok.got == ["snapshot", *(f"m{i}" for i in range(20))]
    assert time.monotonic() - started < 0.25  # the fast client did not wait for the stuck one
    assert dead.closed and dead.close_code == 1013
    assert dropped("send_failed") == failed + 1
    await asyncio.sleep(0.5)
    assert stuck.closed and stuck.close_code == 1013 and not stuck.aborted
    assert dropped("send_timeout") == timed_out + 1
    fanout.broadcast("later")
    await settle()
    assert ok.got[-1] == "later" and dead.got == [] and stuck.got == []
    for client in list(fanout.clients):
        await fanout.remove(client)


@pytest.mark.asyncio
async def test_a_client_whose_queue_overflows_is_dropped_and_aborted_if_close_hangs() -> None:
    full = dropped("queue_full")
    fanout = Fanout(queue_max=2, send_timeout_s=0.2)
    ws = FakeSocket("stuck-close")
    client = fanout.add(ws, peer="slow", abort=ws.abort)  # never started: nothing drains
    for i in range(3):
        fanout.broadcast(f"m{i}")
    fanout.broadcast("ignored once dropped")
    assert client.dropped == "queue_full" and dropped("queue_full") == full + 1
    await asyncio.sleep(0.4)
    assert ws.close_code == 1013 and ws.aborted
    await fanout.remove(client)


@pytest.mark.asyncio
async def test_a_stuck_client_whose_close_fails_cancelled_is_aborted() -> None:
    fanout = Fanout(queue_max=10, send_timeout_s=0.2)
    ws = FakeSocket("close-cancelled")
    connect(fanout, ws)
    client = next(iter(fanout.clients))
    await asyncio.sleep(0.5)
    assert client.dropped == "send_timeout" and ws.close_code == 1013 and ws.aborted
    await fanout.remove(client)


@pytest.mark.asyncio
async def test_a_client_that_left_is_not_counted_as_dropped() -> None:
    failed = dropped("send_failed")
    fanout = Fanout(queue_max=10, send_timeout_s=1)
    ws = FakeSocket("dead")
    ws.closed = True  # it said goodbye while a message was on its way
    connect(fanout, ws)
    await settle()
    assert dropped("send_failed") == failed
    await fanout.remove(next(iter(fanout.clients)))


@pytest.mark.asyncio
async def test_close_all_says_going_away() -> None:
    fanout = Fanout(queue_max=10, send_timeout_s=1)
    sockets = [FakeSocket(), FakeSocket()]
    for ws in sockets:
        connect(fanout, ws)
    await fanout.close_all()
    assert [ws.close_code for ws in sockets] == [1001, 1001]
    fanout.broadcast("after close")
    await settle()
    assert all(ws.got == ["snapshot"] for ws in sockets)
    for client in list(fanout.clients):
        await fanout.remove(client)


@pytest.mark.asyncio
async def test_restricted_broadcasts_skip_public_clients_and_public_ones_reach_only_them() -> None:
    fanout = Fanout(queue_max=10, send_timeout_s=1)
    signed, public = FakeSocket(), FakeSocket()
    fanout.add(signed, peer="signed", abort=signed.abort).start("full")
    fanout.add(public, peer="public", abort=public.abort, public=True).start("public")
    fanout.broadcast("cells")
    fanout.broadcast("workers", to="signed_in")
    fanout.broadcast("public snapshot", to="public")
    await settle()
    assert signed.got == ["full", "cells", "workers"]
    assert public.got == ["public", "cells", "public snapshot"]
    for client in list(fanout.clients):
        await fanout.remove(client)
