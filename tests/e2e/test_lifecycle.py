"""End to end: people work an alert through its lifecycle over the HTTP API, role-checked,
and every step reaches a websocket client and the audit trail.

Real stack: a crowd through Kafka opens an alert; acknowledge / assign / resolve go
web server → ``alerts.actions`` → the worker owning the incident → ``alerts`` and
``alerts.audit`` → Redis and the websocket.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from citybrain.stack import EmbeddedStack
from geo.cells import cell_of
from tests.e2e.kit import AlertWatch, crowd, http

pytestmark = [pytest.mark.e2e]
HERE = (22.95, 113.0)  # south-west Chancheng, > 4 km from every other test's spot
ACT_BOUND_S = 5.0  # action accepted → changed alert on the websocket


def tokens(stack: EmbeddedStack) -> dict[str, str]:
    return {name: path.read_text().strip() for name, path in stack.token_files.items()}


def test_dispatchers_and_liaisons_work_an_alert_through_its_lifecycle(
    stack: EmbeddedStack, artifacts: Path
) -> None:
    s = stack.live
    api = f"http://127.0.0.1:{s.web.port}/api/"
    tok = tokens(stack)
    cell = cell_of(*HERE, s.pipeline.h3_resolution)
    timings: list[str] = []

    async def scenario() -> None:
        async with AlertWatch(f"ws://127.0.0.1:{s.web.port}/ws") as watch:
            feed = asyncio.create_task(crowd(s, *HERE, seconds=25, tag="lifecycle"))
            (alert,) = await watch.wait(
                lambda alerts: [a for a in alerts if a["cell"] == cell and a["state"] == "open"],
                40,
                "open crowd alert",
            )
            aid = alert["id"]
            assert alert["version"] == 1 and alert["active"] and alert["acked_by"] is None

            def post(kind: str, token: str | None, body: object) -> tuple[int, dict]:
                return http("POST", f"{api}alerts/{aid}/{kind}", token, body)

            # who may not: no token, a viewer-level engineer, a liaison of another desk
            assert post("ack", None, {})[0] == 401
            status, body = post("ack", tok["engineer"], {})
            assert status == 403 and "needs dispatcher or liaison" in body["error"]
            status, body = post("ack", tok["liaison-12345"], {})
            assert status == 403 and body["error"].startswith("alert is routed to 110")
            assert post("ack", tok["dispatcher"], {"note": "x" * 501})[0] == 422
            assert post("assign", tok["dispatcher"], {})[0] == 422  # assignee missing
            assert http("POST", f"{api}alerts/a-nope/ack", tok["dispatcher"], {})[0] == 404

            async def step(kind: str, who: str, body: dict, state: str, version: int) -> dict:
                loop = asyncio.get_running_loop()
                started = loop.time()
                status, answer = await asyncio.to_thread(post, kind, tok[who], body)
                assert status == 202, answer
                assert answer["action"]["by"] == who and answer["action"]["kind"] == kind
                (changed,) = await watch.wait(
                    lambda alerts: [
                        a for a in alerts if a["id"] == aid and a["version"] == version
                    ],
                    ACT_BOUND_S,
                    f"alert after {kind}",
                )
                timings.append(f"{kind}: {loop.time() - started:.2f} s to the websocket")
                assert changed["state"] == state
                return changed

            acked = await step("ack", "dispatcher", {"note": "已派人"}, "acknowledged", 2)
            assert acked["acked_by"] == "dispatcher" and acked["acked_at"] > 0
            status, body = post("ack", tok["liaison-110"], {})
            assert status == 409 and body["error"] == "already acknowledged by dispatcher"
            assigned = await step(
                "assign", "liaison-110", {"assignee": "网格员 陈"}, "acknowledged", 3
            )
            assert assigned["assignee"] == "网格员 陈" and assigned["assigned_by"] == "liaison-110"
            assert assigned["acked_by"] == "dispatcher"
            done = await step("resolve", "dispatcher", {"note": "人群已疏导"}, "resolved", 4)
            assert done["resolved_by"] == "dispatcher" and done["resolution"] == "人群已疏导"
            assert done["closed_at"] is not None
            assert post("resolve", tok["dispatcher"], {})[0] == 409
            feed.cancel()

            # the trail: who did what, in order; staff only
            assert http("GET", f"{api}alerts/{aid}/audit")[0] == 401
            status, trail = http("GET", f"{api}alerts/{aid}/audit", tok["liaison-12345"])
            assert status == 200
            steps = [(e["action"], e["by"], e["to"]) for e in trail["audit"] if e["accepted"]]
            assert steps[0] == ("opened", "system", "open")
            people = [x for x in steps if x[1] != "system"]
            assert people == [
                ("acknowledged", "dispatcher", "acknowledged"),
                ("assigned", "liaison-110", "acknowledged"),
                ("resolved", "dispatcher", "resolved"),
            ]
            assert [e["id"] for e in trail["audit"] if e["accepted"]] == [
                f"{aid}/{n}" for n in range(1, 5)
            ]
            # the desk queue
            status, queue = http("GET", f"{api}alerts?desk=110&state=resolved")
            assert status == 200 and aid in [a["id"] for a in queue["alerts"]]
            status, queue = http("GET", f"{api}alerts?desk=12345")
            assert aid not in [a["id"] for a in queue["alerts"]]
            assert http("GET", f"{api}alerts?desk=police")[0] == 400

    asyncio.run(scenario())
    (artifacts / "lifecycle-timings.txt").write_text("\n".join(timings) + "\n")
