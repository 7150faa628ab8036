"""Build the pure pipeline's configuration from the settings (once, at start-up)."""

from __future__ import annotations

from alerts.crowd.cell_metrics import MetricsConfig
from alerts.crowd.los import LosConfig
from alerts.crowd.zone_metrics import zone_cell_areas
from alerts.incidents.incident import FusionConfig
from alerts.incidents.lifecycle import LifecycleConfig
from citybrain.config.settings import Settings
from geo.zone_index import ZoneIndex, build_zone_index
from geo.zones import Zone, default_zones, load_zones
from streams.pipeline.cellfold import Windows
from streams.pipeline.decode import Limits
from streams.pipeline.lateness import Lateness
from streams.pipeline.placement import Placement, zone_homes
from streams.pipeline.step_data import HOTLINE_CLUSTER_K, PipelineConfig


def zone_layers(settings: Settings) -> tuple[Zone, ...]:
    """The packaged zone layer (unless switched off) plus the configured layers."""
    p = settings.pipeline
    zones: list[Zone] = list(default_zones()) if p.default_zones else []
    for path in p.zone_layers:
        zones.extend(load_zones(path))
    return tuple(zones)


def zone_index(settings: Settings) -> ZoneIndex | None:
    zones = zone_layers(settings)
    return build_zone_index(zones, settings.pipeline.h3_resolution) if zones else None


def placement(settings: Settings, zones: ZoneIndex | None) -> Placement:
    """Where cells live: ``kafka.partitions``, ``pipeline.partition_resolution``, zone
    groups kept together, halo as wide as the hotline cluster radius."""
    p = settings.pipeline
    return Placement(
        partitions=settings.kafka.partitions,
        partition_resolution=p.partition_resolution,
        halo_k=HOTLINE_CLUSTER_K,
        homes=zone_homes(zones.cells_of_zone, p.partition_resolution) if zones else {},
    )


def pipeline_config(settings: Settings, zones: ZoneIndex | None = None) -> PipelineConfig:
    p = settings.pipeline
    return PipelineConfig(
        windows=Windows(
            crowd_ms=p.crowd_window_s * 1000,
            sensor_ms=p.sensor_window_s * 1000,
            hotline_ms=p.hotline_window_s * 1000,
        ),
        metrics=MetricsConfig(
            los=LosConfig.from_mapping(p.los),
            camera_stale_ms=p.camera_stale_s * 1000,
            cluster_max_uncertainty_m=p.geocode_max_uncertainty_m,
        ),
        fusion=FusionConfig(radius_k=p.incident_radius_k, reopen_ms=p.incident_reopen_s * 1000),
        lifecycle=LifecycleConfig(
            expire_after_ms=p.alert_expire_after_s * 1000,
            stale_after_ms=p.alert_stale_after_s * 1000,
            review_from=None if p.alert_review_from == "none" else p.alert_review_from,
            remind_every_ms=p.alert_remind_every_s * 1000,
        ),
        zones=zones,
        zone_areas=zone_cell_areas(zones) if zones is not None else None,
        placement=placement(settings, zones),
    )


def lateness(settings: Settings) -> Lateness:
    """Allowed lateness per kind: the kind's window, capped by ``max_lateness_s`` if set."""
    p = settings.pipeline
    cap = None if p.max_lateness_s is None else p.max_lateness_s * 1000

    def capped(window_s: int) -> int:
        return window_s * 1000 if cap is None else min(window_s * 1000, cap)

    return Lateness(
        camera_ms=capped(p.crowd_window_s),
        sensor_ms=capped(p.sensor_window_s),
        hotline_ms=capped(p.hotline_window_s),
    )


def decode_limits(settings: Settings) -> Limits:
    """The decoder's bounds from the settings (worker and backtest alike)."""
    p = settings.pipeline
    return Limits(
        resolution=p.h3_resolution,
        max_record_bytes=p.max_record_bytes,
        max_future_ms=p.max_future_skew_s * 1000,
        max_age_ms=p.max_age_s * 1000,
    )
