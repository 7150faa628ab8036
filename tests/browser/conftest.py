"""One headless Chromium for the module's browser tests (each test opens its own sessions)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from citybrain.stack import EmbeddedStack
from tests.browser.kit import ARGS, CHROMIUM, PageErrors, open_map


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def map_session(browser: Browser, stack: EmbeddedStack) -> Iterator[Callable[[PageErrors], Page]]:
    """Opens map sessions (own storage each) that are closed when the test ends, so no page
    keeps animating on the shared machine."""
    pages: list[Page] = []

    def open_session(errors: PageErrors) -> Page:
        page = open_map(browser, stack, errors)
        pages.append(page)
        return page

    yield open_session
    for page in pages:
        page.context.close()
