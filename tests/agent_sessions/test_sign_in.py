"""Signing in with a password and a TOTP code, over HTTP, on a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from psycopg import AsyncConnection

from switchboard.agent_sessions.models import COOKIE
from tests.agent_sessions.console import (
    PASSWORD,
    SAME_ORIGIN,
    add,
    agent_settings,
    code_at,
    csrf,
    enrol,
    running,
    secret_of,
    sign_in,
    signed_in,
)

pytestmark = pytest.mark.anyio


async def audit_rows(conn: AsyncConnection[Any], event_type: str) -> list[tuple[Any, ...]]:
    cursor = await conn.execute(
        "SELECT actor_type, actor_id, success, input_redacted::text FROM cc_audit_logs"
        " WHERE event_type = %s ORDER BY created_at",
        (event_type,),
    )
    return await cursor.fetchall()


async def test_an_agent_enrols_signs_in_with_password_and_code_and_is_audited(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    who = await enrol(
        client, await add(conn, "ada@bank.example", queues=("fraud",)), "ada@bank.example"
    )

    first = await sign_in(client, who)
    assert first.status_code == 200
    assert first.json()["stage"] == "password"  # the agent confirmed an authenticator
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("__Host-sb_session=")
    for attribute in ("Path=/", "Secure", "HttpOnly", "SameSite=strict"):
        assert attribute.lower() in cookie.lower()
    pending = await client.get("/api/v1/session")
    assert pending.json()["stage"] == "password"
    first_factor_token = client.cookies.get(COOKIE)

    assert who.totp is not None
    second = await client.post(
        "/api/v1/session/totp", json={"code": code_at(who.totp, 0)}, headers=csrf(first)
    )
    assert second.status_code == 200
    headers = csrf(second)
    me = await client.get("/api/v1/session")

    assert me.status_code == 200
    body = me.json()
    assert body["email"] == "ada@bank.example"
    assert body["role"] == "agent"
    assert body["queues"] == ["fraud"]
    assert body["stage"] == "signed_in"
    assert body["csrf_token"] == headers["X-CSRF-Token"]
    signed = await audit_rows(conn, "agent.signed_in")
    assert [(r[0], r[1], r[2]) for r in signed] == [("agent", body["agent_id"], True)]
    # The code renewed the token: the first factor's one no longer opens the session.
    assert client.cookies.get(COOKIE) != first_factor_token
    client.cookies.clear()
    client.cookies.set(COOKIE, first_factor_token or "", domain="switchboard.bank.example")
    assert (await client.get("/api/v1/session")).status_code == 401


async def test_wrong_password_and_unknown_email_get_the_same_401_and_are_audited(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    who = await enrol(client, await add(conn, "ada@bank.example"), "ada@bank.example")

    wrong = await sign_in(client, who, password="not the password at all")  # noqa: S106
    unknown = await client.post(
        "/api/v1/session",
        json={"email": "nobody@bank.example", "password": PASSWORD},
        headers=SAME_ORIGIN,
    )

    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"] == "sign_in_failed"
    assert "set-cookie" not in wrong.headers
    failed = await audit_rows(conn, "agent.sign_in_failed")
    assert [(r[0], r[2]) for r in failed] == [("agent", False), ("system", False)]
    assert '"wrong_password"' in failed[0][3]
    assert "nobody" not in failed[1][3]
    assert '"account": "hmac:' in failed[1][3]


async def test_a_wrong_totp_code_is_401_and_audited(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    who = await enrol(client, await add(conn, "ada@bank.example"), "ada@bank.example")
    first = await sign_in(client, who)
    assert who.totp is not None
    wrong = "000000" if code_at(who.totp, 0) != "000000" else "111111"

    answer = await client.post("/api/v1/session/totp", json={"code": wrong}, headers=csrf(first))

    assert answer.status_code == 401
    assert answer.json()["error"] == "sign_in_failed"
    assert (await client.get("/api/v1/session")).json()["stage"] == "password"
    failed = await audit_rows(conn, "agent.totp_failed")
    assert len(failed) == 1
    assert '"wrong_code"' in failed[0][3]


async def test_a_totp_code_is_accepted_once(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    who = await enrol(client, await add(conn, "ada@bank.example"), "ada@bank.example")
    assert who.totp is not None
    code = code_at(who.totp, 0)
    first = await sign_in(client, who)
    accepted = await client.post("/api/v1/session/totp", json={"code": code}, headers=csrf(first))
    assert accepted.status_code == 200

    client.cookies.clear()
    again = await sign_in(client, who)
    replayed = await client.post("/api/v1/session/totp", json={"code": code}, headers=csrf(again))

    assert replayed.status_code == 401
    assert (await client.get("/api/v1/session")).json()["stage"] == "password"
    assert '"reused_code"' in (await audit_rows(conn, "agent.totp_failed"))[0][3]
    # An earlier step's code is refused too: the step must grow.
    earlier = code_at(who.totp, -1)
    refused = await client.post("/api/v1/session/totp", json={"code": earlier}, headers=csrf(again))
    assert refused.status_code == 401


async def test_a_supervisor_needs_a_totp_code_and_cannot_skip_enrolling_one(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    lead = await enrol(
        client, await add(conn, "sam@bank.example", role="supervisor"), "sam@bank.example"
    )
    first = await sign_in(client, lead)
    assert first.json()["stage"] == "password"
    # The admin route needs a signed-in session: a password alone is not one.
    revoke = await client.post(
        f"/api/v1/agents/{first.json()['agent_id']}/sessions/revoke", headers=csrf(first)
    )
    assert revoke.status_code == 401

    client.cookies.clear()
    unconfirmed = await enrol(
        client,
        await add(conn, "sid@bank.example", role="supervisor"),
        "sid@bank.example",
        confirm=False,
    )
    refused = await sign_in(client, unconfirmed)
    assert refused.status_code == 403
    assert refused.json()["error"] == "enrolment_incomplete"
    assert "set-cookie" not in refused.headers


async def test_in_development_an_agent_without_an_authenticator_signs_in_with_a_password(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    who = await enrol(
        client, await add(conn, "ada@bank.example"), "ada@bank.example", confirm=False
    )

    answer = await sign_in(client, who)

    assert answer.status_code == 200
    assert answer.json()["stage"] == "signed_in"


async def test_a_disabled_agent_cannot_sign_in_and_their_sessions_end(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    from switchboard.agents import service as agents  # noqa: PLC0415
    from switchboard.agents.models import CLI_ACTOR  # noqa: PLC0415

    who = await enrol(
        client, await add(conn, "ada@bank.example"), "ada@bank.example", confirm=False
    )
    await signed_in(client, who)
    assert (await client.get("/api/v1/session")).status_code == 200

    assert await agents.disable_agent(conn, CLI_ACTOR, "ada@bank.example") == 1

    gone = await client.get("/api/v1/session")
    assert gone.status_code == 401
    assert gone.json()["error"] == "not_signed_in"
    client.cookies.clear()
    refused = await sign_in(client, who)
    assert refused.status_code == 401
    assert refused.json()["error"] == "sign_in_failed"
    assert '"disabled"' in (await audit_rows(conn, "agent.sign_in_failed"))[0][3]


async def test_in_production_every_agent_needs_a_totp_code(
    migrated_db: str, tmp_path: Path, conn: AsyncConnection[Any]
) -> None:
    settings = agent_settings(tmp_path, SWITCHBOARD_ENV="production")
    async for client in running(settings, migrated_db):
        unconfirmed = await enrol(
            client, await add(conn, "ada@bank.example"), "ada@bank.example", confirm=False
        )
        refused = await sign_in(client, unconfirmed)
        assert refused.status_code == 403
        assert refused.json()["error"] == "enrolment_incomplete"

        who = await enrol(client, await add(conn, "bob@bank.example"), "bob@bank.example")
        first = await sign_in(client, who)
        assert first.json()["stage"] == "password"


async def test_the_enrolment_code_must_be_right_and_the_secret_is_then_used_up(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    secret = await add(conn, "ada@bank.example")
    started = await client.post(
        "/api/v1/enrolment", json={"secret": secret, "password": PASSWORD}, headers=SAME_ORIGIN
    )
    totp = pyotp.TOTP(secret_of(started.json()["provisioning_uri"]))
    short = await client.post(
        "/api/v1/enrolment",
        json={"secret": await add(conn, "bo@bank.example"), "password": "too short"},
        headers=SAME_ORIGIN,
    )
    assert short.status_code == 422
    assert short.json()["error"] == "invalid_input"
    code = code_at(totp, 0)
    wrong = "000000" if code != "000000" else "111111"

    refused = await client.post(
        "/api/v1/enrolment/confirm", json={"secret": secret, "code": wrong}, headers=SAME_ORIGIN
    )
    confirmed = await client.post(
        "/api/v1/enrolment/confirm", json={"secret": secret, "code": code}, headers=SAME_ORIGIN
    )
    again = await client.post(
        "/api/v1/enrolment/confirm",
        json={"secret": secret, "code": code_at(totp, 1)},
        headers=SAME_ORIGIN,
    )

    assert refused.status_code == 401
    assert confirmed.status_code == 200
    assert again.status_code == 401
    assert again.json()["error"] == "enrolment_invalid"
    cursor = await conn.execute(
        "SELECT enrolment_secret_hash IS NULL, totp_secret_sealed LIKE 'sealed:v1:%%'"
        " FROM cc_agents WHERE email = 'ada@bank.example'"
    )
    assert await cursor.fetchone() == (True, True)
    cursor = await conn.execute(
        "SELECT event_type, success FROM cc_audit_logs WHERE actor_type = 'agent'"
        " ORDER BY created_at"
    )
    assert await cursor.fetchall() == [
        ("agent.password_set", True),
        ("agent.enrolment_code_failed", False),
        ("agent.enrolled", True),
    ]
