"""Hotline tickets (12345 citizen service, 110 police): background and scripted.

Background tickets arrive as a Poisson process at ``rate_per_min`` over the
whole district. Time is cut into fixed one-second slots of epoch time; the
tickets of a slot are a pure function of ``(seed, slot)``, so any interval can
be generated on its own and agrees with any other split of the timeline.

About 15 % of background tickets carry only a Chinese street ``address`` (no
coordinates), as calls taken by phone do; about a quarter of the located ones
report GCJ-02 coordinates (from a map app), the rest WGS-84.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Any, Final

from feeds.sim.city import City
from feeds.sim.randomness import mobile_number, poisson, rng_for
from feeds.sim.scenario import Channel, ScriptedTicket
from geo.crs import CRS, from_wgs84
from geo.measure import distance_m, offset_m

SLOT_MS: Final = 1000
ADDRESS_ONLY_SHARE: Final = 0.15
GCJ_SHARE: Final = 0.25

_CATEGORIES: Final[tuple[tuple[str, float], ...]] = (
    ("noise", 0.28),
    ("parking", 0.26),
    ("traffic", 0.2),
    ("crowd", 0.14),
    ("fire", 0.05),
    ("environment", 0.07),
)

TEXTS: Final[dict[str, tuple[str, ...]]] = {
    "noise": (
        "{street}附近深夜施工，噪音很大，影响休息。",
        "{street}有商铺用大喇叭促销，吵得不行。",
        "{street}广场舞音响声音太大，希望管一管。",
    ),
    "parking": (
        "{street}路边乱停车，把消防通道堵住了。",
        "{street}小区门口长期有车占道停放。",
        "{street}人行道上停满电动车，行人没法走。",
    ),
    "traffic": (
        "{street}路口红绿灯故障，车辆拥堵。",
        "{street}有车辆逆行，存在安全隐患。",
        "{street}路面塌陷，车辆绕行造成堵塞。",
    ),
    "crowd": (
        "{street}排队人很多，秩序有点乱。",
        "{street}商场门口聚集很多人，通道被堵。",
    ),
    "fire": (
        "{street}闻到很浓的烧焦味，疑似有烟冒出。",
        "{street}楼道里有人给电动车充电，担心起火。",
    ),
    "environment": (
        "{street}垃圾很多天没人清运，味道很大。",
        "{street}河涌有异味，疑似污水直排。",
    ),
}

ADDRESS_STREETS: Final = (
    "祖庙街道祖庙路",
    "祖庙街道人民路",
    "祖庙街道升平路",
    "祖庙街道福贤路",
    "祖庙街道建新路",
    "祖庙街道普君北路",
    "祖庙街道汾江中路",
    "祖庙街道同济路",
    "祖庙街道季华五路",
    "祖庙街道岭南大道",
    "祖庙街道卫国路",
    "祖庙街道城门头路",
    "石湾镇街道和平路",
    "石湾镇街道太平路",
    "张槎街道张槎路",
    "南庄镇禅港路",
)


@dataclass(frozen=True, slots=True)
class Ticket:
    """A hotline ticket ready to serialise. ``ts`` epoch ms; ``lat``/``lon`` degrees in
    ``crs`` (both None when only ``address`` is known)."""

    id: str
    ts: int
    channel: Channel
    category: str
    text: str
    lat: float | None
    lon: float | None
    crs: CRS
    address: str | None
    caller: str

    def to_event(self) -> dict[str, Any]:
        """The ticket as a JSON-ready input event (docs/protocol.md, hotline)."""
        event: dict[str, Any] = {
            "id": self.id,
            "ts": self.ts,
            "channel": self.channel,
            "category": self.category,
            "text": self.text,
            "caller": self.caller,
        }
        if self.lat is not None and self.lon is not None:
            event["lat"] = self.lat
            event["lon"] = self.lon
            if self.crs != "wgs84":
                event["crs"] = self.crs
        if self.address is not None:
            event["address"] = self.address
        return event


def _weighted(rng_value: float, table: tuple[tuple[str, float], ...]) -> str:
    total = sum(w for _, w in table)
    acc = 0.0
    for name, weight in table:
        acc += weight / total
        if rng_value < acc:
            return name
    return table[-1][0]


def background_tickets(seed: int, city: City, rate_per_min: float, slot: int) -> list[Ticket]:
    """The background tickets of one-second slot ``slot`` (epoch seconds), any order.

    Located tickets lie at a half-normal distance (scale 200 m) from a random
    camera, inside the district; their text names the nearest place's street.
    """
    rng = rng_for("hotline", seed, slot)
    n = poisson(rng, rate_per_min / 60.0 * SLOT_MS / 1000.0)
    out: list[Ticket] = []
    for j in range(n):
        ts = slot * SLOT_MS + rng.randrange(SLOT_MS)
        category = _weighted(rng.random(), _CATEGORIES)
        street_no = rng.randint(1, 188)
        template = rng.choice(TEXTS[category])
        caller = mobile_number(rng)
        channel = _channel(rng.random())
        ticket_id = f"hl-{ts}-{j}"
        if rng.random() < ADDRESS_ONLY_SHARE:
            street = rng.choice(ADDRESS_STREETS)
            text = template.format(street=f"{street}{street_no}号")
            address = f"广东省佛山市禅城区{street}{street_no}号"
            out.append(
                Ticket(ticket_id, ts, channel, category, text, None, None, "wgs84", address, caller)
            )
            continue
        lat, lon = _near_device(rng, city)
        text = template.format(street=f"{_nearest_street(city, lat, lon)}{street_no}号")
        crs: CRS = "gcj02" if rng.random() < GCJ_SHARE else "wgs84"
        r_lat, r_lon = from_wgs84(lat, lon, crs)
        out.append(
            Ticket(
                ticket_id,
                ts,
                channel,
                category,
                text,
                round(r_lat, 6),
                round(r_lon, 6),
                crs,
                None,
                caller,
            )
        )
    return out


def _near_device(rng: random.Random, city: City) -> tuple[float, float]:
    """WGS-84 point about 200 m from a random camera, inside the district."""
    anchor = rng.choice(city.cameras)
    for _ in range(20):
        r = abs(rng.gauss(0.0, 200.0))
        a = rng.uniform(0.0, 2.0 * math.pi)
        lat, lon = offset_m(anchor.lat, anchor.lon, r * math.cos(a), r * math.sin(a))
        if city.district.contains(lat, lon):
            return lat, lon
    return anchor.lat, anchor.lon


def _nearest_street(city: City, lat: float, lon: float) -> str:
    """The street of the named place nearest to ``(lat, lon)`` (for the ticket text)."""
    nearest = min(city.places, key=lambda p: distance_m(lat, lon, p.lat, p.lon))
    return nearest.street


def _channel(u: float) -> Channel:
    """About one background call in ten goes to 110, the rest to 12345."""
    return "110" if u < 0.1 else "12345"


def scripted_ticket(ticket: ScriptedTicket, incident_start_ms: int) -> Ticket:
    """A scripted incident call as a :class:`Ticket` at its absolute time."""
    ts = incident_start_ms + round(ticket.offset_s * 1000)
    r_lat, r_lon = from_wgs84(ticket.lat, ticket.lon, ticket.crs)
    return Ticket(
        id=f"hl-inc-{ticket.index:02d}-{ts}",
        ts=ts,
        channel=ticket.channel,
        category=ticket.category,
        text=ticket.text,
        lat=round(r_lat, 6),
        lon=round(r_lon, 6),
        crs=ticket.crs,
        address=None,
        caller=ticket.caller,
    )
