"""The browser harness itself: Chromium runs the served htmx and its SSE extension at their
pinned versions, and keeps an agent's session cookie on the harness's http://127.0.0.1."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, Route
from psycopg import AsyncConnection

from switchboard import vendor
from tests.agent_sessions.console import add
from tests.console.browser import LiveService, enrol, fetch, on_origin, sign_in
from tests.console.conftest import NewContext

pytestmark = pytest.mark.anyio
PINNED = {package.name: package.version for package in vendor.load_manifest()}

# A page of our origin that loads the served scripts and opens an SSE stream through the
# extension. It is not one of the console's pages: those are tested where they are built.
SMOKE_PAGE = """<!doctype html>
<html><head>
<script src="/console/static/vendor/htmx.min.js"></script>
<script src="/console/static/vendor/sse.min.js"></script>
</head><body>
<div hx-ext="sse" sse-connect="/console/smoke-events">
  <p id="target" sse-swap="greeting">waiting</p>
</div>
</body></html>"""


async def _serve(route: Route, body: str, content_type: str) -> None:
    await route.fulfill(status=200, body=body, content_type=content_type)


async def test_chromium_runs_the_served_htmx_and_its_sse_extension(
    console: LiveService, page: Page
) -> None:
    async def smoke_page(route: Route) -> None:
        await _serve(route, SMOKE_PAGE, "text/html")

    async def smoke_events(route: Route) -> None:
        event = 'event: greeting\ndata: <b id="live">swapped by the SSE extension</b>\n\n'
        await _serve(route, event, "text/event-stream")

    await page.route("**/console/smoke", smoke_page)
    await page.route("**/console/smoke-events", smoke_events)
    served: dict[str, Any] = {}
    page.on("response", lambda answer: served.setdefault(answer.url.rsplit("/", 1)[1], answer))

    await page.goto("/console/smoke")

    assert await page.evaluate("window.htmx.version") == PINNED["htmx.org"]
    await page.locator("#live").wait_for()  # the extension connected, and swapped the event in
    assert await page.locator("#target").inner_text() == "swapped by the SSE extension"
    for script in ("htmx.min.js", "sse.min.js"):
        answer = served[script]  # from the service itself, not from a route of the test
        assert answer.status == 200
        headers = await answer.all_headers()
        assert headers["cache-control"].startswith("public, max-age=")
        assert headers["x-request-id"]


async def test_chromium_keeps_the_secure_session_cookie_on_loopback_http(
    console: LiveService, page: Page, conn: AsyncConnection[Any]
) -> None:
    secret = await add(conn, "ada@bank.example", queues=("cards",))
    await on_origin(page, console)
    ada = await enrol(page, secret, "ada@bank.example")

    await sign_in(page, ada)

    cookies = {cookie["name"]: cookie for cookie in await page.context.cookies()}
    session = cookies["__Host-sb_session"]
    assert session["secure"]
    assert session["httpOnly"]
    assert session["sameSite"] == "Strict"
    who = await fetch(page, "GET", "/api/v1/session")  # sent back by Chromium
    assert who.status == 200, who.text
    assert who.json()["email"] == "ada@bank.example"
    assert who.json()["stage"] == "signed_in"


async def test_each_context_is_an_agent_of_its_own(
    console: LiveService, new_context: NewContext, conn: AsyncConnection[Any]
) -> None:
    pages: dict[str, tuple[Page, str]] = {}
    for email in ("ada@bank.example", "grace@bank.example"):
        secret = await add(conn, email, queues=("cards",))
        page = await (await new_context()).new_page()
        await on_origin(page, console)
        # Without a TOTP code: development (totp_for_every_agent is off outside production).
        pages[email] = (page, await sign_in(page, await enrol(page, secret, email, confirm=False)))

    for email, (page, _) in pages.items():
        assert (await fetch(page, "GET", "/api/v1/session")).json()["email"] == email
    ada, ada_csrf = pages["ada@bank.example"]
    grace, _ = pages["grace@bank.example"]
    signed_out = await fetch(ada, "DELETE", "/api/v1/session", csrf_token=ada_csrf)
    assert signed_out.status == 204, signed_out.text
    assert (await fetch(ada, "GET", "/api/v1/session")).status == 401
    assert (await fetch(grace, "GET", "/api/v1/session")).status == 200
