"""What partitions tell each other about the neighbourhood of their boundary (pure).

A cell's state lives on one partition (:mod:`streams.pipeline.placement`), but two computations
look around a cell: hotline clusters (``cluster_k`` grid steps around the anchor) and
incident fusion (``radius_k`` steps around the incident's anchor). Near a boundary
those neighbourhoods reach cells of another partition, so partitions exchange
``cells.ingest`` records ``{"near": {...}}`` (:class:`Near`) keyed for the partition
they are for:

* ``tickets`` — hotline tickets of cells placed elsewhere within the cluster radius of
  this partition's cells (sent by the ingest agent). Kept in the ``halo`` store (key
  :func:`halo_key`, a ticket-only cell state), counted in this partition's clusters,
  never shown in its cells, never the start of a cluster here.
* ``marks`` — a hotline cluster of the sender opened or closed (:class:`Mark`; the
  ``marks`` store keeps the open ones, key :func:`halo_key` of the track key). A ticket
  here whose first open cluster nearby is that one starts nothing: the sender counts it
  from its own halo copy.
* ``incidents`` / ``gone`` — the newest version of an incident of the sender whose
  anchor is within the fusion radius of this partition's cells, or its id once the
  sender forgot it (the ``ghosts`` store, key :func:`halo_key` of the incident id).
  A signal here that should join it (:func:`alerts.incidents.incident.find_incident` over this
  partition's incidents and these) is forwarded to the sender instead of opening an
  incident of its own.
* ``signals`` — such forwarded signals (:class:`Forwarded`), for incidents the receiver
  holds: it attaches them and publishes the incident, so every incident still has one
  writer.

Each is one Kafka hop behind the partition that sent it: a ticket or signal that comes
within that hop of a change nearby on another partition may miss it (docs/deploy.md).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import orjson

from alerts.incidents.incident import Incident, Signal
from streams.pipeline.events import Ticket, from_wire

NEAR = b'{"near":'


@dataclass(frozen=True, slots=True)
class Mark:
    """A hotline cluster track of another partition: ``track`` is its store key (rule and
    dedupe key), ``open`` whether its alert is open (or clearing), ``at`` event time, ms."""

    track: str
    open: bool
    at: int

    def to_dict(self) -> dict[str, Any]:
        return {"track": self.track, "open": self.open, "at": self.at}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Mark:
        return cls(str(d["track"]), bool(d["open"]), int(d["at"]))


@dataclass(frozen=True, slots=True)
class Forwarded:
    """A signal for the incident ``incident`` held by the receiving partition."""

    incident: str
    signal: Signal


@dataclass(slots=True)
class Near:
    """One ``{"near": ...}`` record: what one partition tells another (module docstring)."""

    tickets: list[Ticket] = field(default_factory=list)
    marks: list[Mark] = field(default_factory=list)
    incidents: list[Incident] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    signals: list[Forwarded] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.tickets or self.marks or self.incidents or self.gone or self.signals)

    def to_bytes(self) -> bytes:
        body = {
            "tickets": self.tickets,  # orjson writes dataclasses as to_wire does
            "marks": [m.to_dict() for m in self.marks],
            "incidents": [asdict(i) for i in self.incidents],
            "gone": self.gone,
            "signals": [{"incident": f.incident, "signal": asdict(f.signal)} for f in self.signals],
        }
        return orjson.dumps({"near": body})

    @classmethod
    def from_bytes(cls, raw: bytes) -> Near:
        """Inverse of :meth:`to_bytes`; trusts its input (the workers' internal topic)."""
        body = orjson.loads(raw)["near"]
        tickets = [t for t in map(from_wire, body["tickets"]) if isinstance(t, Ticket)]
        return cls(
            tickets=tickets,
            marks=[Mark.from_dict(m) for m in body["marks"]],
            incidents=[Incident.from_dict(i) for i in body["incidents"]],
            gone=[str(g) for g in body["gone"]],
            signals=[
                Forwarded(str(f["incident"]), Signal.from_dict(f["signal"]))
                for f in body["signals"]
            ],
        )


def halo_key(partition: int, name: str) -> str:
    """Store key of what ``partition`` knows about ``name`` (a cell, a cluster track or an
    incident id) on another partition."""
    return f"{partition}:{name}"
