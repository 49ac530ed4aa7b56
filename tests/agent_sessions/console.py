"""The agents' API on a freshly migrated database, driven over HTTP (in-process ASGI) as the
console in a browser would: from our own origin, with the session cookie and the CSRF token."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from psycopg import AsyncConnection

from switchboard.agents import service as agents
from switchboard.agents.models import CLI_ACTOR
from switchboard.app import create_app
from switchboard.settings import Settings
from tests.conftest import MIGRATIONS_DIR, service_url

PUBLIC_URL = "https://switchboard.bank.example"
SECRET_KEY = "a long random secret key for the agents tests"  # noqa: S105 - a test value
PASSWORD = "correct horse battery staple"  # noqa: S105
SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}


def agent_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return Settings(
        SWITCHBOARD_DATA_DIR=tmp_path,
        SWITCHBOARD_MIGRATIONS_DIR=MIGRATIONS_DIR,
        SWITCHBOARD_PUBLIC_URL=PUBLIC_URL,
        SWITCHBOARD_SECRET_KEY=SECRET_KEY,
        **overrides,
    )


async def running(settings: Settings, url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database_url=service_url(url), pool_size=10)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            yield client


@dataclass
class Enrolled:
    email: str
    password: str
    totp: pyotp.TOTP | None  # None: enrolled without confirming an authenticator


async def add(
    conn: AsyncConnection[Any], email: str, *, role: str = "agent", queues: tuple[str, ...] = ()
) -> str:
    """A new agent; its enrolment secret."""
    added = await agents.add_agent(
        conn,
        CLI_ACTOR,
        email=email,
        display_name=email.split("@", maxsplit=1)[0],
        role=role,
        queues=queues,
    )
    return added.enrolment_secret


def secret_of(uri: str) -> str:
    parsed = pyotp.parse_uri(uri)
    assert isinstance(parsed, pyotp.TOTP)
    return parsed.secret


async def enrol(
    client: httpx.AsyncClient, secret: str, email: str, *, confirm: bool = True
) -> Enrolled:
    started = await client.post(
        "/api/v1/enrolment", json={"secret": secret, "password": PASSWORD}, headers=SAME_ORIGIN
    )
    assert started.status_code == 200, started.text
    uri = started.json()["provisioning_uri"]
    assert uri.startswith("otpauth://totp/")
    assert "issuer=Switchboard" in uri
    totp = pyotp.TOTP(secret_of(uri))
    if not confirm:
        return Enrolled(email, PASSWORD, None)
    # The previous step's code: the sign-in that follows uses the current one, which a code
    # accepted once at enrolment would otherwise make wait for the next step.
    code = totp.at(totp.timecode(_now()) * totp.interval - totp.interval)
    confirmed = await client.post(
        "/api/v1/enrolment/confirm", json={"secret": secret, "code": code}, headers=SAME_ORIGIN
    )
    assert confirmed.status_code == 200, confirmed.text
    return Enrolled(email, PASSWORD, totp)


def _now() -> float:
    return time.time()


def code_at(totp: pyotp.TOTP, step: int) -> str:
    return totp.at(time.time() + step * totp.interval)


async def sign_in(
    client: httpx.AsyncClient, who: Enrolled, *, password: str | None = None
) -> httpx.Response:
    return await client.post(
        "/api/v1/session",
        json={"email": who.email, "password": password or who.password},
        headers=SAME_ORIGIN,
    )


def csrf(response: httpx.Response) -> dict[str, str]:
    return {**SAME_ORIGIN, "X-CSRF-Token": response.json()["csrf_token"]}


async def signed_in(client: httpx.AsyncClient, who: Enrolled, *, step: int = 0) -> dict[str, str]:
    """Sign in with both factors (the code of `step` steps from now: a code is accepted once,
    so a second sign-in within a step uses the next one): the headers an unsafe request then
    needs."""
    first = await sign_in(client, who)
    assert first.status_code == 200, first.text
    if who.totp is None:
        assert first.json()["stage"] == "signed_in"
        return csrf(first)
    assert first.json()["stage"] == "password"
    second = await client.post(
        "/api/v1/session/totp", json={"code": code_at(who.totp, step)}, headers=csrf(first)
    )
    assert second.status_code == 200, second.text
    assert second.json()["stage"] == "signed_in"
    return csrf(second)


@pytest.fixture
async def client(migrated_db: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for running_client in running(agent_settings(tmp_path), migrated_db):
        yield running_client
