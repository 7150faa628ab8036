"""The ``citybrain`` command: ``up``, ``worker``, ``web``, ``sim``, ``topics``.

Each sub-command reads the settings once and hands them down; errors in the
settings are printed with every field at fault, and the exit code is 2.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from pydantic import ValidationError
from rich.console import Console

from citybrain.cli.bench import register as register_bench
from citybrain.cli.layers import register as register_layers
from citybrain.cli.load import register as register_load
from citybrain.cli.recording import register as register_recording
from citybrain.cli.rules import rules_app
from citybrain.config.settings import Settings, load_settings

if TYPE_CHECKING:
    from citybrain.stack import EmbeddedStack

app = typer.Typer(
    help="citybrain: real-time geospatial event-stream processor for city command centres.",
    no_args_is_help=True,
    add_completion=False,
)
topics_app = typer.Typer(help="Kafka topics.", no_args_is_help=True)
app.add_typer(topics_app, name="topics")
app.add_typer(rules_app, name="rules")
console = Console(stderr=True)


def _settings() -> Settings:
    try:
        settings = load_settings()
    except ValidationError as exc:
        console.print(f"[red]invalid settings[/red]\n{exc}")
        raise typer.Exit(2) from exc
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return settings


register_recording(app, _settings)  # citybrain record / citybrain replay
register_load(app, _settings)  # citybrain load
register_bench(app)  # citybrain bench


async def _until_signal() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM, for a clean asyncio shutdown."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


@app.command()
def worker() -> None:
    """Run the Faust worker (ingest, cells, alerts)."""
    import faust

    from streams.worker.app import create_app
    from streams.worker.collector import settle_heap

    settings = _settings()
    (settings.embedded.data_dir / "faust" / settings.worker_id).mkdir(parents=True, exist_ok=True)
    faust_app = create_app(settings)
    settle_heap()  # the start-up heap out of the collector's way (streams/worker/collector.py)
    faust.Worker(faust_app, loglevel=settings.log_level, quiet=True).execute_from_commandline()


@app.command()
def web() -> None:
    """Run the web server: command map, websocket and HTTP API."""
    from web.server import WebServer

    settings = _settings()

    # Each web server reads every record (its own consumer group) so that its clients see
    # everything; two servers under one name would split the partitions between them.
    w = settings.web
    instance = w.instance or f"web-{socket.gethostname()}-{w.port}"

    async def main() -> None:
        stop = await _until_signal()
        await WebServer(settings, instance=instance).serve_forever(stop)

    asyncio.run(main())


sim_app = typer.Typer(
    help="Simulate Chancheng (no sub-command: stream events); 'sim layers' writes its static "
    "layers.",
    invoke_without_command=True,
)
app.add_typer(sim_app, name="sim")
register_layers(sim_app, _settings)


@sim_app.callback()
def sim(
    ctx: typer.Context,
    duration: Annotated[
        float | None, typer.Option(help="simulated seconds, default: forever")
    ] = None,
    speed: Annotated[float | None, typer.Option(help="simulated seconds per wall second")] = None,
    seed: Annotated[int | None, typer.Option(help="random seed of the city")] = None,
    incident_at: Annotated[float | None, typer.Option(help="incident start, s after start")] = None,
    record: Annotated[
        Path | None,
        typer.Option(
            help="write a recording (.jsonl, .jsonl.gz, .parquet) as fast as possible instead "
            "of sending to Kafka; needs --duration"
        ),
    ] = None,
) -> None:
    """Simulate Chancheng: cameras, sensors, hotline, grid workers and the Tongji Bridge
    incident."""
    if ctx.invoked_subcommand is not None:
        return
    from feeds.sim.runner import run_simulator

    settings = _settings()
    overrides = {"speed": speed, "seed": seed, "incident_at_s": incident_at}
    settings = settings.with_overrides(sim={k: v for k, v in overrides.items() if v is not None})
    if record is not None:
        _simulate_to_file(settings, record, duration)
        return

    # Faster than real time, simulated clocks would run into the future (and be rejected as
    # such); with a duration, start that far in the past so the run ends at "now".
    start_ms = None
    if duration is not None and settings.sim.speed > 1:
        start_ms = int(time.time() * 1000 - duration * 1000)

    async def main() -> None:
        stop = await _until_signal()
        stats = await run_simulator(settings, duration_s=duration, start_ms=start_ms, stop=stop)
        console.print(f"simulator sent {stats}")

    asyncio.run(main())


def _simulate_to_file(settings: Settings, path: Path, duration: float | None) -> None:
    from rich.progress import Progress

    from feeds.recording.simulated import simulate_to_recording

    if duration is None:
        raise typer.BadParameter("--record needs --duration", param_hint="--duration")
    if path.exists():
        raise typer.BadParameter(f"{path} exists; choose another name", param_hint="--record")
    start_ms = int(time.time() * 1000 - duration * 1000)  # ends now, like a fresh recording
    with Progress(console=Console(stderr=True)) as progress:
        task = progress.add_task("simulating", total=duration)
        records = simulate_to_recording(
            settings,
            path,
            start_ms=start_ms,
            duration_s=duration,
            progress=lambda at_ms: progress.update(task, completed=(at_ms - start_ms) / 1000),
        )
    console.print(f"wrote {records} records ({duration:g} simulated seconds) to {path}")


@topics_app.command("create")
def topics_create() -> None:
    """Create the project's topics on the configured broker (idempotent)."""
    from streams.io.topic_admin import create_topics

    created = asyncio.run(create_topics(_settings()))
    console.print(f"created: {', '.join(created) or 'nothing, all exist'}")


