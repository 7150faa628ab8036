"""``citybrain load``: a bounded load test — ingest at a fixed rate plus many websocket
clients — with figures for errors, drops, lag and resource use (wiring only).

By default it starts its own embedded stack (broker, redis-server, worker, web; no
simulator) and loads it; with ``--target-web`` and ``--kafka`` it loads a deployment
that is already running. The run is :func:`citybrain.tools.load.run.run_load`; the figures
:mod:`citybrain.tools.load.report`; the outputs ``results.json``, ``results.md`` and
``load.png`` in ``--out``. Exit codes: 0 done, 1 the stack or the target failed
(the message says how), 2 a bad option or setting.
"""

from __future__ import annotations

import asyncio
import logging
import shlex
import shutil
import signal
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from citybrain.config.settings import Settings

if TYPE_CHECKING:
    from citybrain.stack import EmbeddedStack
    from citybrain.tools.load.report import LoadPlan
    from citybrain.tools.load.run import RunData, Targets
    from feeds.sim.loadgen import LoadCamera

LOAD_READ_BURST = 100_000  # /ws handshakes and /api reads of the embedded run
LOAD_READ_RATE = 10_000.0
BENCH_RESULTS = Path("benchmarks/results.json")  # where --section keeps the figures
console = Console(stderr=True)

READY_TIMEOUT_S: Final = 120.0
DEFAULT_OUT: Final = Path("test-artifacts/load")


def parse_web_url(text: str) -> str:
    """The web server's base URL (``http[s]://host[:port][/prefix]``), ending in ``/``.
    ValueError otherwise."""
    url = urllib.parse.urlsplit(text.strip())
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ValueError(f"{text!r} is not an http:// or https:// URL with a host")
    if url.query or url.fragment:
        raise ValueError(f"{text!r}: give the server's base URL, without ? or #")
    try:
        url.port  # noqa: B018  (raises ValueError for a port out of range)
    except ValueError as exc:
        raise ValueError(f"{text!r}: bad port ({exc})") from None
    return urllib.parse.urlunsplit((url.scheme, url.netloc, url.path.rstrip("/") + "/", "", ""))


def parse_bootstrap(text: str) -> str:
    """Kafka bootstrap servers ``host:port[,host:port…]`` as the settings' broker URLs
    (``kafka://host:port;…``). ValueError otherwise."""
    urls = []
    for part in (p.strip() for p in text.split(",")):
        host, _, port = part.rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"{part!r} is not host:port (port 1 … 65535)")
        urls.append(f"kafka://{host}:{int(port)}")
    return ";".join(urls)


def parse_pid(text: str) -> tuple[str, int]:
    """``NAME=PID`` of a local process to sample. ValueError otherwise."""
    name, sep, pid = text.partition("=")
    if not sep or not name.strip() or not pid.strip().isdigit():
        raise ValueError(f"{text!r} is not NAME=PID, e.g. worker=4242")
    return name.strip(), int(pid)


def _log_above_progress() -> None:
    """Send log lines through the console, so they print above the live progress bar
    instead of tearing it."""
    from rich.logging import RichHandler

    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    root.addHandler(RichHandler(console=console, show_path=False, markup=False))


def _bad(hint: str, exc: Exception) -> typer.BadParameter:
    return typer.BadParameter(str(exc), param_hint=hint)


def _get_json(url: str, headers: dict[str, str]) -> Any:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return orjson.loads(response.read())


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except OSError:  # refused while starting, or 503 (HTTPError) until ready
        return False


