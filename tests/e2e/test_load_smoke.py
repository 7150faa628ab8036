"""End to end: ``citybrain load`` runs briefly against its own embedded stack (real
broker, redis-server, worker, web) and reports plausible figures."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.e2e]

PROCESSES = {"broker", "redis", "worker", "web", "loadgen"}


def test_load_smoke(artifacts: Path) -> None:
    out = artifacts / "load-smoke"
    shutil.rmtree(out, ignore_errors=True)
    argv = [
        sys.executable, "-m", "citybrain", "load", "--rate", "500", "--clients", "10",
        "--duration", "10", "--cameras", "2000", "--ramp", "2", "--out", str(out),
    ]  # fmt: skip
    # generous: the stack starts in ~10 s, the run takes 10 s and a few more to drain
    done = subprocess.run(argv, capture_output=True, text=True, timeout=150, check=False)
    (artifacts / "load-smoke.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    assert done.returncode == 0, done.stderr[-3000:]

    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    assert results["command"].startswith("citybrain load --rate 500 --clients 10")
    assert results["machine"]["cores"] >= 1

    ingest = results["ingest"]
    assert ingest["offered"] == 5000  # 2.5 records of 200 events a second for 10 s
    assert ingest["acked"] >= 0.98 * ingest["offered"], ingest
    assert ingest["failed"] == 0 and ingest["errors"] == {}
    assert sum(results["offered_per_s"]) == 5000
    assert sum(results["achieved_per_s"]) == ingest["acked"]

    clients = results["clients"]
    assert clients["clients"] == clients["ever_connected"] == 10
    assert clients["with_cells"] == 10, clients  # every client received cells messages
    assert clients["bad_messages"] == 0

    lag = results["delivery_lag_ms"]
    assert lag is not None and lag["count"] >= 10 and lag["min"] >= 0
    e2e = results["e2e"]
    assert e2e["sent"] >= 5 and e2e["resolved"] >= 1, e2e
    assert e2e["lag_ms"]["min"] >= 0
    assert results["delivery_lag_series"] and results["e2e_samples"]

    resources = {r["name"]: r for r in results["resources"]}
    assert set(resources) == PROCESSES
    for name, r in resources.items():
        assert r["samples"] >= 4, name  # every 2 s over 10 s and more
        assert r["cpu_mean_pct"] is not None and r["cpu_mean_pct"] >= 0, name
        assert r["rss_peak_bytes"] > 1024 * 1024, name

    server = results["server"]
    assert server["worker_events_in"]["camera"] > 0
    assert server["web_messages"]["cells"] >= 1
    assert results["worker_rate_series"]

    assert (out / "load.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    table = (out / "results.md").read_text(encoding="utf-8")
    assert "| acknowledged by the broker |" in table and "| worker |" in table
    assert (out / "logs" / "worker.log").exists()

    # nothing left running: the stack's processes ended with the command
    for name, r in resources.items():
        assert not _running_ours(r["pid"]), f"{name} (pid {r['pid']}) still runs"


def _running_ours(pid: int) -> bool:
    """True while ``pid`` is a live process of the stack (not a zombie, and not a pid the
    system has since given to something else)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    if stat[stat.rfind(")") + 2] == "Z":
        return False
    return any(mark in cmdline for mark in (b"citybrain", b"redis-server", b"tansu"))
