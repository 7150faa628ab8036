"""The cell pipeline on plain stores: state, metrics, signals fused into incidents."""

from dataclasses import replace

import h3
import orjson
from pipeline_kit import BRIDGE, CAR_PARK, T0, Run, camera, ticket

from alerts.crowd.baseline import BaselineConfig
from alerts.crowd.cell_metrics import MetricsConfig
from geo.cells import cell_of
from geo.zone_index import build_zone_index
from geo.zones import default_zones
from streams.pipeline.cellfold import CellState
from streams.pipeline.events import SensorReading
from streams.pipeline.step_data import PipelineConfig


def test_cell_view_reports_density_los_still_and_risk_factors() -> None:
    run = Run()
    out = run.feed([camera(0, 860)], 0)
    (view,) = out.cells.values()
    assert view["density"] == 2.15 and view["los"] == "E" and view["los_queuing"] == "D"
    assert view["still"] == "busy" and view["cameras"] == 1 and view["stale_cameras"] == []
    assert 0 < view["risk"] < 1 and view["factors"]["density"] == 0.6
    assert view["people_seen"] == 860.0


def test_crowd_surge_opens_one_incident_escalates_and_closes() -> None:
    run = Run()
    for t, people in enumerate([200, 400, 900, 1000, 1200, 1700, 1800, 1800, 1800]):
        run.feed([camera(t * 5, people)], t * 5)
    alerts = run.alerts()
    assert [a.state for a in alerts] == ["open", "open"]  # opened, then escalated
    assert alerts[0].severity == "warning" and alerts[1].severity == "critical"
    assert len({a.id for a in alerts}) == 1
    first = alerts[0]
    assert first.rule == "crowd.density" and first.desks == ("110", "chengguan")
    (sig,) = first.evidence["signals"]
    assert sig["density"] >= 2.15 and sig["cameras"] == ["cam-bridge"]
    assert sig["risk"]["score"] > 0.5 and sig["risk"]["factors"]["density"] > 0.5
    # the crowd thins out: closed only after 30 s below the exit threshold
    run.feed([camera(50, 300)], 50)
    run.feed([camera(70, 300)], 70)
    assert run.alerts()[-1].state == "open"
    run.feed([camera(85, 300)], 85)
    last = run.alerts()[-1]
    assert not last.active and last.id == first.id and last.cleared_at == T0 + 85_000
    assert last.state == "open"  # nobody has acknowledged it: it expires later (lifecycle)


def test_twelve_complaints_make_one_incident_not_twelve() -> None:
    run = Run()
    for i in range(14):
        run.feed([ticket(i, i * 10, "110" if i in (3, 9) else "12345")], i * 10)
    assert len({a.id for a in run.alerts()}) == 1
    cluster = run.signals("hotline.cluster")
    assert cluster[0]["count"] == 5  # opens at the enter threshold
    final = run.alerts()[-1]
    assert final.evidence["signals"][0]["count"] == 14 and final.severity == "critical"
    assert set(final.desks) >= {"12345", "110", "traffic"}
    assert all(t["caller"] == "138****0000" for t in final.evidence["signals"][0]["tickets"])


def test_crowd_on_the_bridge_and_complaints_at_the_car_park_are_one_incident() -> None:
    run = Run()
    for t, people in enumerate([900, 1000, 1200, 1700]):
        run.feed([camera(t * 5, people)], t * 5)
    for i in range(6):
        run.feed([camera(20 + i, 1700), ticket(i, 20 + i)], 20 + i)
    ids = {a.id for a in run.alerts()}
    assert len(ids) == 1
    final = run.alerts()[-1]
    assert final.evidence["rules"] == ["crowd.density", "hotline.cluster"]
    assert {"12345", "110"} <= set(final.desks)


def test_cluster_closes_when_tickets_age_out_on_a_sweep() -> None:
    run = Run()
    for i in range(6):
        run.feed([ticket(i, i)], i)
    run.feed([], 300, sweep=True)
    assert run.alerts()[-1].state == "open"
    out = run.feed([], 700, sweep=True)  # window 600 s: every ticket is stale
    assert [a.active for a in out.alerts.values()] == [False]
    assert out.removed and not run.cells.data


def test_far_apart_tickets_do_not_cluster() -> None:
    run = Run()
    far = h3.cell_to_latlng(h3.grid_disk(cell_of(*CAR_PARK, 9), 8).pop())
    for i in range(4):
        run.feed([ticket(i, i)], i)
    for i in range(4, 8):
        run.feed([ticket(i, i, where=(far[0] + 0.02, far[1] + 0.02))], i)
    assert run.alerts() == []


def test_vaguely_geocoded_tickets_are_counted_but_not_clustered() -> None:
    run = Run()
    vague = [replace(ticket(i, i), precision="street", uncertainty_m=2_000.0) for i in range(8)]
    for i, t in enumerate(vague):
        out = run.feed([t], i)
    assert run.alerts() == []
    assert sum(v["tickets_total"] for v in out.cells.values()) >= 1


