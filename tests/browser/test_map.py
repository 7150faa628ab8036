"""Headless Chromium (Debian's) loads the command map from the real stack and shows cells."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from playwright.sync_api import sync_playwright

from citybrain.stack import EmbeddedStack

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
]


def produce(stack: EmbeddedStack, topic: str, events: list[dict]) -> None:
    """Send ``events`` as one batch record to the stack's ``topic`` (prefix added)."""
    settings = stack.live

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers())
        await producer.start()
        try:
            await producer.send_and_wait(settings.kafka.topic(topic), orjson.dumps(events))
        finally:
            await producer.stop()

    asyncio.run(run())


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


def test_map_loads_and_draws_heatmap_cells(stack: EmbeddedStack, artifacts: Path) -> None:
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 900})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(stack.url())
            page.wait_for_selector("#status[data-connected='true']", timeout=20_000)
            with ThreadPoolExecutor(1) as pool:  # playwright's sync API owns this thread's loop
                pool.submit(send_events, stack).result()
            page.wait_for_function(
                "Number(document.querySelector('#cell-count').textContent) >= 8", timeout=30_000
            )
            held = page.evaluate("window.citybrain.cells.size")
            assert held >= 8
            page.wait_for_timeout(1500)  # let deck.gl draw the frame before the picture
            page.screenshot(path=str(artifacts / "map-smoke.png"))
            # The canvas really carries coloured hexagons, not just the background.
            colours = page.evaluate("""() => {
                const c = document.querySelector('canvas');
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
        finally:
            browser.close()
    assert errors == [], errors


def send_tickets(stack: EmbeddedStack) -> None:
    now = int(time.time() * 1000)
    tickets = [
        {
            "id": f"bt-{i}-{now}",
            "ts": now + i,
            "channel": "110" if i == 2 else "12345",
            "category": "traffic",
            "text": "停车场车辆被困出不去",
            "lat": 22.985 + (i % 2) * 0.0005,
            "lon": 113.02,
            "caller": "13800001234",
        }
        for i in range(6)
    ]
    produce(stack, "events.hotline", tickets)


def test_incident_detail_lists_its_signals_with_evidence(
    stack: EmbeddedStack, artifacts: Path
) -> None:
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1600, "height": 900})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(stack.url())
            page.wait_for_selector("#status[data-connected='true']", timeout=20_000)
            with ThreadPoolExecutor(1) as pool:
                pool.submit(send_tickets, stack).result()
            item = page.wait_for_selector(
                "#alert-list li.alert[data-rule='hotline.cluster']", timeout=30_000
            )
            item.click()
            box = page.wait_for_selector(".signal[data-rule='hotline.cluster']", timeout=5_000)
            text = box.inner_text()
            assert "138****1234" in text and "13800001234" not in text  # masked caller
            assert "风险 Risk" in text  # the risk score with its factors
            page.screenshot(path=str(artifacts / "incident-detail.png"))
        finally:
            browser.close()
    assert errors == [], errors
