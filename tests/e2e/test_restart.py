"""End to end: no alert and no audit entry is lost when the web server, the worker and
Redis restart (Redis with AOF; the worker's incident table from its changelog).

A stack of its own (the restarts would disturb the other tests): an alert is opened
by a crowd and acknowledged; then Redis, the worker (killed, as in a crash) and the web
server go down and come back; the alert and its trail are all there, and the worker,
recovered from its changelog, applies the next action to the same incident.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from citybrain.stack import EmbeddedStack, wait_port
from geo.cells import cell_of
from tests.e2e import kit
from tests.e2e.kit import AlertWatch, crowd, http, wait_for

pytestmark = [pytest.mark.e2e]
HERE = (23.0188, 113.1032)


@pytest.fixture(scope="module")
def own_stack(tmp_path_factory: pytest.TempPathFactory, artifacts: Path) -> Iterator[EmbeddedStack]:
    run_dir = tmp_path_factory.mktemp("restart-stack")
    with kit.own_stack(run_dir, artifacts / "restart-stack-logs") as stack:
        yield stack


def test_nothing_is_lost_across_restarts_of_redis_worker_and_web(
    own_stack: EmbeddedStack, artifacts: Path
) -> None:
    stack = own_stack
    s = stack.live
    api = f"http://127.0.0.1:{s.web.port}/api/"
    dispatcher = stack.token_files["dispatcher"].read_text().strip()
    cell = cell_of(*HERE, s.pipeline.h3_resolution)

    async def open_and_ack() -> str:
        async with AlertWatch(f"ws://127.0.0.1:{s.web.port}/ws") as watch:
            feed = asyncio.create_task(crowd(s, *HERE, seconds=20, tag="restart"))
            (alert,) = await watch.wait(
                lambda alerts: [a for a in alerts if a["cell"] == cell], 40, "crowd alert"
            )
            status, _ = await asyncio.to_thread(
                http, "POST", f"{api}alerts/{alert['id']}/ack", dispatcher, {"note": "收到"}
            )
            assert status == 202
            await watch.wait(
                lambda alerts: [a for a in alerts if a["state"] == "acknowledged"], 10, "ack"
            )
            await feed
            return str(alert["id"])

    aid = asyncio.run(open_and_ack())

    def trail() -> list[dict]:
        status, body = http("GET", f"{api}alerts/{aid}/audit", dispatcher)
        return body["audit"] if status == 200 else []

    before_alerts = http("GET", f"{api}alerts")[1]["alerts"]
    before_trail = wait_for(lambda: len(trail()) >= 2 and trail(), 10, "audit entries")
    assert [e["action"] for e in before_trail][:2] == ["opened", "acknowledged"]

    # Redis restarts (AOF), the worker crashes and comes back, the web server restarts.
    timings = []
    started = time.monotonic()
    stack.restart_child("redis")
    redis_port = int(s.redis.url.get_secret_value().rsplit(":", 1)[1].split("/")[0])
    wait_port(redis_port, 30)
    stack.kill_child("worker")
    stack.respawn("worker")
    stack.restart_child("web")
    wait_port(s.web.port, 60)
    timings.append(f"restarts issued and web up again: {time.monotonic() - started:.1f} s")

    def answer(path: str) -> dict | None:
        """The body of a 200; None meanwhile (a 503 while Redis still loads its AOF)."""
        status, body = http("GET", f"{api}{path}", dispatcher)
        return body if status == 200 else None

    after = wait_for(
        lambda: (answer(f"alerts/{aid}") or {}).get("alert"), 30, "the alert after restarts"
    )
    assert after["state"] == "acknowledged" and after["acked_by"] == "dispatcher"
    listed = wait_for(lambda: answer("alerts"), 10, "the alert list")
    assert [a["id"] for a in listed["alerts"]] == [a["id"] for a in before_alerts]
    assert wait_for(trail, 10, "the audit trail") == before_trail

    # The recovered worker still owns the incident: resolving it works and is audited.
    # (Sent once: Kafka keeps it until the worker has rejoined and recovered its tables.)
    started = time.monotonic()
    status, body = http("POST", f"{api}alerts/{aid}/resolve", dispatcher, {"note": "已处置"})
    assert status == 202, body

    def resolved() -> dict | None:
        alert = http("GET", f"{api}alerts/{aid}")[1]["alert"]
        return alert if alert["state"] == "resolved" else None

    done = wait_for(resolved, 60, "resolve applied by the restarted worker")
    timings.append(f"resolve applied after worker restart: {time.monotonic() - started:.1f} s")
    assert done["resolved_by"] == "dispatcher" and done["version"] == 3
    final = wait_for(lambda: len(trail()) >= 3 and trail(), 10, "resolve in the trail")
    assert final[: len(before_trail)] == before_trail
    assert [e["action"] for e in final][-1] == "resolved" and all(e["accepted"] for e in final)
    (artifacts / "restart-timings.txt").write_text("\n".join(timings) + "\n")
