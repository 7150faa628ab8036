"""Run the throughput benchmark: every contender on the same pre-loaded input, side by side.

For each input (events per record × partitions) a fresh embedded broker is started;
for each run the input is pre-loaded into a topic of the run's own
(:mod:`citybrain.tools.bench.data`), then each contender (benchmarks/contenders/) reads it in
a process of its own, one after the other, and writes its result JSON. Contenders on
third-party engines run in ``.venv-contenders`` (:mod:`citybrain.tools.bench.env`).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from citybrain.stack import broker_argv, free_port, wait_port
from citybrain.tools.bench.data import preload

ROOT = Path(__file__).resolve().parents[3]  # the repository: citybrain/tools/bench/ → ../../..
CONTENDER_DIR = ROOT / "benchmarks" / "contenders"


@dataclass(frozen=True, slots=True)
class Contender:
    """One contender: its script in benchmarks/contenders/ and whether it needs the
    third-party engines' environment."""

    id: str
    script: str
    third_party: bool = False


CONTENDERS = (
    Contender("aiokafka", "aiokafka_getmany.py"),
    Contender("citybrain", "citybrain_pipeline.py"),
    Contender("faust", "faust_textbook.py"),
    Contender("confluent", "confluent_loop.py", third_party=True),
    Contender("quix", "quix_streams.py", third_party=True),
    Contender("bytewax", "bytewax_flow.py", third_party=True),
)
CEILING = "aiokafka"  # ratios are to this one, measured in the same run


@dataclass(frozen=True, slots=True)
class Input:
    per_record: int
    partitions: int

    @property
    def label(self) -> str:
        per = "1 event" if self.per_record == 1 else f"{self.per_record} events"
        parts = "1 partition" if self.partitions == 1 else f"{self.partitions} partitions"
        return f"{per}/record, {parts}"


@dataclass(frozen=True, slots=True)
class Plan:
    inputs: tuple[Input, ...]
    contenders: tuple[Contender, ...]
    events: int
    runs: int
    max_seconds: float  # a contender stops this long after its first record
    contenders_python: Path | None  # .venv-contenders/bin/python, for third-party ones


def run_plan(
    plan: Plan,
    work_dir: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Every (input, run, contender) result, as the contenders reported them plus
    ``input``, ``run`` and ``id``. A contender that failed is reported with ``error``."""
    say = progress or (lambda _msg: None)
    work = work_dir or Path(tempfile.mkdtemp(prefix="citybrain-bench-"))
    results: list[dict[str, Any]] = []
    for inp in plan.inputs:
        with _Broker(work / f"broker-{inp.per_record}-{inp.partitions}.log") as bootstrap:
            for run in range(plan.runs):
                topic = f"bench-r{inp.per_record}-p{inp.partitions}-{run}.events.camera"
                say(f"{inp.label}, run {run + 1}/{plan.runs}: pre-loading {plan.events:,} events")
                t0 = int(time.time() * 1000)
                asyncio.run(
                    preload(bootstrap, topic, inp.partitions, plan.events, inp.per_record, t0)
                )
                for c in plan.contenders:
                    say(f"{inp.label}, run {run + 1}/{plan.runs}: {c.id}")
                    result = _run_one(plan, c, bootstrap, topic, inp, run, work)
                    results.append({"input": inp.label, "run": run, "id": c.id, **result})
    return results


def _run_one(
    plan: Plan, c: Contender, bootstrap: str, topic: str, inp: Input, run: int, work: Path
) -> dict[str, Any]:
    python = str(plan.contenders_python) if c.third_party else sys.executable
    if c.third_party and plan.contenders_python is None:
        return {"error": "no .venv-contenders (citybrain bench setup)"}
    name = f"{c.id}-r{inp.per_record}-p{inp.partitions}-{run}"
    state = work / name
    state.mkdir(parents=True, exist_ok=True)
    out = state / "result.json"
    argv = [
        python,
        str(CONTENDER_DIR / c.script),
        *("--bootstrap", bootstrap, "--topic", topic, "--partitions", str(inp.partitions)),
        *("--events", str(plan.events), "--group", name),
        *("--max-seconds", str(plan.max_seconds), "--result", str(out)),
        *("--state-dir", str(state)),
    ]
    log = state / "contender.log"
    with log.open("wb") as sink:
        try:
            proc = subprocess.run(
                argv,
                stdout=sink,
                stderr=subprocess.STDOUT,
                timeout=plan.max_seconds + 180,  # start-up, group join, pre-load waits
                cwd=ROOT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return {"error": f"no result within {plan.max_seconds + 180:.0f} s (see {log})"}
    if not out.exists():
        tail = log.read_text(errors="replace")[-400:]
        return {"error": f"exit {proc.returncode}, no result: {tail}"}
    return dict(json.loads(out.read_text()))


class _Broker:
    """A fresh embedded broker (memory storage) for one input; its address on enter."""

    def __init__(self, log: Path) -> None:
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> str:
        port = free_port()
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("wb") as sink:
            self.proc = subprocess.Popen(
                broker_argv(f"tcp://127.0.0.1:{port}"), stdout=sink, stderr=subprocess.STDOUT
            )
        wait_port(port, 30, self.proc)
        return f"127.0.0.1:{port}"

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
