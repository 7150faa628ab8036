"""The scripted Tongji Bridge incident, as data on a timeline, and the daily crowd rhythm.

Times in this module are seconds relative to the incident start (the moment
the surge begins) unless a name says ``_ms`` (epoch milliseconds, UTC).
Densities are persons/m² of walkable area.

The story (a holiday evening, 行通济): the crowd on Tongji Bridge swells from
a normal ~0.4 persons/m² past the Fruin level-of-service F threshold (2.15) to
a peak of 4.8, holds about two minutes and subsides below 1. Traffic control
around the bridge traps cars in the nearby car park: from about a minute into
the surge, 12-15 citizens call 12345 and two call 110 within three minutes;
one caller's car carries an elderly man who needs his medication.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final, Literal

from alerts.incidents.labels import Label
from feeds.sim.places import Place
from feeds.sim.randomness import mobile_number, rng_for
from geo.crs import CRS
from geo.measure import offset_m

Channel = Literal["12345", "110"]

LOCAL_UTC_OFFSET_S: Final = 8 * 3600
"""China Standard Time, used for the daily rhythm."""


def _smoothstep(x: float) -> float:
    x = min(1.0, max(0.0, x))
    return x * x * (3.0 - 2.0 * x)


@dataclass(frozen=True, slots=True)
class CrowdCurve:
    """Bridge density (persons/m²) against seconds since the surge began.

    Smooth rise from ``base`` to ``peak`` over ``ramp_s``, a hold of ``hold_s``,
    a smooth fall back to ``base`` over ``decay_s``; ``base`` before and after.
    """

    base: float = 0.4
    peak: float = 4.8
    ramp_s: float = 90.0
    hold_s: float = 120.0
    decay_s: float = 120.0

    @property
    def end_s(self) -> float:
        """When the curve is back at ``base`` (s)."""
        return self.ramp_s + self.hold_s + self.decay_s

    def density_at(self, t_s: float) -> float:
        """Density in persons/m² at ``t_s`` seconds after the surge began."""
        if t_s <= 0.0 or t_s >= self.end_s:
            return self.base
        rise = self.peak - self.base
        if t_s < self.ramp_s:
            return self.base + rise * _smoothstep(t_s / self.ramp_s)
        if t_s < self.ramp_s + self.hold_s:
            return self.peak
        fall = (t_s - self.ramp_s - self.hold_s) / self.decay_s
        return self.base + rise * (1.0 - _smoothstep(fall))

    def rate_at(self, t_s: float, dt_s: float = 1.0) -> float:
        """Rate of change of the density, persons/m² per second (central difference)."""
        return (self.density_at(t_s + dt_s / 2) - self.density_at(t_s - dt_s / 2)) / dt_s


@dataclass(frozen=True, slots=True)
class ScriptedTicket:
    """One scripted hotline call: ``offset_s`` after the surge began.

    ``lat``/``lon`` are the true WGS-84 position (degrees); the call reports
    it in ``crs``.
    """

    index: int
    offset_s: float
    channel: Channel
    category: str
    text: str
    lat: float
    lon: float
    crs: CRS
    caller: str


@dataclass(frozen=True, slots=True)
class Incident:
    """The whole script: crowd curve on the bridge plus the hotline calls."""

    bridge: Place
    car_park: Place
    crowd: CrowdCurve
    tickets: tuple[ScriptedTicket, ...]


LABEL_RADIUS_M: Final = 400.0
"""How far from the bridge or the car park an alert still counts as detecting the incident."""

TICKETS_START_S: Final = 60.0
TICKETS_WINDOW_S: Final = 150.0
TICKET_JITTER_M: Final = 90.0

_ELDERLY_TEXT: Final = (
    "我父亲八十多岁，在车上等着回家吃降压药，药没带在身上。交通管制后车被困在通济桥停车场出不去，"
    "老人已经有点头晕，请尽快帮忙放行！"
)

_TEXTS_12345: Final = (
    "通济桥附近交通管制，我们的车被困在停车场里出不来，已经等了半个多小时了。",
    "停车场出口被封了，里面几十辆车动不了，请问什么时候能放行？",
    "交警把路口封了，停车场只进不出，能不能安排人疏导一下？",
    "带着小孩在车里，停车场出不去，天气又闷，麻烦尽快处理。",
    "行通济人太多，停车场出口被人群堵住，车根本开不出去。",
    "停车场收费处排长队，出口道路管制，已经一个小时没动了。",
    "请问通济桥周边交通管制到几点？我们在停车场里被困住了。",
    "停车场里有人按喇叭吵架，出口封闭没人指挥，请派人来看看。",
    "我要赶去上班，车困在通济桥停车场，交通管制也没有提前通知。",
    "停车场满了还在放车进来，出口又管制，现在里面完全堵死了。",
    "通济桥旁边停车场出口被铁马拦住，车出不去，也找不到管理人员。",
    "在停车场困了四十分钟，能不能安排交警引导车辆从南面出口离开？",
    "交通管制导致停车场车辆滞留，请相关部门尽快协调疏散。",
    "车上有孕妇不太舒服，停车场出口管制出不去，能否先放行？",
    "普澜路这边全部封路，停车场的车一辆都出不去，希望给个说法。",
)

_TEXTS_110: Final = (
    "通济桥停车场几十辆车被困，有车主情绪激动发生争吵，请派警察到场。",
    "通济桥一带人车混杂，停车场车辆出不去，现场秩序混乱，请求支援。",
)


def build_incident(seed: int, bridge: Place, car_park: Place) -> Incident:
    """The incident for ``seed``: deterministic ticket count, times, texts, callers, jitter.

    12-15 tickets on 12345 and 2 on 110, all category ``traffic``, all within
    :data:`TICKET_JITTER_M` metres of the car park, between
    :data:`TICKETS_START_S` and ``TICKETS_START_S + TICKETS_WINDOW_S`` seconds.
    """
    rng = rng_for("incident", seed)
    n_12345 = rng.randint(12, 15)
    elderly_at = rng.randint(1, 4)
    texts = rng.sample(_TEXTS_12345, n_12345 - 1)
    offsets = [TICKETS_START_S + rng.uniform(0.0, 4.0)]
    offsets += sorted(TICKETS_START_S + rng.uniform(5.0, TICKETS_WINDOW_S) for _ in texts)
    gcj_indices = set(rng.sample(range(n_12345), 3))

    plan: list[tuple[float, Channel, str]] = []
    generic = iter(texts)
    for i, offset in enumerate(offsets):
        text = _ELDERLY_TEXT if i == elderly_at else next(generic)
        plan.append((offset, "12345", text))
    for text in _TEXTS_110:
        plan.append((TICKETS_START_S + rng.uniform(40.0, TICKETS_WINDOW_S), "110", text))
    plan.sort(key=lambda p: p[0])

    tickets: list[ScriptedTicket] = []
    for index, (offset, channel, text) in enumerate(plan):
        r = TICKET_JITTER_M * math.sqrt(rng.random())
        a = rng.uniform(0.0, 2.0 * math.pi)
        lat, lon = offset_m(car_park.lat, car_park.lon, r * math.cos(a), r * math.sin(a))
        crs: CRS = "gcj02" if channel == "12345" and index in gcj_indices else "wgs84"
        tickets.append(
            ScriptedTicket(
                index=index,
                offset_s=round(offset, 3),
                channel=channel,
                category="traffic",
                text=text,
                lat=lat,
                lon=lon,
                crs=crs,
                caller=mobile_number(rng),
            )
        )
    return Incident(bridge=bridge, car_park=car_park, crowd=CrowdCurve(), tickets=tuple(tickets))


def daily_profile(ts_ms: int) -> float:
    """Relative crowd level in [0.12, 1.0] at epoch ms ``ts_ms`` (China Standard Time).

    Quiet at night, a morning bump, lunchtime and a broad evening peak.
    """
    hour = ((ts_ms // 1000 + LOCAL_UTC_OFFSET_S) % 86_400) / 3600.0

    def bump(centre: float, width: float) -> float:
        d = min(abs(hour - centre), 24.0 - abs(hour - centre))
        return math.exp(-0.5 * (d / width) ** 2)

    level = 0.12 + 0.55 * bump(8.5, 1.2) + 0.6 * bump(12.5, 1.5) + 0.88 * bump(19.5, 2.2)
    return min(1.0, level)


def crossing_time(curve: CrowdCurve, level: float, *, rising: bool, step_s: float = 0.1) -> float:
    """First time (s) the curve crosses ``level`` upwards (``rising``) or, after the
    peak, downwards. ValueError if it never does."""
    t = 0.0
    if not rising:
        t = curve.ramp_s
    while t <= curve.end_s:
        d = curve.density_at(t)
        if (rising and d > level) or (not rising and d < level):
            return round(t, 1)
        t += step_s
    raise ValueError(f"density never {'exceeds' if rising else 'falls below'} {level}")


def timeline(incident: Incident) -> dict[str, float]:
    """Key moments in seconds after the surge began, for docs and the demo script."""
    twelve = [t for t in incident.tickets if t.channel == "12345"]
    return {
        "surge_start": 0.0,
        "density_over_2_15": crossing_time(incident.crowd, 2.15, rising=True),
        "density_over_4": crossing_time(incident.crowd, 4.0, rising=True),
        "peak": incident.crowd.ramp_s,
        "first_ticket": incident.tickets[0].offset_s,
        "tenth_ticket": incident.tickets[9].offset_s,
        "tenth_12345_ticket": twelve[9].offset_s,
        "last_ticket": incident.tickets[-1].offset_s,
        "density_below_1": crossing_time(incident.crowd, 1.0, rising=False),
    }


def incident_labels(incident: Incident, incident_start_ms: int) -> tuple[Label, Label]:
    """Ground truth for backtests: the crowd surge on the bridge, from the surge
    start until the crowd is back to base, and the car-park complaint cluster,
    from the first scripted call to the last (epoch ms; ids carry the start)."""
    calls = [incident_start_ms + round(t.offset_s * 1000) for t in incident.tickets]
    bridge, car_park = incident.bridge, incident.car_park
    return (
        Label(
            id=f"sim-crowd-{bridge.key}-{incident_start_ms}",
            name=f"{bridge.name} crowd surge",
            start_ms=incident_start_ms,
            end_ms=incident_start_ms + round(incident.crowd.end_s * 1000),
            lat=bridge.lat,
            lon=bridge.lon,
            radius_m=LABEL_RADIUS_M,
            rules=("crowd.density",),
        ),
        Label(
            id=f"sim-calls-{car_park.key}-{incident_start_ms}",
            name=f"{car_park.name} 12345/110 calls",
            start_ms=min(calls),
            end_ms=max(calls),
            lat=car_park.lat,
            lon=car_park.lon,
            radius_m=LABEL_RADIUS_M,
            rules=("hotline.cluster",),
        ),
    )