def test_sensor_alarms_in_one_cell_are_one_incident() -> None:
    run = Run()
    lat, lon = BRIDGE
    common = dict(ts=T0, lat=lat, lon=lon, cell=cell_of(lat, lon, 9))
    smoke = SensorReading(
        id="s1", sensor="smk-1", type="smoke", value=2.0, alarm=True, unit="%obs/m", **common
    )
    water = SensorReading(id="s2", sensor="wl-1", type="water_level", value=0.5, unit="m", **common)
    out = run.feed([smoke, water], 0)
    (incident,) = out.alerts.values()
    by_type = {s["type"]: s for s in incident.evidence["signals"]}
    assert by_type["smoke"]["severity"] == "critical" and "fire" in by_type["smoke"]["desks"]
    assert by_type["water_level"]["severity"] == "warning"
    assert incident.severity == "critical" and {"fire", "chengguan"} <= set(incident.desks)


def test_stale_camera_is_flagged_on_a_sweep_and_its_count_left_out() -> None:
    run = Run()
    run.feed([camera(0, 100), camera(0, 400, cam="cam-2")], 0)
    out = run.feed([camera(50, 100)], 50)
    (view,) = out.cells.values()
    assert view["stale_cameras"] == [] and view["cameras"] == 2
    out = run.feed([], 61, sweep=True)  # cam-2 silent for 61 s
    (view,) = out.cells.values()
    assert view["stale_cameras"] == ["cam-2"] and view["cameras"] == 1
    assert view["density"] == 0.25  # cam-bridge alone: 100 / 400 m²


def test_a_fast_rise_below_the_threshold_is_a_warning() -> None:
    run = Run()
    # 0.4 → 2.0 persons/m² over 120 s: 0.8 persons/m² per minute, never above 2.15
    for t in range(0, 125, 5):
        run.feed([camera(t, int(400 * (0.4 + 0.8 * t / 60)))], t)
    rise = run.signals("crowd.rise")
    assert rise and rise[0]["state"] == "open" and rise[0]["severity"] == "warning"
    assert rise[0]["trend_per_min"] >= 0.5 and rise[0]["density"] < 2.15
    assert run.signals("crowd.density") == []


def test_baseline_anomaly_enters_the_view_and_the_risk() -> None:
    config = PipelineConfig(
        metrics=MetricsConfig(baseline=BaselineConfig(min_samples=5, interval_ms=60_000))
    )
    run = Run(config)
    for minute in range(8):  # a quiet square: 0.25 persons/m² every minute
        run.feed([camera(minute * 60, 100)], minute * 60)
    out = run.feed([camera(8 * 60, 600)], 8 * 60)  # 1.5 persons/m²: unusual at this hour
    (view,) = out.cells.values()
    assert view["density_z"] is not None and view["density_z"] > 3
    assert view["factors"]["anomaly"] > 0


def test_duplicate_ticket_counts_once() -> None:
    run = Run()
    out = run.feed([ticket(1, 0), ticket(1, 0)], 0)
    (view,) = out.cells.values()
    assert view["tickets_total"] == 1


def test_cell_state_round_trips_through_json() -> None:
    run = Run()
    for t in range(0, 40, 10):
        run.feed([camera(t, 100 + t), ticket(t, t, where=BRIDGE)], t)
    for _, state in run.cells.data.values():
        assert CellState.from_dict(orjson.loads(orjson.dumps(state.to_dict()))) == state


def test_walkable_area_and_zones_come_from_the_zone_layer() -> None:
    zones = build_zone_index(default_zones(), 9)
    run = Run(PipelineConfig(zones=zones))
    out = run.feed([camera(0, 800), camera(0, 1200, cam="cam-2")], 0)
    (view,) = out.cells.values()
    cell = cell_of(*BRIDGE, 9)
    walkable = zones.walkable(cell)
    assert walkable is not None and view["walkable_from_layer"]
    assert view["area_m2"] == round(walkable, 1)
    assert "tongji-bridge-deck" in view["zones"] and view["crowd_kind"] == "moving"
    assert view["density"] == 2.5  # (800 + 1200) / (400 + 400) m²: overlap-neutral ratio
    assert view["people"] == round(2.5 * walkable, 1)  # extrapolated to the walkable area


def test_ticket_text_leaves_the_pipeline_only_redacted() -> None:
    """The ingest agent masks tickets already; tickets held unmasked (cell state written by
    an older release, a backtest) still reach alert evidence redacted, and cut only after
    redaction, and the cell view carries no ticket text at all."""
    run = Run()
    long_text = "车辆被困" * 48 + "电话:13812345678"  # the 200-char cut falls in the number
    for i in range(6):
        text = long_text if i == 5 else f"停车场车辆被困，回电13912345678，证件44060419900101123{i}"
        out = run.feed([replace(ticket(i, i * 10), text=text)], i * 10)
        wire = orjson.dumps(list(out.cells.values())).decode()
        assert "停车场" not in wire and "1391234" not in wire and "tickets" in wire
    tickets = run.alerts()[-1].evidence["signals"][0]["tickets"]
    texts = {t["id"]: t["text"] for t in tickets}
    assert texts["t0"] == "停车场车辆被困，回电139****5678，证件**************1230"
    assert texts["t5"] == long_text[:195] + "138**"  # not "13812": masked, then cut
    assert all("12345" not in t and "440604" not in t for t in texts.values())
