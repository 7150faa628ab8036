"""``citybrain sim layers``: write the simulated static layers of Chancheng to a directory.

Buildings, enterprises, the camera registry (the simulator's own cameras, so
the seed and camera count default to the ``sim`` settings), 网格 grids and the
district outline, as GeoJSON (WGS-84) plus ``manifest.json``; point the web
server at the directory with ``CITYBRAIN_LAYERS__GENERATED_DIR``. Everything is
synthetic (feeds/sim/layers_gen.py, docs/layers.md). Exit codes: 0 written, 2 a bad
option or setting.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from citybrain.config.settings import Settings

console = Console(stderr=True)


def register(target: typer.Typer, settings: Callable[[], Settings], name: str = "layers") -> None:
    """Add the command to ``target`` (e.g. the ``sim`` group) as ``name``."""

    @target.command(name)
    def layers(
        out: Annotated[Path, typer.Option("--out", help="directory to write (created)")],
        seed: Annotated[
            int | None, typer.Option(help="random seed; default: the simulator's (sim.seed)")
        ] = None,
        buildings: Annotated[int, typer.Option(min=1, help="number of buildings")] = 40_000,
        enterprises: Annotated[int, typer.Option(min=0, help="number of enterprises")] = 6_000,
        residents: Annotated[
            int, typer.Option(min=0, help="residents over all buildings")
        ] = 1_100_000,
        stream_url: Annotated[
            str | None,
            typer.Option(help="camera stream URL template with {camera_id}"),
        ] = None,
    ) -> None:
        """Write simulated buildings, enterprises, cameras and grids as GeoJSON layers."""
        from feeds.sim.layers_gen import STREAM_URL_TEMPLATE, LayerGenConfig, generate_layers

        s = settings()
        template = stream_url or STREAM_URL_TEMPLATE
        if "{camera_id}" not in template:
            raise typer.BadParameter("needs {camera_id}", param_hint="--stream-url")
        if out.exists() and not out.is_dir():
            raise typer.BadParameter(f"{out} exists and is not a directory", param_hint="--out")
        config = LayerGenConfig(
            seed=s.sim.seed if seed is None else seed,
            buildings=buildings,
            enterprises=enterprises,
            residents_total=residents,
            cameras=s.sim.cameras,
            sensors=s.sim.sensors,
            stream_url_template=template,
        )
        columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task("starting", total=None)
            entries = generate_layers(
                out, config, progress=lambda step: progress.update(task, description=step)
            )
        for e in entries:
            console.print(f"  {e.id:<12} {e.kind:<11} {e.count:>8,}  {out / e.file}")
        console.print(
            f"wrote {len(entries)} layers (seed {config.seed}) to {out}; serve them with "
            f"CITYBRAIN_LAYERS__GENERATED_DIR={out}"
        )
