"""The console's browser tests: the real service (uvicorn, in a thread) on a free 127.0.0.1
port, over a freshly migrated database, driven by Debian's Chromium through Playwright.

The service is `make run`'s: the API and the outbound worker in one process, sending to the
sandbox (OUTBOUND_PROVIDER=sandbox), with SWITCHBOARD_PUBLIC_URL its own origin, so that the
same-origin checks (agent_sessions/http.py) pass for the pages it serves.

Chromium is never downloaded: it is Debian's `chromium` package (`/usr/bin/chromium`, or
SWITCHBOARD_CHROMIUM), launched headless through `executable_path`; `.ci/run` installs it
when it is missing. Without it the browser tests fail, saying so: they are never skipped.

The session cookie on plain http: the service sets `__Host-sb_session` with `Secure`, and
Chromium keeps it, and sends it back, on http://127.0.0.1 too: it counts a loopback origin
as potentially trustworthy (secure context), which is why the harness serves on 127.0.0.1
rather than on another name of this machine. tests/console/test_harness.py checks it, by
an agent signing in over the JSON API from within the page.

Playwright is driven through its async API, as every other test here is written: its sync
API marks the test's thread as running an event loop between calls, which fails every async
test that comes after it in the same process. The browser (conftest.py) lives as long as
the tests of this package, on the one event loop they share.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyotp
import pytest
import uvicorn
from playwright.async_api import Page

from switchboard.app import create_app
from switchboard.settings import Settings
from tests.agent_sessions.console import PASSWORD, SECRET_KEY, Enrolled, code_at, secret_of
from tests.conftest import MIGRATIONS_DIR, service_url

CHROMIUM_SETTING = "SWITCHBOARD_CHROMIUM"
DEBIANS_CHROMIUM = "/usr/bin/chromium"
START_SECONDS = 30


def chromium_path() -> str:
    """Debian's Chromium, or the one SWITCHBOARD_CHROMIUM names; the test fails without it."""
    path = os.environ.get(CHROMIUM_SETTING) or DEBIANS_CHROMIUM
    if not os.access(path, os.X_OK):
        pytest.fail(
            f"no Chromium at {path}: the console's tests drive a real browser. Install "
            f"Debian's (`apt-get install -y chromium`, as .ci/run does), or set "
            f"{CHROMIUM_SETTING} to a Chromium's executable",
            pytrace=False,
        )
    return path


@dataclass(frozen=True)
class LiveService:
    url: str  # its origin, http://127.0.0.1:PORT, also its SWITCHBOARD_PUBLIC_URL
    database_url: str  # the test database, as its owner (the fixtures' role)
    settings: Settings


def live_settings(url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "SWITCHBOARD_DATA_DIR": data_dir,
        "SWITCHBOARD_MIGRATIONS_DIR": MIGRATIONS_DIR,
        "SWITCHBOARD_PUBLIC_URL": url,
        "SWITCHBOARD_SECRET_KEY": SECRET_KEY,
        "OUTBOUND_PROVIDER": "sandbox",
    }
    return Settings(**{**values, **overrides})


@contextmanager
def live_service(database_url: str, data_dir: Path, **overrides: Any) -> Iterator[LiveService]:
    """The service with its worker, serving `database_url` until the block ends. `overrides`:
    settings by their environment names."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = live_settings(url, data_dir, **overrides)
    app = create_app(settings, database_url=service_url(database_url), with_worker=True)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="console service", daemon=True
    )
    thread.start()
    deadline = time.monotonic() + START_SECONDS
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            server.should_exit = True
            sock.close()
            raise RuntimeError(f"the service did not start on {url} (see the log above)")
        time.sleep(0.02)
    try:
        yield LiveService(url, database_url, settings)
    finally:
        server.should_exit = True
        thread.join(timeout=START_SECONDS)
        sock.close()


# --- the JSON API from within a page -------------------------------------------------------

_FETCH = """async ([method, path, body, headers]) => {
    const options = {method, headers: {...headers}, credentials: "same-origin"};
    if (body !== null) {
        options.body = JSON.stringify(body);
        options.headers["Content-Type"] = "application/json";
    }
    const answer = await fetch(path, options);
    return [answer.status, await answer.text()];
}"""


@dataclass(frozen=True)
class Answer:
    status: int
    text: str

    def json(self) -> Any:
        return json.loads(self.text)


async def fetch(
    page: Page,
    method: str,
    path: str,
    body: Any = None,
    *,
    csrf_token: str | None = None,
) -> Answer:
    """`method path` sent by the page's own script (fetch), as the console's would be: with
    the page's cookies, and the Origin and Sec-Fetch-Site Chromium adds itself. The page
    must be on the service's origin (`on_origin`)."""
    headers = {"X-CSRF-Token": csrf_token} if csrf_token else {}
    status, text = await page.evaluate(_FETCH, [method, path, body, headers])
    return Answer(status, text)


async def on_origin(page: Page, service: LiveService) -> None:
    """Put `page` on the service's origin, where its fetches are same-origin."""
    if not page.url.startswith(service.url + "/"):
        await page.goto(service.url + "/healthz")


async def enrol(page: Page, secret: str, email: str, *, confirm: bool = True) -> Enrolled:
    """Set the password of an agent added with enrolment `secret` (tests.agent_sessions.console
    `add`) from within the page and, with `confirm`, its authenticator."""
    body = {"secret": secret, "password": PASSWORD}
    started = await fetch(page, "POST", "/api/v1/enrolment", body)
    assert started.status == 200, started.text
    authenticator = pyotp.TOTP(secret_of(started.json()["provisioning_uri"]))
    if not confirm:
        return Enrolled(email, PASSWORD, None)
    # The previous step's code: sign-in then uses the current one (a code is accepted once).
    confirmed = await fetch(
        page,
        "POST",
        "/api/v1/enrolment/confirm",
        {"secret": secret, "code": code_at(authenticator, -1)},
    )
    assert confirmed.status == 200, confirmed.text
    return Enrolled(email, PASSWORD, authenticator)


async def sign_in(page: Page, who: Enrolled, *, step: int = 0) -> str:
    """Sign `who` in from within the page (and its TOTP code, of `step` steps from now, when
    enrolled with one): the CSRF token its unsafe requests then send."""
    credentials = {"email": who.email, "password": who.password}
    first = await fetch(page, "POST", "/api/v1/session", credentials)
    assert first.status == 200, first.text
    if who.totp is None:
        assert first.json()["stage"] == "signed_in"
        return str(first.json()["csrf_token"])
    second = await fetch(
        page,
        "POST",
        "/api/v1/session/totp",
        {"code": code_at(who.totp, step)},
        csrf_token=first.json()["csrf_token"],
    )
    assert second.status == 200, second.text
    assert second.json()["stage"] == "signed_in"
    return str(second.json()["csrf_token"])
