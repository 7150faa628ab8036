"""Is the Kafka broker answering? A periodic probe for readiness, metrics and the log.

Kafka clients ride out a broker outage on their own (they retry and resume), but they
do it quietly: a consumer simply gets nothing. Operators need to see it, so the worker
and the web server each probe the broker every few seconds with a metadata request
(a fresh connection each time, bounded by a timeout, so a broker that accepts
connections but does not answer — hung, paused, overloaded — counts as down), report
it in ``/readyz`` and ``citybrain_broker_up``, and log one line when it goes away and
one when it is back.

:func:`observe` is the pure part: the status after one probe, and the line to log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from aiokafka.client import AIOKafkaClient
from aiokafka.errors import KafkaError
from prometheus_client import Gauge

log = logging.getLogger(__name__)

BROKER_UP = Gauge("citybrain_broker_up", "1 while the Kafka broker answers this process's probe")


@dataclass(frozen=True, slots=True)
class BrokerStatus:
    """What the probes said. Times are monotonic seconds."""

    up: bool = True  # assumed up until a probe says otherwise (start-up waits for it anyway)
    since_s: float = 0.0  # when ``up`` last changed
    failures: int = 0  # probes failed in a row
    reason: str = ""  # why the last probe failed


def observe(
    status: BrokerStatus, ok: bool, now_s: float, reason: str = "", down_after: int = 2
) -> tuple[BrokerStatus, str | None]:
    """The status after one probe (``ok`` or failed with ``reason``) at ``now_s``, and the
    line to log if the broker just went down or came back.

    The broker counts as down after ``down_after`` failed probes in a row (one slow
    answer is not an outage) and as up again at the first probe that succeeds.
    """
    if ok:
        if status.up:
            return BrokerStatus(True, status.since_s), None
        away = now_s - status.since_s
        return BrokerStatus(True, now_s), f"Kafka broker answers again after {away:.1f} s"
    failures = status.failures + 1
    if status.up and failures >= down_after:
        line = (
            f"Kafka broker not answering ({reason}); input pauses and resumes by itself "
            "when it is back"
        )
        return BrokerStatus(False, now_s, failures, reason), line
    return BrokerStatus(status.up, status.since_s, failures, reason), None


async def probe_metadata(bootstrap_servers: str | list[str], timeout_s: float) -> None:
    """One metadata round trip on a fresh connection; raises on failure or after
    ``timeout_s``."""
    client = AIOKafkaClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(timeout_s * 1000)
    )
    try:
        await asyncio.wait_for(client.bootstrap(), timeout_s)
    finally:
        with contextlib.suppress(TimeoutError):  # a hung broker must not hang the probe
            await asyncio.wait_for(client.close(), timeout_s)


class BrokerWatch:
    """Probes every ``interval_s``; :attr:`status` is the latest verdict."""

    def __init__(
        self,
        bootstrap_servers: str | list[str],
        *,
        interval_s: float = 2.0,
        timeout_s: float = 3.0,
        probe: Callable[[str | list[str], float], Awaitable[None]] = probe_metadata,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.interval_s = interval_s
        self.timeout_s = timeout_s
        self._probe = probe
        self.status = BrokerStatus(since_s=time.monotonic())
        BROKER_UP.set(1)

    @property
    def up(self) -> bool:
        return self.status.up

    async def check(self) -> None:
        """Probe once and update the status, the gauge and the log."""
        try:
            await asyncio.wait_for(
                self._probe(self.bootstrap_servers, self.timeout_s), self.timeout_s
            )
            ok, reason = True, ""
        except TimeoutError:
            ok, reason = False, f"no answer within {self.timeout_s:g} s"
        except (KafkaError, OSError) as exc:
            ok, reason = False, f"{type(exc).__name__}: {exc}"[:200]
        self.status, line = observe(self.status, ok, time.monotonic(), reason)
        BROKER_UP.set(1 if self.status.up else 0)
        if line is not None:
            (log.info if self.status.up else log.warning)(line)

    async def run(self) -> None:
        """Probe forever (cancel to stop)."""
        while True:
            await self.check()
            await asyncio.sleep(self.interval_s)
