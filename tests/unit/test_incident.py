"""Incident fusion: signals near each other in space and time become one incident."""

import h3
import orjson

from alerts.incidents.incident import (
    MAX_KEPT_TICKETS,
    FusionConfig,
    Incident,
    Signal,
    attach,
    find_incident,
    forgettable,
    to_alert,
)
from alerts.incidents.lifecycle import LifecycleConfig, tick
from geo.cells import cell_center, cell_of

T0 = 1_790_000_000_000
BRIDGE = cell_of(23.0258, 113.1166, 9)
CAR_PARK = cell_of(23.0236, 113.1184, 9)
FAR = cell_of(23.0495, 113.1090, 9)  # the railway station, ~3 km away
CONFIG = FusionConfig(radius_k=2, reopen_ms=600_000, keep_closed_ms=3_600_000)


def signal(id: str, rule: str, cell: str, t_s: float, **kw: object) -> Signal:
    base = dict(
        id=id,
        rule=rule,
        cell=cell,
        severity="warning",
        state="open",
        opened_at=int(T0 + t_s * 1000),
        updated_at=int(T0 + t_s * 1000),
        desks=("110",),
        title=rule,
        evidence={"risk": {"score": 0.5, "factors": {}}},
    )
    base.update(kw)
    return Signal(**base)  # type: ignore[arg-type]


def put(incident: Incident | None, sig: Signal, at: int) -> Incident:
    """``attach`` without its audit entry (alerts.incidents.lifecycle's tests look at those)."""
    return attach(incident, sig, at)[0]


def expire(incident: Incident, at: int) -> Incident:
    lc, entries = tick(incident.lifecycle, incident.facts(), at, LifecycleConfig(), {})
    assert [e.action for e in entries] == ["expired"]
    return Incident(**{**{n: getattr(incident, n) for n in Incident.__slots__}, "lifecycle": lc})


def test_crowd_and_complaint_cluster_nearby_fuse_into_one_incident() -> None:
    assert h3.grid_distance(BRIDGE, CAR_PARK) <= CONFIG.radius_k
    crowd = signal("a-crowd", "crowd.density", BRIDGE, 0, desks=("110", "chengguan"))
    inc = put(None, crowd, crowd.updated_at)
    cluster = signal("a-clus", "hotline.cluster", CAR_PARK, 60, desks=("12345", "110", "traffic"))
    found = find_incident([inc], cluster, T0 + 60_000, CONFIG)
    assert found is inc
    inc = put(found, cluster, T0 + 60_000)
    alert = to_alert(inc)
    assert alert.id == "a-crowd" and alert.rule == "crowd.density"
    assert alert.desks == ("110", "chengguan", "12345", "traffic")
    assert [s["rule"] for s in alert.evidence["signals"]] == ["crowd.density", "hotline.cluster"]
    assert alert.evidence["rules"] == ["crowd.density", "hotline.cluster"]


def test_signal_far_away_starts_its_own_incident() -> None:
    inc = put(None, signal("a1", "crowd.density", BRIDGE, 0), T0)
    assert find_incident([inc], signal("a2", "sensor.alarm", FAR, 5), T0 + 5000, CONFIG) is None


def test_severity_is_the_worst_signal_and_active_while_any_signal_is_open() -> None:
    inc = put(None, signal("a1", "crowd.density", BRIDGE, 0), T0)
    inc = put(inc, signal("a2", "sensor.alarm", BRIDGE, 1, severity="critical"), T0 + 1000)
    assert inc.severity == "critical" and inc.active
    inc = put(inc, signal("a1", "crowd.density", BRIDGE, 0, state="closed"), T0 + 2000)
    assert inc.active and inc.cleared_at is None
    inc = put(inc, signal("a2", "sensor.alarm", BRIDGE, 1, state="closed"), T0 + 3000)
    assert not inc.active and inc.cleared_at == T0 + 3000
    assert inc.lifecycle.state == "open"  # the condition cleared; nobody closed the alert
    assert len(inc.signals) == 2  # updated in place, not appended


def test_an_alert_nobody_closed_is_joined_however_long_ago_its_condition_cleared() -> None:
    inc = put(None, signal("a1", "crowd.density", BRIDGE, 0, state="closed"), T0)
    later = signal("a3", "crowd.density", BRIDGE, 3000)
    assert find_incident([inc], later, T0 + 3_000_000, CONFIG) is inc
    assert not forgettable(inc, T0 + 10 * 3_600_000, CONFIG)  # still in a desk's queue


