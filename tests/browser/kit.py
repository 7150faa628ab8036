"""Helpers of the browser tests: Debian's Chromium, events into the stack, one map page."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import orjson
from aiokafka import AIOKafkaProducer
from playwright.sync_api import Browser, ConsoleMessage, Page

from citybrain.stack import EmbeddedStack

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
VIEWPORT = {"width": 1600, "height": 900}
T = TypeVar("T")


def off_loop(fn: Callable[..., T], *args: Any) -> T:
    """Run ``fn(*args)`` in a worker thread: Playwright's sync API owns this thread's loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


def produce(stack: EmbeddedStack, topic: str, events: list[dict[str, Any]]) -> None:
    """Send ``events`` as one batch record to the stack's ``topic`` (prefix added)."""
    settings = stack.live

    async def run() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=settings.kafka.bootstrap_servers())
        await producer.start()
        try:
            await producer.send_and_wait(settings.kafka.topic(topic), orjson.dumps(events))
        finally:
            await producer.stop()

    off_loop(asyncio.run, run())


def now_ms() -> int:
    return int(time.time() * 1000)


def token(stack: EmbeddedStack, name: str) -> str:
    """The stack's generated token ``name`` (engineer, dispatcher, liaison-110, …)."""
    path = stack.token_files.get(name)
    assert path is not None, f"the stack has no {name!r} token (has {sorted(stack.token_files)})"
    return path.read_text().strip()


@dataclass
class PageErrors:
    """Console errors and uncaught exceptions of one page."""

    messages: list[str] = field(default_factory=list)

    def watch(self, page: Page) -> None:
        page.on("pageerror", lambda exc: self.messages.append(f"pageerror: {exc}"))
        page.on("console", self._console)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.messages.append(f"console: {message.text} at {message.location.get('url')}")


def open_map(
    browser: Browser, stack: EmbeddedStack, errors: PageErrors, *, enforce_csp: bool = False
) -> Page:
    """A new browser session (own storage) with the map loaded and its feed connected.

    The page's Content-Security-Policy forbids evaluating strings as script, which is how
    Playwright runs ``wait_for_function`` predicates in the page; sessions bypass it
    unless ``enforce_csp`` (tests/browser/test_map.py runs the page under it)."""
    context = browser.new_context(viewport=VIEWPORT, bypass_csp=not enforce_csp)  # type: ignore[arg-type]
    page = context.new_page()
    errors.watch(page)
    page.goto(stack.url())
    page.wait_for_selector("#status[data-connected='true']", timeout=20_000)
    return page


def sign_in(page: Page, bearer: str) -> None:
    """Paste ``bearer`` into the sign-in dialog and wait for the header to show the holder."""
    page.click("#signin-button")
    page.fill("#token-input", bearer)
    page.click("#signin-submit")
    page.wait_for_selector("#signin-button[data-signed-in='true']", timeout=10_000)


def wait_js(page: Page, expression: str, arg: Any = None, timeout_ms: int = 30_000) -> Any:
    """Poll the page until the function ``expression`` returns something truthy; return it."""
    return page.wait_for_function(expression, arg=arg, timeout=timeout_ms).json_value()
