"""What a pipeline step takes and gives (pure data): its configuration, its stores, its
output. The step itself is :func:`streams.pipeline.step.process_batch`; the lifecycle
part of a step (:mod:`streams.pipeline.lifecycle_step`) reads and writes the same."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from alerts.crowd.cell_metrics import CellBaselines, MetricsConfig
from alerts.incidents.alert import Alert
from alerts.incidents.detect import Track
from alerts.incidents.incident import FusionConfig, Incident
from alerts.incidents.lifecycle import Action, AuditEntry, LifecycleConfig
from alerts.rules.file import DEFAULT_RULES, RuleSet, load_rule_files
from streams.pipeline.cellfold import CellState, Windows
from streams.pipeline.halo import Mark, Near
from streams.pipeline.store import DictStore, Store

if TYPE_CHECKING:
    from collections.abc import Mapping

    from geo.zone_index import ZoneIndex
    from streams.pipeline.placement import Placement

#: Cluster radius in H3 grid steps at the fine resolution (k-ring; ~0.35 km per step at res 9).
HOTLINE_CLUSTER_K = 2


@lru_cache(maxsize=1)
def default_rules() -> RuleSet:
    """The rule set shipped with the project (alerts/rulesets/)."""
    return load_rule_files([DEFAULT_RULES])


@dataclass(slots=True)
class Output:
    cells: dict[str, dict[str, Any]] = field(default_factory=dict)  # cell id -> view
    removed: list[str] = field(default_factory=list)
    alerts: dict[str, Alert] = field(default_factory=dict)  # incident id -> newest version
    audit: list[AuditEntry] = field(default_factory=list)  # lifecycle transitions, in order
    unknown_actions: list[Action] = field(default_factory=list)  # for alerts not held here
    near: dict[str, Near] = field(default_factory=dict)  # cells.ingest key -> what it is told
    forgotten: list[Incident] = field(default_factory=list)  # forgotten (bounded state)

    def tell(self, key: str) -> Near:
        """The record for the partition of ``key`` (streams/pipeline/halo.py), made on first use."""
        return self.near.setdefault(key, Near())


@dataclass(frozen=True, slots=True)
class PipelineConfig:
    windows: Windows = field(default_factory=Windows)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    fusion: FusionConfig = field(default_factory=FusionConfig)
    lifecycle: LifecycleConfig = field(default_factory=LifecycleConfig)
    zones: ZoneIndex | None = None
    zone_areas: Mapping[str, Mapping[str, float]] | None = None  # zone → cell → m² (zone rules)
    rules: RuleSet = field(default_factory=default_rules)
    cluster_k: int = HOTLINE_CLUSTER_K
    # Where cells live (streams/pipeline/placement.py). None: every cell is this partition's, as in
    # a one-partition run; then no halo and no marks.
    placement: Placement | None = None


@dataclass(frozen=True, slots=True)
class Stores:
    """The pipeline's state, each store backed by a changelog table in the worker."""

    cells: Store[CellState]
    tracks: Store[Track]
    incidents: Store[Incident]
    baselines: Store[CellBaselines]
    # tickets of other partitions' cells near ours (streams/pipeline/halo.py)
    halo: Store[CellState]
    marks: Store[Mark]  # other partitions' open hotline clusters near ours
    ghosts: Store[Incident]  # other partitions' incidents near ours

    @classmethod
    def in_memory(cls) -> Stores:
        """Stores in dicts (tests, backtests)."""
        return cls(
            cells=DictStore(),
            tracks=DictStore(),
            incidents=DictStore(),
            baselines=DictStore(),
            halo=DictStore(),
            marks=DictStore(),
            ghosts=DictStore(),
        )