def test_reopening_within_the_cooldown_reuses_the_closed_incident_later_not() -> None:
    inc = put(None, signal("a1", "crowd.density", BRIDGE, 0, state="closed"), T0)
    inc = expire(inc, T0 + 120_000)
    closed = inc.lifecycle.closed_at
    assert closed == T0 + 120_000
    again = signal("a3", "crowd.density", BRIDGE, 300)
    assert find_incident([inc], again, closed + 600_000, CONFIG) is inc
    assert find_incident([inc], again, closed + 600_001, CONFIG) is None
    reopened = put(inc, again, closed + 300_000)
    assert reopened.lifecycle.state == "open" and reopened.lifecycle.reopened == 1
    assert reopened.id == inc.id and reopened.active
    assert not forgettable(inc, closed + 3_600_000, CONFIG)
    assert forgettable(inc, closed + 3_600_001, CONFIG)


def test_shadow_signals_route_to_no_desk() -> None:
    inc = put(None, signal("a1", "crowd.anomaly", BRIDGE, 0, shadow=True), T0)
    assert inc.shadow and inc.desks == ()
    inc = put(inc, signal("a2", "crowd.density", BRIDGE, 1), T0 + 1000)
    assert not inc.shadow and inc.desks == ("110",)


def test_nearest_incident_wins() -> None:
    near = put(None, signal("n", "crowd.density", CAR_PARK, 0), T0)
    far = put(None, signal("f", "crowd.density", BRIDGE, 0), T0)
    s = signal("x", "hotline.cluster", CAR_PARK, 10)
    assert find_incident([far, near], s, T0 + 10_000, CONFIG) is near


def test_incidents_do_not_sprawl_through_chains_of_signals() -> None:
    # Each step is within the radius of the previous signal, but not of the anchor.
    path = [BRIDGE, *h3.grid_path_cells(BRIDGE, FAR)[1:]]
    inc = put(None, signal("s0", "crowd.density", path[0], 0), T0)
    for i, cell in enumerate(path[1:], 1):
        s = signal(f"s{i}", "crowd.density", cell, i)
        found = find_incident([inc], s, T0 + i * 1000, CONFIG)
        if h3.grid_distance(BRIDGE, cell) <= CONFIG.radius_k:
            assert found is inc
            inc = put(inc, s, T0 + i * 1000)
        else:
            assert found is None


def test_the_incident_stays_at_its_anchor_when_a_worse_signal_joins() -> None:
    inc = put(None, signal("a1", "crowd.density", BRIDGE, 0), T0)
    inc = put(inc, signal("a2", "sensor.alarm", CAR_PARK, 5, severity="critical"), T0 + 5000)
    alert = to_alert(inc)
    assert alert.cell == BRIDGE and alert.rule == "crowd.density" and alert.id == "a1"
    assert alert.evidence["anchor"] == BRIDGE and alert.evidence["lead"] == "a2"
    assert (alert.lat, alert.lon) == cell_center(BRIDGE)


def ticket_row(i: int, t_s: float) -> dict[str, object]:
    return {"id": f"t{i}", "ts": int(T0 + t_s * 1000), "channel": "12345", "text": f"工单 {i}"}


def test_tickets_that_aged_out_of_the_window_stay_with_the_incident() -> None:
    def cluster(t_s: float, rows: list[dict[str, object]]) -> Signal:
        ev = {"risk": {"score": 0.6, "factors": {}}, "count": len(rows), "tickets": rows}
        return signal(
            "a-clus", "hotline.cluster", CAR_PARK, 0, updated_at=int(T0 + t_s * 1000), evidence=ev
        )

    inc = put(None, signal("a-crowd", "crowd.density", BRIDGE, 0), T0)
    inc = put(inc, cluster(60, [ticket_row(1, 50), ticket_row(2, 55)]), T0 + 60_000)
    inc = put(
        inc, cluster(700, [ticket_row(2, 55), ticket_row(3, 690)]), T0 + 700_000
    )  # t1 aged out
    inc = put(inc, cluster(1300, []), T0 + 1_300_000)  # the window is empty now
    alert = to_alert(inc)
    assert [t["id"] for t in alert.evidence["tickets"]] == ["t1", "t2", "t3"]
    assert alert.evidence["tickets_total"] == 3
    stored = Incident.from_dict(orjson.loads(orjson.dumps(inc)))
    assert stored.tickets == inc.tickets and stored.tickets_total == 3


def test_an_incident_keeps_the_newest_tickets_past_its_bound() -> None:
    rows = [ticket_row(i, i) for i in range(MAX_KEPT_TICKETS + 20)]
    ev = {"risk": {"score": 0.6, "factors": {}}, "tickets": rows}
    inc = put(None, signal("a-clus", "hotline.cluster", CAR_PARK, 0, evidence=ev), T0)
    assert len(inc.tickets) == MAX_KEPT_TICKETS and inc.tickets_total == MAX_KEPT_TICKETS + 20
    assert inc.tickets[-1]["id"] == f"t{MAX_KEPT_TICKETS + 19}" and inc.tickets[0]["id"] == "t20"
