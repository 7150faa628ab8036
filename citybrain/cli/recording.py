"""``citybrain record`` and ``citybrain replay``: capture the input topics to a file,
play a recording back into Kafka at real or accelerated time.

Both show live progress on stderr and stop cleanly on Ctrl-C or SIGTERM (the
recording is flushed and closed; a replay waits for what it sent). Exit codes:
0 done, 1 the file or the broker was at fault (the message says how), 2 a bad
option or setting.
"""

from __future__ import annotations

import asyncio
import re
import signal
from collections.abc import Callable, Coroutine
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final, TypeVar

import typer
from rich.console import Console
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from citybrain.config.settings import Settings

if TYPE_CHECKING:
    from feeds.recording.record import RecordStats
    from feeds.recording.replay import ReplayStats

console = Console(stderr=True)
T = TypeVar("T")

DEFAULT_TOPICS: Final = "events.camera,events.sensor,events.hotline,events.worker,events.labels"
_DURATION: Final = re.compile(
    r"(?:(?P<h>\d+(?:\.\d+)?)h)?(?:(?P<m>\d+(?:\.\d+)?)m)?(?:(?P<s>\d+(?:\.\d+)?)s)?"
)


def parse_duration(text: str) -> float:
    """Seconds in ``90``, ``90s``, ``10m``, ``1h30m``, ``1.5h``; ValueError otherwise."""
    text = text.strip().lower()
    try:
        seconds = float(text)
    except ValueError:
        m = _DURATION.fullmatch(text)
        if not text or m is None:
            raise ValueError(f"{text!r} is not a duration such as 90s, 10m or 1h30m") from None
        seconds = sum(float(m[u] or 0) * f for u, f in (("h", 3600), ("m", 60), ("s", 1)))
    if seconds <= 0:
        raise ValueError(f"duration must be > 0, got {text!r}")
    return seconds


