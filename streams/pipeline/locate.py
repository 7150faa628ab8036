"""Locate hotline tickets that came with an address instead of coordinates, and route
events to the ``cells.ingest`` key of their cell, tickets also to their halo (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from geo.cells import cell_of
from geo.geocode import Gazetteer
from streams.pipeline.events import Event, Ticket
from streams.pipeline.placement import Placement


def locate_ticket(ticket: Ticket, gazetteer: Gazetteer, resolution: int) -> Ticket | None:
    """The ticket with coordinates, cell, precision and uncertainty from its address.

    Tickets that already have a cell are returned unchanged. The address is
    tried first, then the free text (citizens often name the place only there).
    None when neither names a place the gazetteer knows.
    """
    if ticket.cell is not None:
        return ticket
    for text in (ticket.address, ticket.text):
        found = gazetteer.locate(text) if text else None
        if found is not None:
            return replace(
                ticket,
                lat=found.lat,
                lon=found.lon,
                cell=cell_of(found.lat, found.lon, resolution),
                precision=found.precision,
                uncertainty_m=found.uncertainty_m,
            )
    return None


@dataclass(frozen=True, slots=True)
class Routed:
    """Decoded events of one input record, ready for the cell pipeline.

    ``groups`` maps each ``cells.ingest`` key (:meth:`Placement.key`) to its events in
    input order; ``halo`` each key to the tickets placed elsewhere that its partition's
    hotline clusters must also count (:meth:`Placement.halo_keys`); ``unlocated`` are
    tickets no address could place; ``geocoded`` the precision of each ticket located
    from its address.
    """

    groups: dict[str, list[Event]]
    unlocated: list[Ticket]
    geocoded: list[str]
    halo: dict[str, list[Ticket]]


def route(
    events: Iterable[Event], gazetteer: Gazetteer, resolution: int, placement: Placement
) -> Routed:
    """Locate address-only tickets and group events by their ``cells.ingest`` key: what
    the worker's ingest agent does with every record, and what a backtest does too."""
    groups: dict[str, list[Event]] = {}
    halo: dict[str, list[Ticket]] = {}
    unlocated: list[Ticket] = []
    geocoded: list[str] = []
    for ev in events:
        if ev.cell is None and isinstance(ev, Ticket):
            located = locate_ticket(ev, gazetteer, resolution)
            if located is None:
                unlocated.append(ev)
                continue
            geocoded.append(located.precision)
            ev = located
        assert ev.cell is not None  # the decoder gives every located event its cell
        groups.setdefault(placement.key(ev.cell), []).append(ev)
        if isinstance(ev, Ticket):
            for key in placement.halo_keys(ev.cell):
                halo.setdefault(key, []).append(ev)
    return Routed(groups, unlocated, geocoded, halo)
