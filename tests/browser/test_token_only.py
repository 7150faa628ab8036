"""The map on a server that lets nobody in without a token (auth.anonymous_role "none"):
the page loads, its live feed is refused until someone signs in, then it connects with
the token offered as a websocket subprotocol — and a tab that signed in before
connects at once."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from playwright.sync_api import Browser

from citybrain.config.settings import Settings
from citybrain.stack import EmbeddedStack
from tests.browser.kit import VIEWPORT, PageErrors, sign_in
from tests.e2e.test_web_server import TOKENS, token_only
from web.server import WebServer

pytestmark = [pytest.mark.browser, pytest.mark.e2e]
CONNECTED = "#status[data-connected='true']"


@contextmanager
def server_in_thread(settings: Settings) -> Iterator[str]:
    """A web server on its own event loop in a thread (the test drives a browser
    synchronously); its own Redis keys. Yields its base URL."""
    name = f"web-token-only-{time.monotonic_ns()}"
    server = WebServer(settings.with_overrides(redis={"key_prefix": f"{name}:"}), instance=name)
    loop = asyncio.new_event_loop()
    started: list[Exception | None] = []

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(server.start())
            started.append(None)
        except Exception as exc:  # noqa: BLE001 - re-raised in the test thread below
            started.append(exc)
            return
        loop.run_forever()

    thread = threading.Thread(target=run, name=name, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not started and time.monotonic() < deadline:
        time.sleep(0.1)
    assert started, "the web server did not start within 60 s"
    if started[0] is not None:
        raise started[0]
    try:
        yield f"http://127.0.0.1:{server.port}/"
    finally:
        asyncio.run_coroutine_threadsafe(server.stop(), loop).result(60)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()


def test_the_feed_needs_a_sign_in_and_then_connects(browser: Browser, stack: EmbeddedStack) -> None:
    with server_in_thread(token_only(stack.live, "browser")) as base:
        context = browser.new_context(viewport=VIEWPORT)  # type: ignore[arg-type]
        try:
            page = context.new_page()
            page.goto(base)
            page.wait_for_selector("#signin-button", timeout=20_000)
            time.sleep(3)  # several connection attempts, each refused (401)
            assert page.query_selector(CONNECTED) is None
            sign_in(page, TOKENS["viewer"])
            page.wait_for_selector(CONNECTED, timeout=20_000)  # on the next reconnect

            # a new tab of the same session signed in before: connected at once, no refusal
            errors = PageErrors()
            again = context.new_page()
            errors.watch(again)
            again.add_init_script(
                f"sessionStorage.setItem('citybrain.token', {TOKENS['viewer']!r})"
            )
            again.goto(base)
            again.wait_for_selector(CONNECTED, timeout=20_000)
            assert not [m for m in errors.messages if "WebSocket" in m], errors.messages
        finally:
            context.close()