def _start_stack(stack: EmbeddedStack, workers: int, webs: int) -> None:
    """Start ``stack`` with ``workers`` workers and ``webs`` web servers, printing where
    each listens; writes the run's settings to ``<run dir>/stack.env`` (mode 0600: it
    holds the tokens) for processes an operator starts by hand (docs/deploy.md)."""
    from citybrain.stack import env_file_text, free_port, settings_env, write_secret

    directory = stack.run_dir
    stack.start()
    live = stack.live
    env_file = write_secret(directory / "stack.env", env_file_text(settings_env(live)))
    console.print(f"  broker (feeds send here): {','.join(live.kafka.bootstrap_servers())}")
    console.print(f"  worker: metrics and health on http://127.0.0.1:{live.worker_http_port}/")
    for n in range(2, workers + 1):
        port = free_port()
        stack.add_process(
            f"worker-{n}",
            "worker",
            worker_id=f"worker-{n}",
            worker_http_port=port,
            embedded={"data_dir": str(directory / f"worker-{n}")},
        )
        console.print(f"  worker-{n}: metrics and health on http://127.0.0.1:{port}/")
    for n in range(2, webs + 1):
        _, extra = stack.add_process(f"web-{n}", "web", web={"port": free_port()})
        console.print(f"  web-{n}: http://127.0.0.1:{extra.web.port}/")
    console.print(
        f"\n  command map: [bold green]{stack.url()}[/bold green]\n"
        f"  logs:        {directory / 'logs'}\n"
        f"  settings:    {env_file} (to start more workers by hand)\n"
        + "".join(f"  {name} token: {path}\n" for name, path in stack.token_files.items())
        + ("  (paste a token into the map's sign-in to act)\n" if stack.token_files else "")
        + "  Ctrl-C stops everything.\n"
    )


@app.command()
def up(
    simulate: Annotated[bool, typer.Option("--sim/--no-sim", help="run the simulator")] = True,
    run_dir: Annotated[
        Path | None, typer.Option(help="logs and state; default: a temp dir")
    ] = None,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="worker processes (one consumer group)")
    ] = 1,
    webs: Annotated[int, typer.Option(min=1, max=16, help="web servers, each on its own port")] = 1,
) -> None:
    """Start the whole embedded stack on loopback and print the map URL; Ctrl-C stops it.

    ``--workers``/``--webs`` start more workers and web servers, as
    ``docker compose up --scale`` does (docs/deploy.md); the topics get
    ``kafka.partitions`` partitions (``CITYBRAIN_KAFKA__PARTITIONS``)."""
    from citybrain.stack import EmbeddedStack

    settings = _settings()
    directory = run_dir or Path(tempfile.mkdtemp(prefix="citybrain-"))
    stack = EmbeddedStack(settings, directory, simulate=simulate)
    stopping = False
    exit_code = 0

    def on_signal(_signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        console.print(
            "starting broker, redis-server, worker, web" + (", simulator" if simulate else "")
        )
        try:
            _start_stack(stack, workers, webs)
        except (OSError, RuntimeError, TimeoutError, ValidationError) as exc:
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            console.print(f"[red]citybrain up: {message}[/red] (see {directory / 'logs'})")
            exit_code = 1
            stopping = True
        while not stopping:
            dead = stack.dead_children()
            if dead:
                console.print(
                    f"[red]stopped unexpectedly: {', '.join(dead)}[/red] (see {directory / 'logs'})"
                )
                exit_code = 1
                break
            time.sleep(0.5)
    finally:
        console.print("stopping …")
        stack.stop()
        console.print("stopped.")
    raise typer.Exit(exit_code)
