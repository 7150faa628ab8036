"""End to end: checking a rule upload never holds the web server, and a check over its
budget is refused with a 422 naming the budget.

The worst-case upload is the costliest within the checker's bounds that still travels on
the rules topic: three "billion laughs" alias bombs (refused at the YAML value budget,
after spending it) and files of rules sharing, by alias, a 100-position scope polygon,
whose crossing check is quadratic: about 1.5 s of checking from 75 kB. Checked on the
event loop, as uploads once were, it held ``/healthz`` for that long.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from pathlib import Path

import aiohttp
import pytest
from prometheus_client import REGISTRY

from alerts.rules.bounds import MAX_RULESET_BYTES
from alerts.rules.change import RuleChangeError
from alerts.rules.file import DEFAULT_RULES
from citybrain.stack import EmbeddedStack
from tests.e2e.kit import http, wait_for
from tests.e2e.test_web_server import bounded, web_server
from web.rule_check import (
    MAX_RUNNING,
    MAX_WAITING,
    Busy,
    CheckBudget,
    CheckRequest,
    OverBudget,
    RuleChecker,
)

pytestmark = [pytest.mark.e2e]

HEALTHZ_BOUND_S = 0.1
ENGINEER = "engineer-budget-e2e-token-0123456789abcdef"


def alias_bomb() -> str:
    """334 bytes that expand to 9^9 values."""
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for i in range(8):
        prev, name = chr(97 + i), chr(98 + i)
        lines.append(f"{name}: &{name} [{', '.join([f'*{prev}'] * 9)}]")
    return "\n".join([*lines, "rules: *i"]) + "\n"


def polygon_rules(k: int, rules: int) -> str:
    """``rules`` crowd rules in one file, all scoped to one 100-position polygon."""
    turns = [2 * math.pi * i / 99 for i in range(99)]
    ring = [(113.1 + 0.01 * math.cos(t), 23.0 + 0.01 * math.sin(t)) for t in turns]
    positions = ", ".join(f"[{lon:.6f}, {lat:.6f}]" for lon, lat in [*ring, ring[0]])
    out = [f"x-area: &area {{polygon: [[{positions}]]}}", "rules:"]
    for r in range(rules):
        out += [
            f"  - id: crowd.area.f{k}r{r}",
            "    metric: density",
            "    scope: *area",
            "    enter: 2.15 persons/m2",
            "    exit: 1.08 persons/m2",
            "    desks: [110]",
            '    message: {zh: "密度 {density:.2f} 人/m²"}',
        ]
    return "\n".join(out) + "\n"


def worst_case() -> dict[str, str]:
    # The polygons first: a bomb first would spend the set's value budget on its own, and
    # the checker would refuse every file after it without reading further.
    files = {f"area{k:02d}.yaml": polygon_rules(k, 9) for k in range(17)}
    return files | {f"bomb{i}.yaml": alias_bomb() for i in range(3)}


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def upload_while_probing(
    session: aiohttp.ClientSession, base: str, token: str, files: dict[str, str]
) -> tuple[int, dict, list[float]]:
    """POST ``files`` as a rule upload and, until it is answered, GET /healthz back to back:
    the upload's status and body, and every probe's latency in seconds."""
    headers = {"Authorization": f"Bearer {token}"}
    payload = {"files": files, "comment": "worst case"}
    latencies: list[float] = []

    async def probe() -> None:
        while True:
            started = time.monotonic()
            async with session.get(base + "/healthz") as r:
                assert r.status == 200, await r.text()
            latencies.append(time.monotonic() - started)
            await asyncio.sleep(0.02)

    prober = asyncio.create_task(probe())
    try:
        async with session.post(base + "/api/rules", json=payload, headers=headers) as r:
            status, body = r.status, await r.json()
    finally:
        prober.cancel()
        await asyncio.gather(prober, return_exceptions=True)
    return status, body, latencies


@pytest.mark.asyncio
async def test_healthz_answers_within_100_ms_while_a_worst_case_upload_is_checked(
    stack: EmbeddedStack, artifacts: Path
) -> None:
    assert stack.token_file is not None
    token = stack.token_file.read_text().strip()
    base = stack.url().rstrip("/")
    async with bounded(60, "the worst-case upload"), aiohttp.ClientSession() as session:
        started = time.monotonic()
        status, body, latencies = await upload_while_probing(session, base, token, worst_case())
        took = time.monotonic() - started
    (artifacts / "rules-upload-healthz.txt").write_text(
        f"upload checked in {took:.3f} s; {len(latencies)} /healthz probes, "
        f"slowest {max(latencies) * 1000:.1f} ms; all, ms: "
        + " ".join(f"{x * 1000:.0f}" for x in latencies)
        + "\n"
    )
    assert status == 422, body
    assert took >= 0.5 and len(latencies) >= 10, (took, len(latencies))  # probed while checking
    assert max(latencies) < HEALTHZ_BOUND_S, f"/healthz took {max(latencies) * 1000:.0f} ms"
    assert any("more than 50000 YAML values in the rule set" in p for p in body["problems"])


@pytest.mark.asyncio
async def test_a_check_over_its_time_budget_is_refused_with_422_naming_it(
    stack: EmbeddedStack,
) -> None:
    settings = stack.live.with_overrides(
        web={"port": 0},
        rules={"check_time_s": 0.5},
        auth={"tokens": [{"name": "eng-budget", "role": "engineer", "token": ENGINEER}]},
    )
    refused = sample("citybrain_rule_checks_refused_total", reason="time")
    async with (
        bounded(60, "the over-budget upload (server start, upload, stop)"),
        web_server(settings) as base,
        aiohttp.ClientSession() as session,
    ):
        status, body, latencies = await upload_while_probing(session, base, ENGINEER, worst_case())
        assert status == 422, body
        message = "rule check over its time budget (0.5 s)"
        assert body["budget"] == "time" and body["error"].startswith(message), body
        assert body["error"].endswith("the rule set in force is unchanged")
        assert body["problems"] == [body["error"].split("; the rule set")[0]]
        assert sample("citybrain_rule_checks_refused_total", reason="time") == refused + 1
        assert latencies and max(latencies) < HEALTHZ_BOUND_S

        # The attempt is in the change log like any rejected upload.
        auth = {"Authorization": f"Bearer {ENGINEER}"}
        for _ in range(100):
            async with session.get(base + "/api/rules/changes?limit=1", headers=auth) as r:
                (newest,) = (await r.json())["changes"] or [{}]
            if newest.get("problems") == body["problems"]:
                break
            await asyncio.sleep(0.1)
        assert (newest["status"], newest["author"]) == ("rejected", "eng-budget"), newest


@pytest.mark.asyncio
async def test_a_check_over_its_memory_budget_is_stopped_and_named() -> None:
    text = (DEFAULT_RULES / "default.yaml").read_text(encoding="utf-8")
    one = text[text.index("  - id: crowd.density") : text.index("  - id: crowd.rise")]
    big = "rules:\n" + "".join(one.replace("crowd.density", f"crowd.d{i}") for i in range(1200))
    big = big.encode()[:MAX_RULESET_BYTES].decode(errors="ignore")  # the largest there is
    checker = RuleChecker(CheckBudget(seconds=30, memory_mib=48))
    with pytest.raises(OverBudget) as over:
        await checker.check(CheckRequest({"big.yaml": big}, None, "api", "engineer", 0))
    assert over.value.budget == "memory"
    assert str(over.value).startswith("rule check over its memory budget (48 MiB)")
    # The budget is what the large set went over: the default set checks within it.
    change = await checker.check(CheckRequest({"default.yaml": text}, None, "api", "eng", 0))
    assert change.status == "accepted", change.problems


def test_the_largest_rejected_upload_is_answered_and_logged(stack: EmbeddedStack) -> None:
    # Files and diff together are twice the topic's largest record: the log keeps the files.
    assert stack.token_file is not None
    token = stack.token_file.read_text().strip()
    base = stack.url().rstrip("/") + "/api/"
    text = (DEFAULT_RULES / "default.yaml").read_text(encoding="utf-8")
    broken = text.replace("desks: [110", "desks: [polic, 110", 1)
    broken += "# " + "x" * (MAX_RULESET_BYTES - len(broken.encode()) - 3) + "\n"
    status, body = http("POST", base + "rules", token, {"files": {"big.yaml": broken}})
    assert status == 422, body
    assert [p for p in body["problems"] if "unknown desk 'polic'" in p], body

    def logged() -> dict | None:
        newest = http("GET", base + "rules/changes?limit=1", token)[1]["changes"][0]
        return newest if newest["diff"].startswith("(diff of ") else None

    change = wait_for(logged, 10, "the rejected upload in the change log")
    assert change["status"] == "rejected" and change["problems"] == body["problems"]


def checking_children() -> list[int]:
    """Pids of this process's children that run a rule check."""
    own = os.getpid()
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
            cmdline = (stat.parent / "cmdline").read_bytes()
        except (OSError, IndexError, ValueError):
            continue  # the process ended while being read
        if ppid == own and b"web.rule_check" in cmdline:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.asyncio
async def test_checks_wait_their_turn_a_bounded_queue_and_cancelled_ones_leave_no_process() -> None:
    checker = RuleChecker(CheckBudget(seconds=30))
    request = CheckRequest(worst_case(), None, "api", "engineer", 0)
    tasks = [asyncio.create_task(checker.check(request)) for _ in range(1 + MAX_WAITING)]
    await asyncio.sleep(0.2)  # one runs, the others wait
    assert len(checking_children()) == MAX_RUNNING
    with pytest.raises(Busy, match=f"{MAX_WAITING} rule checks are waiting already"):
        await checker.check(request)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    assert checking_children() == []  # the running check's process was killed
    with pytest.raises(RuleChangeError, match="at least one file"):  # refused before a process
        await checker.check(CheckRequest({}, None, "api", "engineer", 0))
    text = (DEFAULT_RULES / "default.yaml").read_text(encoding="utf-8")
    change = await checker.check(CheckRequest({"d.yaml": text}, None, "api", "engineer", 0))
    assert change.status == "accepted"  # the queue is free again
