"""The project's topics: every topic name is spelled here and nowhere else.

Names are logical; ``settings.kafka.topic(name)`` adds the deployment's prefix.
Creating them on a broker: :mod:`streams.io.topic_admin`. tests/unit/test_topic_names.py
checks that no other module spells one.
"""

from __future__ import annotations

from typing import Final

from citybrain.config.settings import Settings

#: Input events, one topic per kind (``events.<kind>``), and what the worker makes of
#: the bad and the unlocated ones; ``events.labels``: ground truth for backtests.
EVENTS_CAMERA: Final = "events.camera"
EVENTS_SENSOR: Final = "events.sensor"
EVENTS_HOTLINE: Final = "events.hotline"
EVENTS_WORKER: Final = "events.worker"
EVENTS_LABELS: Final = "events.labels"
EVENTS_DEADLETTER: Final = "events.deadletter"
EVENTS_UNLOCATED: Final = "events.unlocated"
#: The worker's own: what the input consumer hands the cells agent, and the cell views.
CELLS_INGEST: Final = "cells.ingest"
CELLS_STATE: Final = "cells.state"
#: Alerts for the desks, shadow alerts for engineers, people's actions and the audit trail.
ALERTS: Final = "alerts"
ALERTS_SHADOW: Final = "alerts.shadow"
ALERTS_ACTIONS: Final = "alerts.actions"
ALERTS_AUDIT: Final = "alerts.audit"
#: Unmasked ticket text (the web server only), the rule-change log, grid workers' views.
HOTLINE_PRIVATE: Final = "hotline.private"
RULES: Final = "rules"
WORKERS_STATE: Final = "workers.state"

INPUT_TOPICS: Final = {
    "camera": EVENTS_CAMERA,
    "sensor": EVENTS_SENSOR,
    "hotline": EVENTS_HOTLINE,
    "worker": EVENTS_WORKER,
}
"""Input kind → its topic."""

#: Logical topic names the project creates; Faust creates its own changelog topics.
TOPICS: Final = (
    EVENTS_CAMERA,
    EVENTS_SENSOR,
    EVENTS_HOTLINE,
    EVENTS_WORKER,
    EVENTS_LABELS,
    EVENTS_DEADLETTER,
    EVENTS_UNLOCATED,
    CELLS_INGEST,
    CELLS_STATE,
    ALERTS,
    ALERTS_SHADOW,
    ALERTS_ACTIONS,
    ALERTS_AUDIT,
    HOTLINE_PRIVATE,
    RULES,
    WORKERS_STATE,
)
#: Topics that need other than ``kafka.partitions`` partitions: the rule-change log is
#: totally ordered, so one partition.
PARTITIONS: Final = {RULES: 1}


def input_topic(kind: str) -> str:
    """The logical topic of an input kind (camera, sensor, hotline, worker); KeyError for
    another."""
    return INPUT_TOPICS[kind]


def topic_configs(settings: Settings) -> dict[str, dict[str, str]]:
    """Broker settings of the topics that need their own: ``hotline.private`` holds
    citizens' unmasked text, so it is kept only ``privacy.ticket_text_s``."""
    retention_ms = settings.privacy.ticket_text_s * 1000
    return {HOTLINE_PRIVATE: {"retention.ms": str(retention_ms)}}
