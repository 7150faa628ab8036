"""Prometheus metrics of the worker."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

EVENTS_IN = Counter("citybrain_events_in_total", "Valid events ingested", ["kind"])
RECORDS_IN = Counter("citybrain_records_in_total", "Kafka records read from input topics", ["kind"])
DEADLETTERED = Counter(
    "citybrain_deadlettered_total",
    "Bad events or records sent to the dead-letter topic",
    ["kind", "error"],
)
UNLOCATED = Counter(
    "citybrain_unlocated_tickets_total", "Hotline tickets whose address could not be located"
)
GEOCODED = Counter(
    "citybrain_geocoded_tickets_total",
    "Hotline tickets located from their address text",
    ["precision"],
)
PRIVATE_TEXTS = Counter(
    "citybrain_private_texts_total", "Unmasked ticket texts written to hotline.private"
)
NEAR_SENT = Counter(
    "citybrain_near_sent_total",
    "What partitions tell each other about their boundary (streams/pipeline/halo.py): ticket "
    "copies, cluster marks, incident copies, forgotten incidents, forwarded signals",
    ["what"],
)
ALERTS_OUT = Counter("citybrain_alerts_total", "Alert messages published", ["rule", "state"])
ACTIONS_BAD = Counter("citybrain_actions_refused_total", "Unusable alerts.actions records")
ACTIONS_UNKNOWN = Counter(
    "citybrain_actions_unknown_total", "Actions for an alert the partition does not hold"
)
AUDIT_OUT = Counter(
    "citybrain_audit_entries_total", "Lifecycle audit entries published", ["action"]
)
CELL_UPDATES = Counter("citybrain_cell_updates_total", "Cell views published")
EVENTS_FOLDED = Counter(
    "citybrain_events_folded_total", "Events folded into cell state by the cells agent"
)
CAMERA_ROUNDS = Counter(
    "citybrain_camera_rounds_total",
    "Rounds that measured a partition's camera cells (streams/pipeline/cell_partitions.py)",
)
BATCH_SECONDS = Histogram(
    "citybrain_batch_seconds",
    "Time to process one cells.ingest record",
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0),
)
