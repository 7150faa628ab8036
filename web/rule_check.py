"""Checking an uploaded rule set in a child process, under a time and a memory budget.

The checker (:func:`alerts.rules.change.make_change`: YAML parsing, the rule checks, the
diff) is pure Python and CPU-bound. Run on the web server's event loop, one 75 kB upload
(alias bombs, rules sharing a large polygon) held ``/healthz`` and every websocket for
6 s. Here each check runs in a fresh
``python -m web.rule_check`` process: the loop only writes the request to its stdin and
awaits its answer on stdout. A fresh process (not a pool) because a check over budget is
ended by killing its process, and nothing of one upload outlives it.

Budgets (:class:`CheckBudget`): wall-clock seconds from the child's start to its answer
(the child is killed past them; its CPU time is also capped by ``RLIMIT_CPU`` a second
later, should the parent be gone) and the child's address space (``RLIMIT_AS``), under
which a large allocation fails with MemoryError and the child exits with
:data:`EXIT_MEMORY`. Going over either raises :class:`OverBudget` naming the budget.
At most :data:`MAX_RUNNING` checks run at once, and :data:`MAX_WAITING` wait; more are
refused with :class:`Busy` rather than queued without end.

The child gets the server's environment without its ``CITYBRAIN_*`` settings (tokens).
Child protocol: argv ``seconds memory_mib``; stdin one JSON object (``files``,
``previous`` — a change as :meth:`RuleChange.to_dict`, or null — ``source``, ``author``,
``at_ms``, ``comment``); stdout the new change as JSON; exit 0.
"""

from __future__ import annotations

import asyncio
import math
import os
import resource
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal

import orjson

from alerts.rules.change import (
    RuleChange,
    RuleChangeError,
    Source,
    check_file_names,
    make_change,
)

#: Exit status of a child whose check ran out of memory.
EXIT_MEMORY: Final = 75
#: Checks running at once (one core of two: serving keeps the other), and waiting.
MAX_RUNNING: Final = 1
MAX_WAITING: Final = 4
#: How much lower the check's CPU priority is than the server's (``nice``).
NICENESS: Final = 10
#: The directory holding the ``web`` package: the child imports the same code as its parent.
CODE_ROOT: Final = Path(__file__).resolve().parents[1]

Budget = Literal["time", "memory"]


@dataclass(frozen=True, slots=True)
class CheckBudget:
    """``seconds``: wall clock, child start to answer; ``memory_mib``: the child's address
    space in MiB (the checker loaded takes about 40 MiB; the largest upload's check under 150)."""

    seconds: float = 10.0
    memory_mib: int = 256


@dataclass(frozen=True, slots=True)
class CheckRequest:
    """An upload to check: the files (name → YAML text) and the change log's facts."""

    files: dict[str, str]
    previous: RuleChange | None
    source: Source
    author: str
    at_ms: int
    comment: str = ""


class OverBudget(Exception):
    """The check went over ``budget``; the message says which and how much it had."""

    def __init__(self, budget: Budget, message: str) -> None:
        super().__init__(message)
        self.budget: Budget = budget
        self.message = message


class Busy(Exception):
    """Too many checks are running or waiting; the caller should retry later."""


class CheckFailed(Exception):
    """The child ended without an answer for a reason other than a budget (a bug)."""


def over_budget_message(budget: Budget, limits: CheckBudget) -> str:
    """The sentence an engineer reads when a check goes over ``budget``."""
    if budget == "time":
        return (
            f"rule check over its time budget ({limits.seconds:g} s): "
            "the rule set is too large or too complex to check"
        )
    return (
        f"rule check over its memory budget ({limits.memory_mib} MiB): "
        "the rule set is too large or too complex to check"
    )


