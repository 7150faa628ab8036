"""The environment of the third-party contenders (``.venv-contenders``), apart from the
project's: Quix Streams and Bytewax pin versions of pydantic and confluent-kafka that the
project's own pins exclude. Its exact pins are ``[tool.citybrain.contenders]`` in
pyproject.toml; :func:`ensure` creates or updates it (idempotent)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]  # the repository: citybrain/tools/bench/ → ../../..
VENV = ROOT / ".venv-contenders"


def requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """The pinned requirements of the contenders' environment."""
    data = tomllib.loads(pyproject.read_text())
    reqs = data["tool"]["citybrain"]["contenders"]["requirements"]
    if not all(isinstance(r, str) and "==" in r for r in reqs):
        raise ValueError("[tool.citybrain.contenders] requirements must be exact pins (==)")
    return list(reqs)


def python() -> Path:
    return VENV / "bin" / "python"


def ready() -> bool:
    """The environment exists with exactly the pinned requirements installed."""
    stamp = VENV / ".citybrain-pins"
    return python().exists() and stamp.exists() and stamp.read_text() == _digest()


def ensure() -> Path:
    """Create or update the environment; returns its python."""
    if ready():
        return python()
    if not python().exists():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    subprocess.run(
        [str(python()), "-m", "pip", "install", "-q", "--disable-pip-version-check",
         *requirements()],
        check=True,
    )  # fmt: skip
    (VENV / ".citybrain-pins").write_text(_digest())
    return python()


def _digest() -> str:
    return hashlib.sha256("\n".join(requirements()).encode()).hexdigest()
