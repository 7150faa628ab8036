"""The rule prefilter of a round (streams/pipeline/columnar/rule_filter.py) is sound: a cell it
leaves out is one where no cell rule could leave its calm state — the rule's signed
metric, as the rule code reads it from :func:`alerts.crowd.cell_metrics.cell_metrics`, is below
``enter`` — for the default rules and generated ones on every cell metric, either
direction, thresholds next to the figures included."""

from __future__ import annotations

import math
from typing import Any

import h3
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from alerts.crowd.cell_metrics import CellContext, cell_metrics
from alerts.crowd.trend import Series
from alerts.rules.catalog import METRICS
from alerts.rules.engine import compile_rules
from alerts.rules.file import load_rule_texts
from streams.pipeline.cellfold import CellState, add_all, initial
from streams.pipeline.columnar.camera_columns import columns_of
from streams.pipeline.columnar.camera_round import CellContexts, PartitionState, measure_cameras
from streams.pipeline.columnar.rule_filter import metric_columns, rule_candidates
from streams.pipeline.step_data import default_rules
from tests.unit.test_columnar_round import CELLS, CONFIG, NOW, nan_for, readings

CELL_METRICS = [m for m in METRICS.values() if m.subject == "cell"]


def rule_yaml(n: int, metric: Any, enter: float, falling: bool) -> str:
    """One generated rule on ``metric``: ``enter`` (a level's rank for levels)."""
    if metric.kind == "level":
        rank = min(max(round(enter), 0), len(metric.levels) - 1)
        rank = max(rank, 1) if not falling else min(rank, len(metric.levels) - 2)
        gate, back = metric.levels[rank], metric.levels[rank - 1 if not falling else rank + 1]
    else:
        unit = f" {metric.unit}" if metric.unit else ""
        lo = -math.inf if metric.minimum is None else metric.minimum
        hi = math.inf if metric.maximum is None else metric.maximum
        gap = 0.5 if math.isinf(hi - lo) else (hi - lo) / 4
        enter = min(max(enter, lo + gap), hi) if not falling else min(max(enter, lo), hi - gap)
        exit_ = enter - gap if not falling else enter + gap
        gate, back = f"{round(enter, 4)}{unit}", f"{round(exit_, 4)}{unit}"
    return (
        f"  - id: gen.r{n}\n    metric: {metric.name}\n"
        f"    direction: {'falling' if falling else 'rising'}\n"
        f'    enter: "{gate}"\n    exit: "{back}"\n    desks: [110]\n'
        f'    message: {{zh: "x"}}\n'
    )


generated = st.lists(
    st.tuples(
        st.sampled_from(CELL_METRICS), st.floats(-3, 8).map(lambda x: round(x, 3)), st.booleans()
    ),
    min_size=1,
    max_size=8,
)


@settings(max_examples=120, deadline=None)
@given(st.lists(readings, min_size=1, max_size=10), generated)
def test_cells_left_out_cannot_enter(made: list[tuple[int, Any]], specs: list[Any]) -> None:
    text = "rules:\n" + "".join(rule_yaml(n, m, e, f) for n, (m, e, f) in enumerate(specs))
    rules = [
        *compile_rules(load_rule_texts({"gen.yaml": text})).of("cell"),
        *compile_rules(default_rules()).of("cell"),
    ]
    part = PartitionState(CONFIG)
    batch = [make(NOW) for _, make in made]
    part.cameras.fold(columns_of(batch, list(range(len(batch)))))
    cells = sorted({r.cell for r in batch}, key=h3.str_to_int)
    ctx = {
        c: CellContext(cell_area_m2=h3.cell_area(c, unit="m^2"), walkable_m2=300.0, width_m=5.0)
        for c in CELLS
    }
    contexts = CellContexts(
        cell_area_m2=np.array([ctx[c].cell_area_m2 for c in cells]),
        walkable_m2=np.array([nan_for(ctx[c].walkable_m2) for c in cells]),
        static=np.zeros(len(cells), np.bool_),
        width_m=np.array([nan_for(ctx[c].width_m) for c in cells]),
        zones=[() for _ in cells],
        center=[(0.0, 0.0) for _ in cells],
    )
    figures = measure_cameras(
        part, np.array([h3.str_to_int(c) for c in cells], np.uint64), contexts, now_ms=NOW
    )
    columns = metric_columns(figures)
    untracked = np.zeros(len(cells), np.bool_)
    for i, cell in enumerate(cells):
        state: CellState = add_all(initial(cell), [r for r in batch if r.cell == cell])
        m = cell_metrics(
            cell, cameras=state.cameras, sensors=(), tickets=(), trend=Series(),
            context=ctx[cell], baselines=None, now_ms=NOW, config=CONFIG,
        )  # fmt: skip
        for rule in rules:  # each rule alone: another rule must not mask a miss
            if not rule_candidates([rule], columns, untracked)[i]:
                value = m.value(rule.spec.metric)
                assert not rule.signed(m.value, NOW) >= rule.enter, (rule.spec.metric, value)
    assert rule_candidates(rules, columns, untracked).tolist() == [
        any(rule_candidates([r], columns, untracked)[i] for r in rules) for i in range(len(cells))
    ]


def test_a_tracked_cell_and_an_unknown_metric_are_always_candidates() -> None:
    columns = {"density": np.array([0.1, 0.2])}
    rules = compile_rules(default_rules()).of("cell")
    assert rule_candidates(rules, columns, np.array([True, False])).tolist() == [True, True]
    only_density = [r for r in rules if r.spec.metric == "density"]
    assert rule_candidates(only_density, columns, np.array([True, False])).tolist() == [True, False]
