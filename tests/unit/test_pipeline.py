"""The cell pipeline on plain stores: state, views, and alerts on transitions."""

import h3
import orjson

from alerts.detect import Track
from geo.cells import cell_of
from streams.cellfold import CellState
from streams.events import CameraReading, SensorReading, Ticket
from streams.pipeline import Output, process_batch
from streams.store import DictStore

T0 = 1_790_000_000_000
BRIDGE = (23.0262, 113.1158)
CAR_PARK = (23.0290, 113.1185)


def camera(t_s: float, people: int, cam: str = "cam-bridge", where=BRIDGE) -> CameraReading:
    lat, lon = where
    return CameraReading(
        id=f"{cam}-{t_s}",
        ts=int(T0 + t_s * 1000),
        lat=lat,
        lon=lon,
        cell=cell_of(lat, lon, 9),
        camera=cam,
        people=people,
        area_m2=400.0,
    )


def ticket(i: int, t_s: float, channel: str = "12345", where=CAR_PARK) -> Ticket:
    lat, lon = where[0] + (i % 3) * 0.0003, where[1] - (i % 2) * 0.0003
    return Ticket(
        id=f"t{i}",
        ts=int(T0 + t_s * 1000),
        channel=channel,
        category="traffic",
        text="停车场车辆被困",
        lat=lat,
        lon=lon,
        cell=cell_of(lat, lon, 9),
        caller="138****0000",
    )


class Run:
    def __init__(self) -> None:
        self.cells: DictStore[CellState] = DictStore()
        self.tracks: DictStore[Track] = DictStore()
        self.outputs: list[Output] = []

    def feed(self, events: list, now_s: float, sweep: bool = False) -> Output:
        out = process_batch(
            events,
            cells=self.cells,
            tracks=self.tracks,
            partition=0,
            now_ms=int(T0 + now_s * 1000),
            sweep=sweep,
        )
        self.outputs.append(out)
        return out

    def alerts(self) -> list:
        return [a for o in self.outputs for a in o.alerts]


def test_cell_view_reports_density_and_los() -> None:
    run = Run()
    out = run.feed([camera(0, 860)], 0)
    (view,) = out.cells.values()
    assert view["people"] == 860 and view["density"] == 2.15 and view["los"] == "E"
    assert 0 < view["risk"] < 1


def test_crowd_surge_opens_one_alert_escalates_and_closes() -> None:
    run = Run()
    for t, people in enumerate([200, 400, 900, 1000, 1200, 1700, 1800, 1800, 1800]):
        run.feed([camera(t * 5, people)], t * 5)
    opened = [a for a in run.alerts() if a.rule == "crowd.density"]
    assert [a.state for a in opened] == ["open", "open"]  # opened, then escalated
    assert opened[0].severity == "warning" and opened[1].severity == "critical"
    assert len({a.id for a in opened}) == 1
    first = opened[0]
    assert first.desks == ("110", "chengguan")
    assert first.evidence["density"] >= 2.15 and first.evidence["cameras"] == ["cam-bridge"]
    # the crowd thins out: closed only after 30 s below the exit threshold
    run.feed([camera(50, 300)], 50)
    run.feed([camera(70, 300)], 70)
    assert run.alerts()[-1].state == "open"
    run.feed([camera(85, 300)], 85)
    last = run.alerts()[-1]
    assert last.state == "closed" and last.id == first.id and last.closed_at == T0 + 85_000


def test_twelve_complaints_make_one_cluster_alert_not_twelve() -> None:
    run = Run()
    for i in range(14):
        run.feed([ticket(i, i * 10, "110" if i in (3, 9) else "12345")], i * 10)
    cluster = [a for a in run.alerts() if a.rule == "hotline.cluster"]
    assert len({a.id for a in cluster}) == 1
    assert cluster[0].evidence["count"] == 5  # opens at the enter threshold
    final = cluster[-1]
    assert final.evidence["count"] == 14 and final.severity == "critical"
    assert set(final.desks) >= {"12345", "110", "traffic"}
    assert all(t["caller"] == "138****0000" for t in final.evidence["tickets"])


def test_cluster_closes_when_tickets_age_out_on_a_sweep() -> None:
    run = Run()
    for i in range(6):
        run.feed([ticket(i, i)], i)
    run.feed([], 300, sweep=True)
    assert run.alerts()[-1].state == "open"
    out = run.feed([], 700, sweep=True)  # window 600 s: every ticket is stale
    assert [a.state for a in out.alerts] == ["closed"]
    assert out.removed and not run.cells.data


def test_far_apart_tickets_do_not_cluster() -> None:
    run = Run()
    far = h3.cell_to_latlng(h3.grid_disk(cell_of(*CAR_PARK, 9), 8).pop())
    for i in range(4):
        run.feed([ticket(i, i)], i)
    for i in range(4, 8):
        run.feed([ticket(i, i, where=(far[0] + 0.02, far[1] + 0.02))], i)
    assert [a for a in run.alerts() if a.rule == "hotline.cluster"] == []


def test_sensor_alarm_flag_and_threshold() -> None:
    run = Run()
    lat, lon = BRIDGE
    smoke = SensorReading(
        id="s1",
        ts=T0,
        lat=lat,
        lon=lon,
        cell=cell_of(lat, lon, 9),
        sensor="smk-1",
        type="smoke",
        value=2.0,
        alarm=True,
        unit="%obs/m",
    )
    water = SensorReading(
        id="s2",
        ts=T0,
        lat=lat,
        lon=lon,
        cell=cell_of(lat, lon, 9),
        sensor="wl-1",
        type="water_level",
        value=0.5,
        unit="m",
    )
    out = run.feed([smoke, water], 0)
    by_type = {a.evidence["type"]: a for a in out.alerts}
    assert by_type["smoke"].severity == "critical" and "fire" in by_type["smoke"].desks
    assert by_type["water_level"].severity == "warning"


def test_duplicate_ticket_counts_once() -> None:
    run = Run()
    out = run.feed([ticket(1, 0), ticket(1, 0)], 0)
    (view,) = out.cells.values()
    assert view["tickets_total"] == 1


def test_cell_state_round_trips_through_json() -> None:
    run = Run()
    run.feed([camera(0, 100), ticket(1, 0, where=BRIDGE)], 0)
    for _, state in run.cells.data.values():
        assert CellState.from_dict(orjson.loads(orjson.dumps(state))) == state
