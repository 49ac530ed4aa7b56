"""Nothing secret of an agent (password, TOTP secret or code, session token, enrolment secret)
reaches the logs or the audit trail, or rests in clear in the database."""

from __future__ import annotations

import io
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from psycopg import AsyncConnection

from switchboard.agent_sessions.models import COOKIE
from switchboard.logs import log_handler
from tests.agent_sessions.console import (
    PASSWORD,
    add,
    agent_settings,
    code_at,
    csrf,
    enrol,
    running,
    secret_of,
    sign_in,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Every record of every logger, DEBUG and up, as the service would write it."""
    out = io.StringIO()
    root = logging.getLogger()
    handler, level = log_handler("json", out), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield out
    root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
async def logged_client(
    migrated_db: str, tmp_path: Path, captured: io.StringIO
) -> AsyncIterator[httpx.AsyncClient]:
    settings = agent_settings(tmp_path).model_copy(update={"access_log": True})
    async for running_client in running(settings, migrated_db):
        yield running_client


async def test_no_password_code_token_or_secret_is_logged_audited_or_stored_in_clear(
    logged_client: httpx.AsyncClient, conn: AsyncConnection[Any], captured: io.StringIO
) -> None:
    client = logged_client
    email = "ada@bank.example"
    enrolment_secret = await add(conn, email, role="supervisor")
    started = await client.post(
        "/api/v1/enrolment",
        json={"secret": enrolment_secret, "password": PASSWORD},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    totp_secret = secret_of(started.json()["provisioning_uri"])
    client.cookies.clear()
    who = await enrol(client, await add(conn, "bob@bank.example"), "bob@bank.example")
    assert who.totp is not None
    wrong_password = "an entirely wrong password"  # noqa: S105
    assert (await sign_in(client, who, password=wrong_password)).status_code == 401
    first = await sign_in(client, who)
    token = client.cookies.get(COOKIE)
    assert token
    code = code_at(who.totp, 0)
    wrong_code = "000000" if code != "000000" else "111111"
    bad = await client.post("/api/v1/session/totp", json={"code": wrong_code}, headers=csrf(first))
    assert bad.status_code == 401
    good = await client.post("/api/v1/session/totp", json={"code": code}, headers=csrf(first))
    assert good.status_code == 200
    assert (await client.delete("/api/v1/session", headers=csrf(good))).status_code == 204

    secrets = {
        "password": PASSWORD,
        "wrong password": wrong_password,
        "enrolment secret": enrolment_secret,
        "totp secret": totp_secret,
        "bob's totp secret": who.totp.secret,
        "code": code,
        "wrong code": wrong_code,
        "session token": token,
        "csrf token": good.json()["csrf_token"],
    }
    output = captured.getvalue()
    assert "/api/v1/session" in output  # access lines were captured: there is text to search
    cursor = await conn.execute("SELECT row_to_json(a)::text FROM cc_audit_logs AS a")
    audit = "\n".join(row[0] for row in await cursor.fetchall())
    assert "agent.signed_in" in audit
    assert "agent.totp_failed" in audit
    cursor = await conn.execute(
        "SELECT row_to_json(a)::text FROM cc_agents AS a UNION ALL"
        " SELECT row_to_json(s)::text FROM cc_agent_sessions AS s"
    )
    stored = "\n".join(row[0] for row in await cursor.fetchall())
    for name, value in secrets.items():
        assert value not in output, f"the {name} is in the logs"
        assert value not in audit, f"the {name} is in the audit trail"
        if name not in ("code", "wrong code"):  # 6 digits may occur in a hash by chance
            assert value not in stored, f"the {name} is stored in clear"