def parse_topics(text: str) -> list[str]:
    """Logical topic names from a comma-separated list (blanks dropped, order kept)."""
    topics = list(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    if not topics:
        raise typer.BadParameter("no topic given", param_hint="--topics")
    return topics


def _clock(ms: int | None) -> str:
    if ms is None:
        return "-"
    return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def _span(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes:02d}:{secs:02d}"


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"  # unreachable: the loop returns at GiB


def _end_live() -> None:
    """End the line a live display left open: off a terminal, rich prints its last
    frame without a newline."""
    if not console.is_terminal:
        console.line()


def _stop_on_signals() -> asyncio.Event:
    """An event set by SIGINT or SIGTERM (call inside the running loop)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    return stop


def _record_view(out: Path, stats: RecordStats | None) -> Table:
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold")
    table.add_column(justify="right")
    if stats is None:
        table.add_row(f"recording to {out}", "connecting …")
        return table
    table.add_row(f"recording to {out}", f"elapsed {_span(stats.elapsed_s)}")
    table.add_row("records", f"{stats.records:,}")
    table.add_row("bytes", _size(stats.bytes))
    for topic, n in stats.per_topic.items():
        table.add_row(f"  {topic}", f"{n:,}")
    return table


def register(app: typer.Typer, load_settings: Callable[[], Settings]) -> None:
    """Add ``record`` and ``replay`` to ``app``; ``load_settings`` reads the settings
    (and reports errors in them) the way every command does."""

    @app.command("record")
    def record_command(
        out: Annotated[
            Path,
            typer.Argument(
                help="file to write: .jsonl, .jsonl.gz (gzip) or .parquet", dir_okay=False
            ),
        ],
        topics: Annotated[
            str, typer.Option(help="comma-separated logical topics (no prefix)")
        ] = DEFAULT_TOPICS,
        duration: Annotated[
            str | None, typer.Option(help="stop after this long: 90s, 10m, 1h30m")
        ] = None,
        max_records: Annotated[
            int | None, typer.Option(min=1, help="stop after this many records")
        ] = None,
        from_beginning: Annotated[
            bool,
            typer.Option(
                "--from-beginning/--from-now",
                help="start at the oldest record each partition holds, or only take new ones",
            ),
        ] = False,
        force: Annotated[bool, typer.Option("--force", help="replace OUT if it exists")] = False,
    ) -> None:
        """Record the live input topics to a file until Ctrl-C, --duration or --max-records."""
        from feeds.recording.record import record

        names = parse_topics(topics)
        try:
            duration_s = None if duration is None else parse_duration(duration)
        except ValueError as exc:
            raise typer.BadParameter(str(exc), param_hint="--duration") from exc
        if out.exists() and not force:
            raise typer.BadParameter(f"{out} exists; --force replaces it", param_hint="OUT")
        settings = load_settings()

        async def main() -> RecordStats:
            stop = _stop_on_signals()
            try:
                with Live(_record_view(out, None), console=console, refresh_per_second=4) as live:
                    return await record(
                        settings,
                        out,
                        topics=names,
                        duration_s=duration_s,
                        max_records=max_records,
                        from_beginning=from_beginning,
                        stop=stop,
                        progress=lambda s: live.update(_record_view(out, s)),
                        overwrite=force,
                    )
            finally:
                _end_live()

        stats = _run(main)
        console.print(
            f"recorded {stats.records:,} records ({_size(stats.bytes)}) to {out} "
            f"in {_span(stats.elapsed_s)}: {stats.reason}"
        )

    @app.command("replay")
    def replay_command(
        file: Annotated[
            Path,
            typer.Argument(
                help="a recording: .jsonl, .jsonl.gz or .parquet",
                exists=True,
                dir_okay=False,
                readable=True,
            ),
        ],
        speed: Annotated[
            float,
            typer.Option(min=0, help="recorded seconds per wall second; 0: as fast as possible"),
        ] = 1.0,
        fast: Annotated[
            bool, typer.Option("--fast", help="as fast as possible (--speed 0)")
        ] = False,
        retime: Annotated[
            bool,
            typer.Option(
                "--retime/--keep-time",
                help="shift event times so the replay happens now, or send values byte for byte",
            ),
        ] = True,
        topics: Annotated[
            str | None,
            typer.Option(help="comma-separated logical topics to replay; default: all"),
        ] = None,
        skip_bad: Annotated[
            bool,
            typer.Option("--skip-bad", help="skip (and list) unreadable lines instead of stopping"),
        ] = False,
    ) -> None:
        """Play a recording back into Kafka (settings' broker and topic prefix)."""
        from aiokafka.errors import KafkaError

        from feeds.recording.files import RecordingError
        from feeds.recording.replay import ReplayError, plan_file, replay

        names = None if topics is None else parse_topics(topics)
        settings = load_settings()
        pace = 0.0 if fast else speed
        try:
            with console.status(f"reading {file} …"):
                the_plan, bad = plan_file(file, pace, names, skip_bad=skip_bad)
        except RecordingError as exc:
            console.print(f"[red]{exc}[/red]\n(--skip-bad replays the readable lines)")
            raise typer.Exit(1) from exc
        for problem in bad[:10]:
            console.print(f"[yellow]skipped[/yellow] {problem}")
        if len(bad) > 10:
            console.print(f"[yellow]… {len(bad) - 10} more bad lines skipped[/yellow]")
        if the_plan.records == 0:
            console.print(f"{file}: nothing to replay")
            return
        console.print(
            f"{file}: {the_plan.records:,} records on {', '.join(the_plan.topics)}, recorded "
            f"{_clock(the_plan.first_ts_ms)} .. {_clock(the_plan.last_ts_ms)}; "
            + (f"about {_span(the_plan.duration_ms / 1000)} at x{pace:g}" if pace else "fast")
        )
        progress = Progress(
            TextColumn("[bold]replay"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[position]}"),
            TextColumn("{task.fields[rate]}"),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            console=console,
        )
        task = progress.add_task("replay", total=the_plan.records, position="", rate="")

        def show(s: ReplayStats) -> None:
            first = s.first_ts_ms or 0
            at = "" if s.position_ms is None else _clock(s.position_ms)
            offset = 0 if s.position_ms is None else (s.position_ms - first) / 1000
            rate = s.sent / s.elapsed_s if s.elapsed_s > 0 else 0.0
            progress.update(
                task,
                completed=s.sent,
                position=f"recorded {at} (+{_span(offset)})",
                rate=f"{rate:,.0f} rec/s",
            )

        async def main() -> ReplayStats:
            stop = _stop_on_signals()
            with progress:
                return await replay(
                    settings,
                    file,
                    speed=pace,
                    retime=retime,
                    topics=names,
                    stop=stop,
                    progress=show,
                    skip_bad=skip_bad,
                    planned=(the_plan, bad),
                )

        try:
            stats = _run(main)
        except (RecordingError, ReplayError, KafkaError) as exc:
            console.print(f"[red]replay failed: {exc}[/red]")
            raise typer.Exit(1) from exc
        moved = stats.event_shift_ms / 1000
        shift = (
            f"; event times moved by {moved:+,.0f} s ({_span(abs(moved))}), "
            f"{stats.unchanged:,} records without a time sent as recorded"
            if retime
            else ""
        )
        console.print(
            f"replayed {stats.sent:,} of {stats.total:,} records in {_span(stats.elapsed_s)}"
            f" ({stats.reason}){shift}"
        )


def _run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``main`` in a fresh event loop; an unreachable broker exits 1 with a message."""
    from aiokafka.errors import KafkaConnectionError

    try:
        return asyncio.run(main())
    except KafkaConnectionError as exc:
        console.print(f"[red]cannot reach the broker: {exc}[/red]")
        raise typer.Exit(1) from exc
