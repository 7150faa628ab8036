"""The command map against the real stack: heatmap updates and roll-ups, an alert handled by
a signed-in dispatcher and seen changing in another session, drawing a circle and its counts.

Each test puts its own events at its own place (tests share the session's stack), finds
its own cells and alerts by that place, and leaves screenshots in test-artifacts/.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import h3
import pytest
from playwright.sync_api import Page

from citybrain.stack import EmbeddedStack
from tests.browser.kit import PageErrors, now_ms, produce, sign_in, token, wait_js

pytestmark = [pytest.mark.browser, pytest.mark.e2e]

# Places no other test uses (at least 2 km from every other test's events).
HEAT = (22.975, 113.035)  # heatmap update
SMOKE = (23.045, 113.075)  # the alert a dispatcher acknowledges
CIRCLE = (23.050, 113.100)  # the area query

FIND_ALERT = """([lat, lon]) => {
    const hit = [...window.citybrain.alerts.values()].find((a) =>
        String(a.rule).startsWith('sensor.alarm') && Math.abs(a.lat - lat) < 0.003
        && Math.abs(a.lon - lon) < 0.003);
    return hit ? hit.id : null;
}"""


def cameras(
    place: tuple[float, float], tag: str, people: int, n: int = 1
) -> list[dict[str, object]]:
    """``n`` cameras within ~30 m of ``place`` counting ``people`` each on 250 m²."""
    ts = now_ms()
    return [
        {
            "id": f"{tag}-{i}-{ts}",
            "camera": f"{tag}-cam-{i}",
            "ts": ts,
            "lat": place[0] + i * 0.0002,
            "lon": place[1],
            "people": people,
            "area_m2": 250.0,
        }
        for i in range(n)
    ]


def layer_cells(layer_id: str) -> str:
    """JS function: the cell ids the deck.gl layer ``layer_id`` draws now."""
    return (
        "() => { const d = window.citybrain.deck; if (!d) return [];"
        f" const l = d.props.layers.find((x) => x.id === '{layer_id}');"
        " return l ? l.props.data.map((c) => c.cell) : []; }"
    )


def test_heatmap_updates_live_and_rolls_up_when_zoomed_out(
    stack: EmbeddedStack, map_session: Callable[[PageErrors], Page], artifacts: Path
) -> None:
    errors = PageErrors()
    page = map_session(errors)
    fine = stack.live.pipeline.h3_resolution
    cell = h3.latlng_to_cell(HEAT[0], HEAT[1], fine)
    tag = f"bh-{now_ms()}"

    produce(stack, "events.camera", cameras(HEAT, tag, people=40))
    first = wait_js(
        page,
        "(id) => { const c = window.citybrain.cells.get(id); return c && c.people; }",
        cell,
    )
    # Drawn, not only held (the layer follows within a frame).
    wait_js(page, f"() => ({layer_cells('cells')})().includes('{cell}')", timeout_ms=5_000)
    page.evaluate(f"window.citybrain.jumpTo({HEAT[1]}, {HEAT[0]}, 14)")
    page.wait_for_timeout(800)
    page.screenshot(path=str(artifacts / "map-heatmap-before.png"))

    produce(stack, "events.camera", cameras(HEAT, tag, people=600))
    second = wait_js(
        page,
        "([id, before]) => { const c = window.citybrain.cells.get(id);"
        " return c && c.people > before ? c.people : null; }",
        [cell, first],
    )
    assert second > first
    page.wait_for_timeout(800)
    page.screenshot(path=str(artifacts / "map-heatmap-after.png"))

    # Zoomed out, the layer switches to the server's roll-up of the same place.
    page.evaluate(f"window.citybrain.jumpTo({HEAT[1]}, {HEAT[0]}, 9.5)")
    info = wait_js(page, "() => { const h = window.citybrain.heatmap(); return h.coarse && h; }")
    assert info["res"] < fine
    parent = h3.cell_to_parent(cell, info["res"])
    wait_js(page, f"() => ({layer_cells('cells')})().includes('{parent}')", timeout_ms=10_000)
    assert page.inner_text("#res-badge").endswith(f"r{info['res']}")
    page.screenshot(path=str(artifacts / "map-heatmap-rollup.png"))
    assert errors.messages == []


def test_dispatcher_acknowledges_and_another_session_sees_it(
    stack: EmbeddedStack, map_session: Callable[[PageErrors], Page], artifacts: Path
) -> None:
    errors = PageErrors()
    desk = map_session(errors)  # the dispatcher's screen
    wall = map_session(errors)  # an anonymous video wall, another session
    sign_in(desk, token(stack, "dispatcher"))
    assert "dispatcher" in desk.inner_text("#user-name")
    tones_before = wall.evaluate("window.citybrain.stats.tones")

    ts = now_ms()
    produce(
        stack,
        "events.sensor",
        [
            {
                "id": f"bs-{ts}",
                "sensor": f"bs-smoke-{ts}",
                "ts": ts,
                "lat": SMOKE[0],
                "lon": SMOKE[1],
                "type": "smoke",
                "value": 0.4,
                "alarm": True,
            }
        ],
    )
    alert_id = wait_js(desk, FIND_ALERT, list(SMOKE))
    assert wait_js(wall, FIND_ALERT, list(SMOKE)) == alert_id
    row = f"li.alert[data-id='{alert_id}']"
    wall.wait_for_selector(f"{row}[data-state='open']", timeout=10_000)
    # A new critical alert on the wall asks for the tone (heard once audio is unlocked).
    assert wall.evaluate("window.citybrain.stats.tones") > tones_before

    # The anonymous wall may look but not act: the buttons say why.
    wall.click(row)
    wall.wait_for_selector(f"#detail-actions[data-alert='{alert_id}']")
    assert wall.is_disabled("button[data-action='ack']")
    assert wall.inner_text("#action-reasons").strip() != ""

    desk.click(row)
    ack = "button[data-action='ack']:not([disabled])"
    desk.wait_for_selector(ack, timeout=10_000)
    desk.fill("#action-note", "browser test: on it")
    desk.click(ack)
    desk.wait_for_selector(
        f"#alert-detail[data-id='{alert_id}'][data-state='acknowledged']", timeout=15_000
    )
    assert desk.is_disabled("button[data-action='ack']")  # an acknowledged alert: not twice
    assert not desk.is_disabled("button[data-action='resolve']")
    entry = "li.audit-entry[data-action='acknowledged']"
    desk.wait_for_selector(entry, timeout=10_000)
    assert "browser test: on it" in desk.inner_text(entry)

    wall.wait_for_selector(f"{row}[data-state='acknowledged']", timeout=15_000)
    wall.wait_for_selector(f"#alert-detail[data-id='{alert_id}'][data-state='acknowledged']")
    desk.screenshot(path=str(artifacts / "map-ack-dispatcher.png"))
    wall.screenshot(path=str(artifacts / "map-ack-wall.png"))
    assert errors.messages == []


def test_draw_a_circle_and_read_the_counts(
    stack: EmbeddedStack, map_session: Callable[[PageErrors], Page], artifacts: Path
) -> None:
    errors = PageErrors()
    page = map_session(errors)
    fine = stack.live.pipeline.h3_resolution
    cell = h3.latlng_to_cell(CIRCLE[0], CIRCLE[1], fine)
    produce(stack, "events.camera", cameras(CIRCLE, f"bq-{now_ms()}", people=300, n=3))
    wait_js(page, "(id) => window.citybrain.cells.has(id)", cell)

    lat, lon = h3.cell_to_latlng(cell)
    radius_m = 400.0
    east = lon + radius_m / (111_320.0 * math.cos(math.radians(lat)))
    page.evaluate(f"window.citybrain.jumpTo({lon}, {lat}, 14)")
    page.wait_for_timeout(800)
    page.click("#draw-circle")
    x0, y0 = page.evaluate(f"window.citybrain.pageXY([{lon}, {lat}])")
    x1, y1 = page.evaluate(f"window.citybrain.pageXY([{east}, {lat}])")
    page.mouse.move(x0, y0)
    page.mouse.down()
    page.mouse.move((x0 + x1) / 2, (y0 + y1) / 2, steps=4)
    page.mouse.move(x1, y1, steps=4)
    page.mouse.up()

    page.wait_for_selector("#query-panel[data-ready='true']", timeout=5_000)
    done = page.evaluate("window.citybrain.state.lastQuery")
    shape = done["shape"]
    assert shape["type"] == "circle" and abs(shape["radius_m"] - radius_m) < 40
    assert math.dist(shape["center"], [lon, lat]) < 1e-4
    result = done["result"]
    assert result["took_ms"] is not None and result["took_ms"] < 1000  # "within a second"
    assert result["live"]["cells"] >= 1 and result["live"]["people"] > 0
    for name in ("buildings", "enterprises", "cameras", "workers", "people", "density"):
        assert page.is_visible(f"#query-panel [data-stat='{name}'] .q-value"), name
    people_text = page.inner_text("#query-panel [data-stat='people'] .q-value")
    assert abs(int(people_text.replace(",", "")) - result["live"]["people"]) <= 1
    page.screenshot(path=str(artifacts / "map-circle-query.png"))

    # The circle stays until cleared; clearing removes it and its panel.
    page.wait_for_timeout(500)
    assert page.evaluate("window.citybrain.state.draw.shape !== null")
    page.click("#draw-clear")
    assert page.evaluate("window.citybrain.state.draw.shape") is None
    assert page.is_hidden("#query-panel")
    assert errors.messages == []
