"""Fixtures of the console's browser tests (browser.py says how they run): `console`, the
live service over the test's database; `browser`, Chromium, started once for this package;
`new_context`, a browser context of its own for each agent (cookies, storage), on the
service's origin; `page`, a page in a context of its own."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, async_playwright

from tests.console.browser import LiveService, chromium_path, live_service

# How long a browser action waits for what it expects: the service is local, so anything
# slower than this is a failure to report, not a slow machine to wait for.
ACTION_TIMEOUT_MS = 10_000

NewContext = Callable[..., Awaitable[BrowserContext]]


@pytest.fixture(scope="package")
def anyio_backend() -> str:
    # As wide as `browser`, which lives on the event loop of this package's tests.
    return "asyncio"


@pytest.fixture
def console(migrated_db: str, tmp_path: Path) -> Iterator[LiveService]:
    with live_service(migrated_db, tmp_path) as service:
        yield service


@pytest.fixture(scope="package")
async def browser() -> AsyncIterator[Browser]:
    executable = chromium_path()
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=executable, headless=True)
        try:
            yield chromium
        finally:
            await chromium.close()


@pytest.fixture
async def new_context(browser: Browser, console: LiveService) -> AsyncIterator[NewContext]:
    """Make a new context (another agent's browser); all are closed after the test.
    `options`: Playwright's new_context options (viewport, timezone_id, locale ...)."""
    made: list[BrowserContext] = []

    async def make(**options: Any) -> BrowserContext:
        context = await browser.new_context(base_url=console.url, **options)
        context.set_default_timeout(ACTION_TIMEOUT_MS)
        made.append(context)
        return context

    try:
        yield make
    finally:
        for context in made:
            await context.close()


@pytest.fixture
async def page(new_context: NewContext) -> Page:
    context = await new_context()
    return await context.new_page()
