"""docs/deploy.md's embedded walk-through, run as written: ``.env`` with tokens, twelve
partitions, ``citybrain up --workers 3 --webs 2 --run-dir run`` with the simulator,
then a fourth worker started by hand from ``run/stack.env`` while events flow, and
taken out again with Ctrl-C. Every process must stay up and answer ``/readyz``, no
worker log may hold a "Crashed" line, and Ctrl-C on ``up`` must leave nothing behind.

Beside the guide's variables, the shell exports ``CITYBRAIN_WEB__PORT`` as an operator
following the README would: the first web server takes it, the second its own port."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import subprocess
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from citybrain.stack import free_port
from tests.e2e.kit import answers, metrics, wait_for

pytestmark = [pytest.mark.e2e]
ROOT = Path(__file__).resolve().parents[2]
GUIDE = ROOT / "docs" / "deploy.md"
EMBEDDED = "## The same steps on one machine, without Docker"


def shell_blocks(text: str) -> list[str]:
    """The ``sh`` code blocks of a Markdown text, without the list item's indentation."""
    return [textwrap.dedent(b) for b in re.findall(r"```sh\n(.*?)^ *```", text, flags=re.S | re.M)]


def guide_commands() -> tuple[str, str, str, str]:
    """(write .env, load it, start ``up``, add a worker) as the guide writes them."""
    text = GUIDE.read_text(encoding="utf-8")
    docker, embedded = text.split(EMBEDDED, 1)
    step1 = shell_blocks(docker)[0]
    write_env = step1[step1.index("python3 - <<'PY'") : step1.index("chmod 600 .env")]
    write_env += "chmod 600 .env\n"
    load, start, add = shell_blocks(embedded.split("\n## ", 1)[0])[:3]
    assert "citybrain up" in start and "citybrain worker" in add, (start, add)
    return write_env, load, start, add


def answers_200(port: int, path: str) -> bool:
    """Whether the process on ``port`` answers ``path`` with 200 (a process that is
    starting or stopping may also drop the connection: no)."""
    try:
        return answers(f"http://127.0.0.1:{port}{path}")
    except (OSError, http.client.HTTPException):
        return False


def readyz(port: int) -> bool:
    return answers_200(port, "/readyz")


def folded(worker_ports: list[int]) -> float:
    """Events the workers have folded into cell state so far, all together."""
    return sum(
        metrics(f"http://127.0.0.1:{p}/metrics").get(("citybrain_events_folded_total", ()), 0.0)
        for p in worker_ports
    )


def up_ports(output: str) -> tuple[list[int], list[int]]:
    """(worker health ports, web server ports) as ``up`` printed them."""
    workers = [
        int(p) for p in re.findall(r"metrics and health on http://127\.0\.0\.1:(\d+)/", output)
    ]
    webs = [int(p) for p in re.findall(r"web-\d+: http://127\.0\.0\.1:(\d+)/", output)]
    webs += [int(p) for p in re.findall(r"command map: http://127\.0\.0\.1:(\d+)/", output)]
    return workers, webs


@pytest.fixture
def walkthrough_dir(tmp_path: Path, artifacts: Path) -> Iterator[Path]:
    """A directory that looks like a checkout to the guide's commands (``.venv``)."""
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    yield tmp_path
    logs = tmp_path / "run" / "logs"
    keep = artifacts / "deploy-walkthrough-logs"
    if logs.exists():
        subprocess.run(["rm", "-rf", str(keep)], check=False)
        subprocess.run(["cp", "-r", str(logs), str(keep)], check=False)


def test_the_deploy_guide_runs_as_written_with_a_worker_added_and_removed(
    walkthrough_dir: Path,
) -> None:
    write_env, load, start, add = guide_commands()
    here = walkthrough_dir
    first_web = free_port()
    script = f"set -e\n{write_env}{load}export CITYBRAIN_WEB__PORT={first_web}\nexec {start}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("CITYBRAIN_")}
    out_path = here / "up.out"
    with out_path.open("wb") as out:
        up = subprocess.Popen(
            ["bash", "-c", script],
            cwd=here,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    added: subprocess.Popen[bytes] | None = None
    try:
        wait_for(
            lambda: "Ctrl-C stops everything" in out_path.read_text() or up.poll() is not None,
            180,
            "citybrain up started",
        )
        printed = out_path.read_text()
        assert up.poll() is None, printed
        workers, webs = up_ports(printed)
        assert len(workers) == 3 and len(webs) == 2, printed
        assert first_web in webs  # the exported port went to the first web server only
        for port in workers + webs:
            wait_for(lambda p=port: readyz(p), 120, f"/readyz 200 on {port}")
        tokens = json.loads(
            re.search(r"CITYBRAIN_AUTH__TOKENS='(.*)'", (here / ".env").read_text()).group(1)  # type: ignore[union-attr]
        )
        assert {t["name"] for t in tokens} >= {"wall-1", "oncall"}

        folded_before = wait_for(lambda: folded(workers), 120, "events folded")
        # a fourth worker joins while the simulator's events flow ...
        added_log = (here / "worker-4.out").open("wb")
        added = subprocess.Popen(
            ["bash", "-c", f"set -e\n{add}"],
            cwd=here,
            env=env,
            stdout=added_log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        added_log.close()
        wait_for(lambda: readyz(9104), 120, "the added worker ready")
        time.sleep(10)
        # ... and leaves again (Ctrl-C in its shell)
        os.killpg(added.pid, signal.SIGINT)
        assert added.wait(timeout=60) == 0
        added = None
        time.sleep(10)  # the others take its partitions back

        assert up.poll() is None, out_path.read_text()
        for port in workers + webs:
            wait_for(lambda p=port: readyz(p), 60, f"/readyz 200 on {port} after the change")
        logs = [*(here / "run" / "logs").glob("worker*.log"), here / "worker-4.out"]
        assert len(logs) == 4
        for log in logs:
            text = log.read_text(errors="replace")
            assert "Crashed" not in text, f"{log.name}: {text[-3000:]}"
        folded_after = folded(workers)
        assert folded_after > folded_before  # events went on flowing through the change
    finally:
        if added is not None:
            os.killpg(added.pid, signal.SIGKILL)
            added.wait()
        if up.poll() is None:
            os.killpg(up.pid, signal.SIGINT)  # Ctrl-C: up stops every process it started
        code = up.wait(timeout=90)
    assert code == 0, out_path.read_text()
    ports = [*up_ports(out_path.read_text())[0], *up_ports(out_path.read_text())[1], 9104]
    assert not [p for p in ports if answers_200(p, "/healthz")]  # nothing is left running
