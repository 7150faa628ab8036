"""Which cells of a round the cell rules must see (pure, vectorised).

The rules, their hysteresis tracks and the incidents stay the per-object code they are
(alerts/rules/engine.py, alerts/incidents/detect.py, streams/pipeline/step.py). A round
hands them only
the cells where a rule could do something: a cell that has a track (open, pending,
clearing or cooling: only the track code knows what happens next), or a cell whose
metric reaches some cell rule's ``enter`` threshold. Anywhere else
:func:`alerts.incidents.detect.step` from no track does nothing, so skipping the cell is exact.

The test is a superset: a rule's ``where`` conditions, schedule and scope are ignored
here (the rule code applies them), and a rule on a metric this module has no column
for makes every cell a candidate. Metric values are the ones the rule code sees
(:meth:`alerts.crowd.cell_metrics.CellMetrics.value`: the trend rounded to 4 decimals and the
risk to 3, as there), levels by rank.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

import h3
import numpy as np
import numpy.typing as npt

from alerts.crowd.cell_metrics import CellContext, CellMetrics
from alerts.crowd.los import LOS_LETTERS
from alerts.crowd.risk import Risk
from alerts.crowd.trend import Series
from alerts.rules.engine import CompiledRule
from streams.pipeline.columnar.camera_columns import Floats
from streams.pipeline.columnar.camera_round import RoundFigures
from streams.pipeline.columnar.camera_views import round_like_python
from streams.pipeline.columnar.levels import RISK_FACTORS, STILL_LEVELS, Codes, letters


def _ranks(codes: Codes) -> Floats:
    """Level codes as the ranks the rules compare (NaN: no level)."""
    return np.where(codes >= 0, codes.astype(np.float64), np.nan)


def _rounded(values: Floats, digits: int) -> Floats:
    return np.array([np.nan if v is None else v for v in round_like_python(values, digits)])


def metric_columns(figures: RoundFigures) -> dict[str, Floats]:
    """The cell metrics of the rule catalogue a round measured, one value per cell
    (NaN where the per-object path gives None)."""
    c = figures.crowd
    live = c.live > 0
    return {
        "density": c.density,
        "density_max": c.density_max,
        "people": c.people,
        "walkable_m2": np.where(live, c.walkable_m2, figures.contexts.walkable_m2),
        "los_walkway": _ranks(figures.los_walkway),
        "los_queuing": _ranks(figures.los_queuing),
        "still": _ranks(figures.still),
        "trend": _rounded(figures.trend, 4),
        "flow": figures.flow_per_m,
        "los_flow": _ranks(figures.los_flow),
        "density_z": figures.density_z,
        "risk": _rounded(figures.risk.score, 3),
        "stale_cameras": np.where(live, (c.rows_per_cell() - c.live).astype(np.float64), np.nan),
    }


def rule_candidates(
    rules: Iterable[CompiledRule],
    columns: dict[str, Floats],
    tracked: npt.NDArray[np.bool_],
) -> npt.NDArray[np.bool_]:
    """Cells (``tracked``'s length and order) that cell ``rules`` must evaluate:
    ``tracked`` (a track of a cell rule exists for the cell) or at/over some rule's
    ``enter`` in the rule's direction."""
    wanted = tracked.copy()
    for rule in rules:
        column = columns.get(rule.spec.metric)
        if column is None:  # not a metric of a round: let the rule code decide for all
            return np.ones(len(tracked), np.bool_)
        with np.errstate(invalid="ignore"):
            wanted |= rule.sign * column >= rule.enter  # NaN (None) never enters
    return wanted


def cell_metrics_of(
    figures: RoundFigures, i: int, context: CellContext, trend_series: Series
) -> CellMetrics:
    """Row ``i`` of a round as :func:`alerts.crowd.cell_metrics.cell_metrics` makes it, for the rule
    code (a candidate cell: few per round). ``context`` is the cell's, ``trend_series``
    its ring after the round (:meth:`streams.pipeline.columnar.trend_ring.TrendRings.series`)."""
    r = figures.risk

    def number(values: Floats) -> float | None:
        v = float(values[i])
        return None if math.isnan(v) else v

    def level(codes: Codes, names: tuple[str, ...] = LOS_LETTERS) -> str | None:
        return letters(codes[i : i + 1], names)[0]

    trend = number(figures.trend)
    factors = {name: float(getattr(r, name)[i]) for name in RISK_FACTORS}
    return CellMetrics(
        cell=h3.int_to_str(int(figures.crowd.cell[i])),
        crowd=figures.crowd.estimate(i),
        los_walkway=level(figures.los_walkway),
        los_queuing=level(figures.los_queuing),
        still=level(figures.still, STILL_LEVELS),
        trend=None if trend is None else round(trend, 4),
        flow=number(figures.flow_per_m),
        los_flow=level(figures.los_flow),
        density_z=number(figures.density_z),
        hotline_z=number(figures.hotline_z),
        sensors=figures.extra.sensors[i],
        tickets=dict(figures.extra.located[i]),
        tickets_total=sum(figures.extra.located[i].values()),
        risk=Risk(round(float(r.score[i]), 3), {k: round(v, 3) for k, v in factors.items()}),
        context=context,
        trend_series=trend_series,
    )
