"""What a signal shows the dispatcher about its subject, in numbers (pure).

One builder per subject kind: a cell's crowd figures, a sensor type's readings,
a hotline cluster's tickets, a zone's figures. The rule's own numbers
(thresholds, value, peak) are added by the pipeline.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from alerts.crowd.cell_metrics import CellMetrics
from alerts.crowd.zone_metrics import ZoneFigures
from alerts.rules.vocabulary import SENSOR_LIMITS
from streams.pipeline.cellfold import SensorObs, TicketObs
from streams.pipeline.privacy import redact

#: Tickets listed in a cluster's evidence at most (the newest).
MAX_EVIDENCE_TICKETS = 30
#: Characters of a ticket's (redacted) text shown in evidence.
EVIDENCE_TEXT_CHARS = 200


def crowd_evidence(m: CellMetrics | None) -> dict[str, Any]:
    """The crowd figures of a cell."""
    c = m.crowd if m else None
    if m is None or c is None:
        return {"density": None, "cameras": [], "stale_cameras": []}
    return {
        "density": round(c.density, 3),
        "density_max": round(c.density_max, 3),
        "los": m.los_walkway,
        "los_queuing": m.los_queuing,
        "still": m.still,
        "crowd_kind": m.context.crowd_kind,
        "people": round(c.people),
        "people_seen": round(c.people_seen),  # on the ground the cameras cover
        "walkable_m2": round(c.walkable_m2, 1),
        "walkable_from_layer": c.walkable_from_layer,
        "covered_m2": round(c.covered_m2, 1),
        "cameras": list(c.live),
        "stale_cameras": list(c.stale),
        "cameras_exceeding_layer": list(c.exceeds_layer),
        "trend_per_min": m.trend,
        "flow_per_m_min": round(m.flow, 1) if m.flow is not None else None,
        "los_flow": m.los_flow,
        "density_z": round(m.density_z, 2) if m.density_z is not None else None,
        "zones": list(m.context.zones),
    }


def sensor_evidence(
    sensor_type: str, readings: Sequence[SensorObs], m: CellMetrics | None
) -> dict[str, Any]:
    """The fresh readings of one sensor type in a cell, its alarm limit and anomaly."""
    figures = m.sensor(sensor_type) if m else None
    return {
        "type": sensor_type,
        "sensors": [
            {"sensor": x.sensor, "value": x.value, "unit": x.unit, "alarm": x.alarm, "ts": x.ts}
            for x in readings
            if x.type == sensor_type
        ],
        "limit": SENSOR_LIMITS.get(sensor_type),
        "z": round(figures.z, 2) if figures and figures.z is not None else None,
    }


def cluster_evidence(
    category: str,
    tickets: Sequence[tuple[TicketObs, str]],
    *,
    radius_k: int,
    window_s: int,
) -> dict[str, Any]:
    """A hotline cluster: counts by channel, time span, and the newest tickets (callers are
    already masked by the decoder). ``tickets`` are ``(ticket, cell)`` sorted by time.

    Ticket text is redacted (:func:`streams.pipeline.privacy.redact`) before it is cut to
    :data:`EVIDENCE_TEXT_CHARS`, so that no number is cut short of being recognised. The
    ingest agent masks tickets already; this also covers backtests and cell state written
    by an older release."""
    channels = sorted({t.channel for t, _ in tickets})
    return {
        "category": category,
        "count": len(tickets),
        "channels": {c: sum(1 for t, _ in tickets if t.channel == c) for c in channels},
        "geocoded": sum(1 for t, _ in tickets if t.precision != "exact"),
        "first_ts": tickets[0][0].ts if tickets else None,
        "last_ts": tickets[-1][0].ts if tickets else None,
        "radius_k": radius_k,
        "window_s": window_s,
        "tickets": [
            {
                "id": t.id,
                "ts": t.ts,
                "channel": t.channel,
                "category": t.category,
                "text": redact(t.text)[:EVIDENCE_TEXT_CHARS],
                "caller": t.caller,
                "cell": cell,
                "precision": t.precision,
            }
            for t, cell in tickets[-MAX_EVIDENCE_TICKETS:]
        ],
    }


def zone_evidence(z: ZoneFigures, name: str, kind: str) -> dict[str, Any]:
    """A zone's figures over its measured cells."""
    return {
        "zone": z.zone,
        "zone_name": name,
        "zone_kind": kind,
        "density": round(z.density, 3) if z.density is not None else None,
        "people": round(z.people) if z.people is not None else None,
        "walkable_m2": round(z.walkable_m2, 1),
        "los": z.los,
        "still": z.still,
        "trend_per_min": z.trend,
        "alarms": z.alarms,
        "tickets": z.tickets,
    }
