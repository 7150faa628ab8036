"""Headless Chromium (Debian's) loads the command map from the real stack and shows cells."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from citybrain.stack import EmbeddedStack
from tests.browser.kit import PageErrors, open_map, produce, sign_in, token

pytestmark = [pytest.mark.browser, pytest.mark.e2e]


def send_events(stack: EmbeddedStack) -> None:
    now = int(time.time() * 1000)
    cameras = [
        {
            "id": f"b-{i}-{now}",
            "camera": f"b-cam-{i}",
            "ts": now,
            "lat": 23.01 + i * 0.004,
            "lon": 113.09 + i * 0.004,
            "people": 50 * (i + 1),
            "area_m2": 250.0,
        }
        for i in range(8)
    ]
    produce(stack, "events.camera", cameras)


def test_map_loads_and_draws_heatmap_cells(
    stack: EmbeddedStack, map_session: Callable[[PageErrors], Page], artifacts: Path
) -> None:
    errors = PageErrors()
    page = map_session(errors)
    send_events(stack)
    page.wait_for_function(
        "Number(document.querySelector('#cell-count').textContent) >= 8", timeout=30_000
    )
    held = page.evaluate("window.citybrain.cells.size")
    assert held >= 8
    page.wait_for_timeout(1500)  # let deck.gl draw the frame before the picture
    page.screenshot(path=str(artifacts / "map-smoke.png"))
    # The canvas really carries coloured hexagons, not just the background.
    colours = page.evaluate("""() => {
        const c = document.querySelector('#map canvas');
        const off = document.createElement('canvas');
        off.width = c.width; off.height = c.height;
        const ctx = off.getContext('2d'); ctx.drawImage(c, 0, 0);
        const d = ctx.getImageData(0, 0, off.width, off.height).data;
        const seen = new Set();
        for (let i = 0; i < d.length; i += 4 * 97)
            seen.add(d[i] >> 4 << 8 | d[i+1] >> 4 << 4 | d[i+2] >> 4);
        return seen.size;
    }""")
    assert colours > 3
    assert errors.messages == []


def send_tickets(stack: EmbeddedStack) -> None:
    now = int(time.time() * 1000)
    tickets = [
        {
            "id": f"bt-{i}-{now}",
            "ts": now + i,
            "channel": "110" if i == 2 else "12345",
            "category": "browser-e2e",  # its own: other tests leave clusters on the stack
            "text": "停车场车辆被困出不去，回电13800001234",
            "lat": 22.985 + (i % 2) * 0.0005,
            "lon": 113.02,
            "caller": "13800001234",
        }
        for i in range(6)
    ]
    produce(stack, "events.hotline", tickets)


def test_incident_detail_lists_its_signals_with_evidence(
    stack: EmbeddedStack, map_session: Callable[[PageErrors], Page], artifacts: Path
) -> None:
    errors = PageErrors()
    page = map_session(errors)
    send_tickets(stack)
    item = "#alert-list li.alert[data-rule='hotline.cluster']:has-text('browser-e2e')"
    page.wait_for_selector(item, timeout=30_000)
    page.click(item)
    signal = ".signal[data-rule='hotline.cluster']"
    page.wait_for_selector(signal, timeout=5_000)
    assert "风险" in page.inner_text(signal)  # the risk score with its factors (Chinese default)
    # the incident's tickets, listed once with their (masked) text readable, not in tooltips
    tickets = ".evidence .incident-tickets"
    page.wait_for_selector(tickets, timeout=5_000)
    text = page.inner_text(tickets)
    assert "138****1234" in text and "13800001234" not in text  # masked caller
    assert "停车场车辆被困出不去" in text
    page.screenshot(path=str(artifacts / "incident-detail.png"))
    # The same detail in English: every label goes through the one dictionary.
    page.click("#lang-toggle")
    assert "Risk" in page.inner_text(signal)
    english = page.inner_text(tickets)
    assert "Tickets" in english and "138****1234" in english
    page.click("#lang-toggle")  # back to Chinese for the next session on this screen
    # the unmasked text: nothing to press for the anonymous viewer; a 12345 liaison may read
    # the five 12345 tickets (not the 110 one), and the server answers the full text
    assert page.locator(f"{tickets} .ticket-reveal").count() == 0
    assert "13800001234" not in page.inner_html(".evidence")
    sign_in(page, token(stack, "liaison-12345"))
    reveal = page.locator(f"{tickets} .ticket-reveal")
    reveal.first.wait_for(timeout=5_000)
    assert reveal.count() == 5
    reveal.first.click()
    page.wait_for_selector(f"{tickets} .ticket-full:has-text('13800001234')", timeout=10_000)
    assert reveal.first.get_attribute("aria-expanded") == "true"
    assert errors.messages == []


def test_the_page_runs_under_its_content_security_policy(
    browser: Browser, stack: EmbeddedStack
) -> None:
    """With the server's CSP enforced (no string evaluation, not even Playwright's), the
    map connects and draws live cells, and the browser reports no violation."""
    errors = PageErrors()
    page = open_map(browser, stack, errors, enforce_csp=True)
    try:
        send_events(stack)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and int(page.inner_text("#cell-count") or 0) == 0:
            time.sleep(0.25)
        assert int(page.inner_text("#cell-count")) > 0
        with page.expect_response(lambda r: r.url.endswith("/api/config")) as answer:
            page.reload()
        policy = answer.value.headers.get("content-security-policy", "")
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        page.wait_for_selector("#status[data-connected='true']", timeout=20_000)
        assert errors.messages == []
    finally:
        page.context.close()
