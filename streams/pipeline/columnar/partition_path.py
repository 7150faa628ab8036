"""One partition of the cells agent (pure): camera cells in columns, the rest per object.

Camera readings fold into the partition's :class:`CameraHotPath`; sensors, tickets,
people's actions, what other partitions tell and the sweeps go through
:func:`streams.pipeline.step.process_batch` as ever, which this class serves as its
:class:`streams.pipeline.step.CameraCells`: a cell holding camera readings is measured by
the rounds only — its sensors and tickets, kept by the per-object store, are the
round's extras — so it has one view, never two partial ones.

Contract (tests/unit/test_columnar_partition.py): a step with a round gives the views,
removals, alerts and audit entries that :func:`process_batch` gives for the same
events with the camera readings as objects, at the same event time. The rules see the
metrics of the cells a round hands them (:mod:`streams.pipeline.columnar.rule_filter`: a track,
or a metric at or past a rule's ``enter``, and every cell with sensors or tickets),
and any other camera cell's metrics as its last round measured them.

A cell moves between the two sides with its history: the first camera reading in a
cell the per-object side measured takes its trend series and baselines into the
columns; a cell whose last camera reading expires while sensors or tickets remain is
handed back with them. Baselines of a cell left with nothing go to the per-object
store, where the reference keeps them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

import h3
import numpy as np

from alerts.crowd.baseline import Baseline
from alerts.crowd.cell_metrics import CellBaselines, CellMetrics
from alerts.incidents.lifecycle import Action
from alerts.rules.engine import CompiledRule, compile_rules
from streams.pipeline.camera_cells import CameraRound
from streams.pipeline.cellfold import CellState, expire
from streams.pipeline.columnar.camera_columns import CameraColumns, Cells
from streams.pipeline.columnar.camera_round import CellExtras, ContextTable, RoundFigures
from streams.pipeline.columnar.hot_path import CameraHotPath, RoundOut
from streams.pipeline.columnar.partition_log import PartitionLog, restore_state
from streams.pipeline.columnar.rule_filter import cell_metrics_of, metric_columns, rule_candidates
from streams.pipeline.events import Event
from streams.pipeline.halo import Near
from streams.pipeline.step import context_of, process_batch
from streams.pipeline.step_data import Output, PipelineConfig, Stores


class PartitionPath:
    """The cells of one partition (see the module docstring)."""

    def __init__(self, stores: Stores, partition: int, config: PipelineConfig) -> None:
        self.stores, self.partition, self.config = stores, partition, config
        self.hot = CameraHotPath(
            config.metrics, config.windows, ContextTable(lambda c: context_of(c, config.zones))
        )
        self.held: set[int] = set()  # cells holding camera readings
        self.mixed: set[int] = set()  # of them, those holding sensors or tickets too
        self.last: dict[int, tuple[RoundFigures, int]] = {}  # cell → its last measurement
        self.known: dict[int, CellMetrics] = {}  # metrics made of ``last`` so far
        self.measured_at: dict[int, int] = {}  # cell → event time of its last measurement
        self.now = 0  # the event time of the step under way, ms
        self.views_now: dict[str, dict[str, Any]] = {}  # views of cells a rule looked at
        self.log = PartitionLog(self.hot.state)

    @classmethod
    def restored(
        cls, stores: Stores, partition: int, config: PipelineConfig, records: Iterable[bytes]
    ) -> PartitionPath:
        """The path of a partition taken over: its camera state from its log records
        (:func:`streams.pipeline.columnar.partition_log.restore_state`, from the last snapshot
        on), its sensors and tickets from ``stores``; every camera cell is measured at
        the first round."""
        path = cls(stores, partition, config)
        state = restore_state(records, config.metrics)
        path.hot.state, path.log = state, PartitionLog(state)
        path.log.sensors_taken = dict(state.sensor_baselines)
        table = state.cameras
        cells = np.unique(table.cell[table.used])
        path.held = set(cells.tolist())
        path.mixed = {
            c
            for c in path.held
            if (held := stores.cells.get(h3.int_to_str(c))) and not held.is_empty()
        }
        path.hot.due(cells)
        return path

    def log_records(self, *, full: bool) -> list[bytes]:
        """The partition's camera state changes since last asked (``full``: all of it),
        as log records to make durable."""
        return self.log.records(full=full)

    # -- a step --------------------------------------------------------------------------
    def step(
        self,
        events: list[Event],
        cameras: CameraColumns | None,
        *,
        now_ms: int,
        config: PipelineConfig | None = None,
        camera_round: bool = True,
        sweep: bool = False,
        actions: list[Action] | None = None,
        near: Near | None = None,
    ) -> Output:
        """Fold ``cameras`` into the columns and everything else per object, at event time
        ``now_ms``; with ``camera_round`` the camera cells due are measured in this step."""
        if config is not None:
            self.config = config
        self.now = now_ms
        if cameras is not None and len(cameras):
            self._fold(cameras)
        out = process_batch(
            events,
            stores=self.stores,
            partition=self.partition,
            now_ms=now_ms,
            config=self.config,
            sweep=sweep,
            actions=actions,
            near=near,
            cameras=self,
            camera_round=camera_round,
        )
        if self.views_now:
            out.cells.update(self.views_now)
            self.views_now = {}
        return out

    def _fold(self, cameras: CameraColumns) -> None:
        folded = self.hot.fold(cameras)
        for cell in folded.tolist():
            if cell not in self.held:
                self._take_over(cell)

    def _take_over(self, cell: int) -> None:
        """A cell's first camera reading: its trend series, baselines and (if any) sensors
        and tickets come from the per-object side."""
        self.held.add(cell)
        name = h3.int_to_str(cell)
        state = self.stores.cells.get(name)
        if state is not None:
            self.hot.state.rings.seed(cell, state.density)
            if not state.is_empty():
                self.mixed.add(cell)
        kept = self.stores.baselines.get(name)
        if kept is None:
            return
        hot = self.hot.state
        for key, table in (("density", hot.density), ("hotline", hot.hotline)):
            series = kept.get(key)
            held = table.baseline(cell)
            if series is not None and (held is None or _newer(series, held)):
                table.seed(cell, series)
        for key, series in kept.series.items():
            if key.startswith("sensor:"):
                held = hot.sensor_baselines.get((cell, key[7:]))
                if held is None or _newer(series, held):
                    hot.sensor_baselines[(cell, key[7:])] = series

    # -- CameraCells ---------------------------------------------------------------------
    def holds(self, cell: str) -> bool:
        return h3.str_to_int(cell) in self.held

    def metrics(self, cell: str) -> CellMetrics | None:
        """The cell's metrics at the step's event time: a cell not measured at it yet
        is measured now (as the per-object side measures a cell a rule looks at)."""
        key = h3.str_to_int(cell)
        if key in self.held and self.measured_at.get(key) != self.now:
            done = self.hot.measure_now(
                np.array([key], np.uint64), self.now, lambda c: self._extras(c, self.now)
            )
            if done.figures is not None:
                self._keep_rows(done)
                self.views_now.update((v["cell"], v) for v in done.views)
        found = self.known.get(key)
        if found is None and key in self.last:
            figures, row = self.last[key]
            context = context_of(cell, self.config.zones)
            found = cell_metrics_of(figures, row, context, self.hot.state.rings.series(key))
            self.known[key] = found
        return found

    def due(self, cell: str, state: CellState | None) -> None:
        key = h3.str_to_int(cell)
        if state is None:
            self.mixed.discard(key)
        else:
            self.mixed.add(key)
        self.hot.due(np.array([key], np.uint64))

    def round(self, now_ms: int, tracked: Callable[[list[str]], list[bool]]) -> CameraRound:
        done = self.hot.round(now_ms, lambda cells: self._extras(cells, now_ms))
        out = CameraRound(views={v["cell"]: v for v in done.views})
        for cell, series in done.gone.items():
            self.held.discard(cell)
            self.last.pop(cell, None)
            self.known.pop(cell, None)
            self.measured_at.pop(cell, None)
            name = h3.int_to_str(cell)
            self._give_back_baselines(cell, name)
            if cell in self.mixed:
                self.mixed.discard(cell)
                out.handed_back[name] = series
        out.removed = [r for r in done.removed if r not in out.handed_back]
        if done.figures is not None:
            self._remember(done, tracked, out)
        return out

    def _remember(
        self, done: RoundOut, tracked: Callable[[list[str]], list[bool]], out: CameraRound
    ) -> None:
        """Keep each measured cell's row; hand the rules the cells they must see."""
        figures = done.figures
        assert figures is not None
        cells = self._keep_rows(done)
        names = [h3.int_to_str(c) for c in cells]
        out.measured = names
        marked = np.array(tracked(names), np.bool_) | np.isin(
            done.cells, np.fromiter(self.mixed, np.uint64, len(self.mixed))
        )
        wanted = rule_candidates(self._cell_rules(), metric_columns(figures), marked)
        for i in np.flatnonzero(wanted).tolist():
            m = self.metrics(names[i])
            assert m is not None
            out.metrics[names[i]] = m

    def _keep_rows(self, done: RoundOut) -> list[int]:
        """Remember each measured cell's row of the figures; returns the cells."""
        assert done.figures is not None
        cells: list[int] = done.cells.tolist()
        for i, cell in enumerate(cells):
            self.last[cell] = (done.figures, i)
            self.known.pop(cell, None)
            self.measured_at[cell] = self.now
        return cells

    def _cell_rules(self) -> tuple[CompiledRule, ...]:
        return compile_rules(self.config.rules).of("cell")

    def _extras(self, cells: Cells, now_ms: int) -> Mapping[int, CellExtras]:
        """The sensors and tickets of those of ``cells`` that hold some, expired to
        ``now_ms`` as the per-object side expires them."""
        found: dict[int, CellExtras] = {}
        for cell in cells.tolist():
            if cell not in self.mixed:
                continue
            raw = self.stores.cells.get(h3.int_to_str(cell))
            state = expire(raw, now_ms, self.config.windows) if raw is not None else None
            if state is None or state.is_empty():
                continue
            found[cell] = CellExtras(state.sensors, state.tickets, state.updated_at)
        return found

    def _give_back_baselines(self, cell: int, name: str) -> None:
        """A cell that left the columns: its baselines to the per-object store."""
        hot = self.hot.state
        series = {}
        for key, table in (("density", hot.density), ("hotline", hot.hotline)):
            held = table.baseline(cell)
            if held is not None:
                series[key] = held
        for (c, kind), baseline in list(hot.sensor_baselines.items()):
            if c == cell:
                series[f"sensor:{kind}"] = baseline
        if series:
            self.stores.baselines.put(name, CellBaselines(series=series), self.partition)


def _newer(a: Baseline, b: Baseline) -> bool:
    """Whether baseline ``a`` took a sample after ``b`` did."""
    return a.last_ts_ms is not None and (b.last_ts_ms is None or a.last_ts_ms > b.last_ts_ms)
