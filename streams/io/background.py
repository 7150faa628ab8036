"""Side tasks that must never take their process down: metrics, health, lag readings.

A worker or web server runs a few loops beside its real work (the broker probe, the
consumer-lag gauge, alert counts). In Faust a task that raises crashes the whole app,
and in the web server a dead task silently stops a gauge; neither is acceptable for a
loop whose only job is to report. :func:`keep_running` runs such a loop for the
process's life: a failure is counted in ``citybrain_background_failures_total{task}``,
logged with its traceback the first time (later failures in a row — the loop failing
again within ``QUIET_S`` of its restart — one line each at debug level, so a broker away
for an hour does not flood the log), and the loop is started again after ``retry_s``
seconds. Cancellation stops it as usual.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

from prometheus_client import Counter

log = logging.getLogger(__name__)

BACKGROUND_FAILURES = Counter(
    "citybrain_background_failures_total",
    "Failures of side tasks (metrics, health, lag) that were started again",
    ["task"],
)
QUIET_S = 60.0  # a loop that ran this long before failing starts a new episode in the log


async def keep_running(
    name: str, loop: Callable[[], Awaitable[None]], retry_s: float = 5.0
) -> None:
    """Run ``loop()`` until cancelled, starting it again ``retry_s`` seconds after any
    failure (or after it returns, which a forever-loop should not do)."""
    failures_in_a_row = 0
    while True:
        started = time.monotonic()
        try:
            await loop()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # a report loop never takes its process down; counted
            BACKGROUND_FAILURES.labels(name).inc()
            if time.monotonic() - started > QUIET_S:
                failures_in_a_row = 0
            failures_in_a_row += 1
            if failures_in_a_row == 1:
                log.exception("%s failed; starting it again every %g s", name, retry_s)
            else:
                log.debug("%s failed again (%d in a row): %r", name, failures_in_a_row, exc)
        else:
            failures_in_a_row = 0
            log.warning("%s ended by itself; starting it again in %g s", name, retry_s)
        await asyncio.sleep(retry_s)