class RuleChecker:
    """Runs checks in child processes, :data:`MAX_RUNNING` at a time."""

    def __init__(self, budget: CheckBudget) -> None:
        self.budget = budget
        self._slots = asyncio.Semaphore(MAX_RUNNING)
        self._waiting = 0

    async def check(self, request: CheckRequest) -> RuleChange:
        """The change ``request`` makes (accepted or rejected with its problems).

        Raises :class:`~alerts.rules.change.RuleChangeError` for bad file names or a set
        over the byte bound (checked here, at once), :class:`OverBudget`, :class:`Busy`
        or :class:`CheckFailed`.
        """
        check_file_names(request.files)
        if self._waiting >= MAX_WAITING:
            raise Busy(f"{self._waiting} rule checks are waiting already; retry in a minute")
        self._waiting += 1
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
        try:
            return await self._run(request)
        finally:
            self._slots.release()

    async def _run(self, request: CheckRequest) -> RuleChange:
        data = orjson.dumps(
            {
                "files": request.files,
                "previous": request.previous.to_dict() if request.previous else None,
                "source": request.source,
                "author": request.author,
                "at_ms": request.at_ms,
                "comment": request.comment,
            }
        )
        started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "web.rule_check",
            repr(self.budget.seconds),
            str(self.budget.memory_mib),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            cwd=CODE_ROOT,
            # The server's settings (tokens among them) are no business of a process that
            # parses what a caller sent.
            env={k: v for k, v in os.environ.items() if not k.startswith("CITYBRAIN_")},
        )
        try:
            async with asyncio.timeout(self.budget.seconds):
                out, err = await proc.communicate(data)
        except TimeoutError:
            raise OverBudget("time", over_budget_message("time", self.budget)) from None
        finally:
            if proc.returncode is None:  # over time, or the request was cancelled
                proc.kill()
                await proc.wait()
        took = time.monotonic() - started
        return self._answer(proc.returncode, out, err, took)

    def _answer(self, code: int | None, out: bytes, err: bytes, took: float) -> RuleChange:
        if code == EXIT_MEMORY:
            raise OverBudget("memory", over_budget_message("memory", self.budget))
        if code == -signal.SIGXCPU:  # RLIMIT_CPU's soft limit
            raise OverBudget("time", over_budget_message("time", self.budget))
        if code != 0:
            tail = err.decode(errors="replace")[-2000:]
            raise CheckFailed(f"rule check process exited with {code} after {took:.1f} s: {tail}")
        try:
            return RuleChange.from_record(out)
        except RuleChangeError as exc:
            raise CheckFailed(f"rule check process answered an unusable change: {exc}") from None


def limit(budget: CheckBudget) -> None:
    """Cap this process: address space at the memory budget, CPU seconds a little past the
    time budget (a backstop; the parent's clock ends the check first), no core files; and
    lower its priority, so that on a busy machine serving comes before checking."""
    os.nice(NICENESS)
    memory = budget.memory_mib * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = math.ceil(budget.seconds) + 1
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def _read_request() -> dict[str, Any]:
    try:
        request: dict[str, Any] = orjson.loads(sys.stdin.buffer.read())
    except orjson.JSONDecodeError as exc:
        # orjson reports an allocation that failed as a decode error; the parent's JSON is
        # well-formed, so anything else is a bug and is raised as it is.
        if "memory" in str(exc):
            raise MemoryError(str(exc)) from None
        raise
    return request


def run_child(argv: list[str]) -> int:
    """The child: check the request on stdin under the budget in ``argv``; exit status."""
    limit(CheckBudget(seconds=float(argv[0]), memory_mib=int(argv[1])))
    try:
        request = _read_request()
        previous = request["previous"]
        change, _ = make_change(
            request["files"],
            previous=RuleChange.from_dict(previous) if previous is not None else None,
            source=request["source"],
            author=request["author"],
            at_ms=request["at_ms"],
            comment=request["comment"],
        )
        answer = orjson.dumps(change.to_dict())
    except MemoryError:
        # Nothing may be allocated any more, not even a traceback: leave at once.
        os._exit(EXIT_MEMORY)
    sys.stdout.buffer.write(answer)
    sys.stdout.buffer.flush()
    return 0


if __name__ == "__main__":
    sys.exit(run_child(sys.argv[1:]))