def register(app: typer.Typer, load_settings: Callable[[], Settings]) -> None:
    """Add ``load`` to ``app``; ``load_settings`` reads the settings (and reports errors
    in them) the way every command does."""

    @app.command("load")
    def load_command(
        rate: Annotated[float, typer.Option(help="events per second offered")] = 20_000,
        clients: Annotated[int, typer.Option(help="websocket clients on /ws")] = 500,
        stalled: Annotated[
            int,
            typer.Option(
                min=0,
                help="besides: websocket clients on /ws that never read (the server "
                "should drop them; lag figures come from the --clients)",
            ),
        ] = 0,
        duration: Annotated[float, typer.Option(help="seconds of load")] = 300,
        batch: Annotated[int, typer.Option(help="events per Kafka record")] = 200,
        cameras: Annotated[
            int, typer.Option(help="distinct cameras, inside the Chancheng outline")
        ] = 18_000,
        ramp: Annotated[
            float, typer.Option(help="seconds over which clients connect (at most half the run)")
        ] = 5.0,
        out: Annotated[
            Path, typer.Option(help="directory for results.json, results.md, load.png")
        ] = DEFAULT_OUT,
        target_web: Annotated[
            str | None,
            typer.Option(help="load a running deployment: its web server's base URL"),
        ] = None,
        kafka: Annotated[
            str | None, typer.Option(help="with --target-web: bootstrap host:port[,…]")
        ] = None,
        worker_metrics: Annotated[
            str | None, typer.Option(help="with --target-web: a worker's /metrics URL")
        ] = None,
        token_file: Annotated[
            Path | None,
            typer.Option(
                help="with --target-web: a file holding a viewer token, if anonymous "
                "callers may not use /ws and /metrics",
                exists=True,
                dir_okay=False,
            ),
        ] = None,
        pid: Annotated[
            list[str] | None,
            typer.Option(help="with --target-web: NAME=PID of a local process to sample"),
        ] = None,
        seed: Annotated[int, typer.Option(help="seed of the camera positions")] = 42,
        section: Annotated[
            str | None,
            typer.Option(
                help="also keep the figures as this section of benchmarks/results.json "
                "(docs/benchmarks.md), e.g. latency_20k"
            ),
        ] = None,
    ) -> None:
        """Load test: ingest at --rate events/s plus --clients websocket clients (and
        --stalled that never read) for --duration s; figures for errors, drops, lag and
        resource use."""
        from citybrain.tools.load.report import LoadPlan

        external = target_web is not None
        if external != (kafka is not None):
            raise typer.BadParameter("--target-web and --kafka go together", param_hint="--kafka")
        if not external and (worker_metrics or token_file or pid):
            raise typer.BadParameter(
                "--worker-metrics, --token-file and --pid need --target-web",
                param_hint="--target-web",
            )
        try:
            web_url = parse_web_url(target_web) if target_web is not None else None
        except ValueError as exc:
            raise _bad("--target-web", exc) from None
        if stalled and web_url is not None and not web_url.startswith("http://"):
            raise typer.BadParameter(
                "stalled clients speak plain websocket only: give an http:// --target-web",
                param_hint="--stalled",
            )
        try:
            brokers = parse_bootstrap(kafka) if kafka is not None else None
        except ValueError as exc:
            raise _bad("--kafka", exc) from None
        try:
            metrics_url = parse_web_url(worker_metrics).rstrip("/") if worker_metrics else None
        except ValueError as exc:
            raise _bad("--worker-metrics", exc) from None
        try:
            pids = dict(parse_pid(p) for p in pid or ())
        except ValueError as exc:
            raise _bad("--pid", exc) from None
        for name, number in pids.items():
            if not Path(f"/proc/{number}").exists():
                raise typer.BadParameter(f"{name}: no process {number}", param_hint="--pid")
        headers = {}
        if token_file is not None:
            try:
                token = token_file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise _bad("--token-file", exc) from None
            if not token:
                raise typer.BadParameter(f"{token_file} is empty", param_hint="--token-file")
            headers["Authorization"] = f"Bearer {token}"
        try:
            plan = LoadPlan(
                rate=rate,
                clients=clients,
                duration_s=duration,
                batch=batch,
                cameras=cameras,
                ramp_s=min(ramp, duration / 2),
                target=web_url or "embedded",
                stalled=stalled,
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        settings = load_settings()
        _log_above_progress()
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _bad("--out", exc) from None
        if web_url is not None and brokers is not None:
            _run_external(
                plan, settings, web_url, brokers, metrics_url, pids, headers, out, seed, section
            )
        else:
            _run_embedded(plan, settings, out, seed, section)


def _run_embedded(
    plan: LoadPlan, settings: Settings, out: Path, seed: int, section: str | None
) -> None:
    from aiokafka.errors import KafkaError

    from citybrain.stack import EmbeddedStack
    from citybrain.tools.load.run import Targets

    fleet = _fleet(plan, seed, settings.pipeline.h3_resolution)
    run_dir = Path(tempfile.mkdtemp(prefix="citybrain-load-"))
    # Free ports for the web server and the worker's /metrics, whatever the defaults say.
    # The clients all share one token on one address; in a control room each screen is
    # its own caller, so the per-caller read budget is lifted here (said in the notes).
    web = {"port": 0, "read_burst": LOAD_READ_BURST, "read_rate_per_s": LOAD_READ_RATE}
    stack = EmbeddedStack(settings.with_overrides(web=web), run_dir, simulate=False)
    try:
        with console.status("starting broker, redis-server, worker, web …"):
            try:
                live = stack.start()
            except (RuntimeError, TimeoutError, OSError, KafkaError) as exc:
                console.print(f"[red]the stack did not start: {exc}[/red]")
                raise typer.Exit(1) from exc
            web_url = f"http://127.0.0.1:{live.web.port}/"
            worker = f"http://127.0.0.1:{live.worker_http_port}/"
            _wait_ready(stack, [worker + "readyz", web_url + "readyz"])
        pids = {c.name: c.proc.pid for c in stack.children}
        headers = {}
        if stack.token_file is not None:  # the run's engineer token: /ws whatever anonymous may
            token = stack.token_file.read_text(encoding="utf-8").strip()
            headers["Authorization"] = f"Bearer {token}"
        targets = Targets(live, web_url, worker + "metrics", pids, headers)
        _run_and_report(plan, targets, fleet, out, stack=stack, section=section)
    finally:
        with console.status("stopping the stack …"):
            stack.stop()
        if (run_dir / "logs").exists():
            shutil.copytree(run_dir / "logs", out / "logs", dirs_exist_ok=True)
        shutil.rmtree(run_dir, ignore_errors=True)
        console.print(f"stack logs: {out / 'logs'}")


def _wait_ready(stack: EmbeddedStack, urls: list[str]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    for url in urls:
        while not _answers(url):
            dead = stack.dead_children()
            if dead:
                console.print(f"[red]stopped unexpectedly: {', '.join(dead)}[/red]")
                raise typer.Exit(1)
            if time.monotonic() > deadline:
                console.print(f"[red]{url} not ready after {READY_TIMEOUT_S:.0f} s[/red]")
                raise typer.Exit(1)
            time.sleep(0.2)


def _run_external(
    plan: LoadPlan,
    settings: Settings,
    web_url: str,
    brokers: str,
    metrics_url: str | None,
    pids: dict[str, int],
    headers: dict[str, str],
    out: Path,
    seed: int,
    section: str | None,
) -> None:
    from citybrain.tools.load.run import Targets

    try:
        config = _get_json(web_url + "api/config", headers)
    except (OSError, ValueError) as exc:  # URLError, HTTPError, refused, not JSON
        console.print(f"[red]cannot read {web_url}api/config: {exc}[/red]")
        raise typer.Exit(1) from exc
    resolution = config.get("h3_resolution") if isinstance(config, dict) else None
    if not isinstance(resolution, int) or not 0 <= resolution <= 15:
        console.print(f"[red]{web_url}api/config has no h3_resolution 0 … 15[/red]")
        raise typer.Exit(1)
    fleet = _fleet(plan, seed, resolution)
    live = settings.with_overrides(kafka={"brokers": brokers})
    targets = Targets(live, web_url, metrics_url, pids, headers)
    _run_and_report(plan, targets, fleet, out, stack=None, section=section)


def _fleet(plan: LoadPlan, seed: int, resolution: int) -> tuple[LoadCamera, ...]:
    from feeds.sim.loadgen import camera_fleet

    with console.status(f"placing {plan.cameras:,} cameras …"):
        return camera_fleet(plan.cameras, seed=seed, resolution=resolution)


def _run_and_report(
    plan: LoadPlan,
    targets: Targets,
    fleet: Sequence[LoadCamera],
    out: Path,
    *,
    stack: EmbeddedStack | None,
    section: str | None = None,
) -> None:
    from aiokafka.errors import KafkaError

    from citybrain.tools.load.plot import plot_load
    from citybrain.tools.load.report import report_to_dict
    from citybrain.tools.load.resources import machine_info
    from citybrain.tools.load.run import LiveFigures, build_report, run_load
    from citybrain.tools.load.table import render_markdown

    machine = machine_info()
    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[info]}"),
        console=console,
    )
    task = progress.add_task("load", total=plan.duration_s, info="")

    def show(f: LiveFigures) -> None:
        lag = "–" if f.lag_p50_ms is None else f"{f.lag_p50_ms:,.0f} ms"
        e2e = "–" if f.e2e_ms is None else f"{f.e2e_ms:,.0f} ms"
        progress.update(
            task,
            description="draining" if f.draining else "load",
            completed=min(f.elapsed_s, plan.duration_s),
            info=f"acked {f.acked:,}/{f.offered:,} events · clients {f.connected}/"
            f"{plan.clients} · lag p50 {lag} · end-to-end {e2e}",
        )

    async def main() -> RunData:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        with progress:
            return await run_load(plan, targets, fleet, stop=stop, progress=show)

    try:
        data = asyncio.run(main())
    except KafkaError as exc:
        console.print(f"[red]the broker failed: {exc!r}[/red]")
        raise typer.Exit(1) from exc
    notes = []
    if stack is not None:
        notes.append(
            f"per-caller read budget lifted to {LOAD_READ_BURST} at once, {LOAD_READ_RATE:g}/s: "
            "every client shares one token and one address"
        )
    if stack is not None and stack.dead_children():
        notes.append(f"died during the run: {', '.join(stack.dead_children())}")
        console.print(f"[yellow]{notes[-1]}[/yellow]")
    command = "citybrain " + shlex.join(sys.argv[1:])
    report = build_report(plan, data, command=command, machine=machine, notes=notes)
    figures = report_to_dict(report)
    (out / "results.json").write_bytes(orjson.dumps(figures, option=orjson.OPT_INDENT_2) + b"\n")
    if section is not None:
        from citybrain.tools.bench.report import save_section

        kept = save_section(BENCH_RESULTS, section, orjson.loads(orjson.dumps(figures)))
        console.print(f"kept as section {section!r} of {kept}")
    table = render_markdown(report)
    (out / "results.md").write_text(table, encoding="utf-8")
    plot_load(report, out / "load.png")
    sys.stdout.write(table)
    console.print(f"results: {out / 'results.json'}, {out / 'results.md'}, {out / 'load.png'}")
