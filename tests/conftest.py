"""Shared fixtures: the real embedded stack (Tansu broker, redis-server, worker, web)."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from alerts.rules.file import DEFAULT_RULES
from citybrain.config.settings import Settings
from citybrain.stack import EmbeddedStack, free_port, wait_port

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the default rule set that the session's stack runs (and hot-reloads)."""
    path = tmp_path_factory.mktemp("rules")
    shutil.copy(DEFAULT_RULES / "default.yaml", path / "default.yaml")
    return path


@pytest.fixture(scope="session")
def stack(
    tmp_path_factory: pytest.TempPathFactory, artifacts: Path, rules_dir: Path
) -> Iterator[EmbeddedStack]:
    """One embedded stack for the session's end-to-end and browser tests, stopped at the end;
    its logs are kept in test-artifacts/stack-logs."""
    if shutil.which("redis-server") is None:
        pytest.fail("redis-server is not installed (Debian package redis-server)")
    run_dir = tmp_path_factory.mktemp("stack")
    settings = Settings().with_overrides(
        web={"port": 0}, rules={"path": str(rules_dir)}, log_level="info"
    )
    embedded = EmbeddedStack(settings, run_dir, simulate=False)
    try:
        embedded.start()
        yield embedded
    finally:
        embedded.stop()
        logs = artifacts / "stack-logs"
        shutil.rmtree(logs, ignore_errors=True)
        if (run_dir / "logs").exists():
            shutil.copytree(run_dir / "logs", logs)


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real redis-server on a free loopback port for the session (no persistence);
    tests keep apart by key prefix."""
    binary = shutil.which("redis-server")
    if binary is None:
        pytest.fail("redis-server is not installed (Debian package redis-server)")
    port = free_port()
    workdir = tmp_path_factory.mktemp("redis")
    proc = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_port(port, 30, proc)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
