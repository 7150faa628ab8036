"""Locate hotline tickets that came with an address instead of coordinates (pure)."""

from __future__ import annotations

from dataclasses import replace

from geo.cells import cell_of
from geo.geocode import Gazetteer
from streams.events import Ticket


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
