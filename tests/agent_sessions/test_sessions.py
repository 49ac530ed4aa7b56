"""Sessions end when they should: idle, absolute, sign-out, an administrator's revoke-all; and
an unsafe request needs the CSRF proofs."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from psycopg import AsyncConnection

from switchboard.agent_sessions.models import COOKIE
from switchboard.agents import service as agents
from switchboard.agents.models import CLI_ACTOR
from tests.agent_sessions.console import (
    PASSWORD,
    PUBLIC_URL,
    SAME_ORIGIN,
    Enrolled,
    add,
    enrol,
    sign_in,
    signed_in,
)

pytestmark = pytest.mark.anyio


async def a_signed_in_agent(
    client: httpx.AsyncClient, conn: AsyncConnection[Any], email: str = "ada@bank.example"
) -> dict[str, str]:
    who = await enrol(client, await add(conn, email), email, confirm=False)
    return await signed_in(client, who)


async def test_a_session_idle_for_30_minutes_is_over(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    await a_signed_in_agent(client, conn)
    await conn.execute(
        "UPDATE cc_agent_sessions SET last_seen_at = now() - interval '29 minutes',"
        " idle_expires_at = now() + interval '1 minute'"
    )
    # Seen: the idle expiry slides 30 minutes on from now.
    seen = await client.get("/api/v1/session")
    assert seen.status_code == 200
    cursor = await conn.execute(
        "SELECT idle_expires_at > now() + interval '29 minutes' FROM cc_agent_sessions"
    )
    assert (await cursor.fetchone()) == (True,)

    await conn.execute(
        "UPDATE cc_agent_sessions SET last_seen_at = now() - interval '31 minutes',"
        " idle_expires_at = now() - interval '1 minute'"
    )
    over = await client.get("/api/v1/session")
    assert over.status_code == 401
    assert over.json()["error"] == "not_signed_in"


async def test_the_idle_expiry_is_written_at_most_once_a_minute(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    await a_signed_in_agent(client, conn)
    cursor = await conn.execute("SELECT idle_expires_at FROM cc_agent_sessions")
    before = (await cursor.fetchone() or [None])[0]

    assert (await client.get("/api/v1/session")).status_code == 200

    cursor = await conn.execute("SELECT idle_expires_at FROM cc_agent_sessions")
    assert (await cursor.fetchone() or [None])[0] == before


async def test_a_session_ends_12_hours_after_sign_in_however_active(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    await a_signed_in_agent(client, conn)
    await conn.execute(
        "UPDATE cc_agent_sessions SET created_at = now() - interval '12 hours',"
        " last_seen_at = now() - interval '2 minutes',"
        " absolute_expires_at = now() - interval '1 second'"
    )

    assert (await client.get("/api/v1/session")).status_code == 401


async def test_the_idle_expiry_never_slides_past_the_absolute_one(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    await a_signed_in_agent(client, conn)
    await conn.execute(
        "UPDATE cc_agent_sessions SET last_seen_at = now() - interval '2 minutes',"
        " absolute_expires_at = now() + interval '5 minutes'"
    )

    body = (await client.get("/api/v1/session")).json()

    assert body["idle_expires_at"] == body["absolute_expires_at"]


async def test_sign_out_ends_the_session_at_once(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    headers = await a_signed_in_agent(client, conn)
    token = _cookie(client)

    out = await client.delete("/api/v1/session", headers=headers)

    assert out.status_code == 204
    use(client, token)
    assert (await client.get("/api/v1/session")).status_code == 401
    cursor = await conn.execute("SELECT revoked_reason FROM cc_agent_sessions")
    assert (await cursor.fetchone()) == ("signed_out",)
    cursor = await conn.execute(
        "SELECT count(*) FROM cc_audit_logs WHERE event_type = 'agent.signed_out'"
    )
    assert (await cursor.fetchone()) == (1,)


async def test_an_admin_revokes_every_session_of_an_agent_at_once(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    # Ada signs in from two browsers.
    ada_headers = await a_signed_in_agent(client, conn)
    ada_id = (await client.get("/api/v1/session")).json()["agent_id"]
    first_browser = _cookie(client)
    use(client, None)
    assert (await sign_in(client, Enrolled("ada@bank.example", PASSWORD, None))).status_code == 200
    second_browser = _cookie(client)
    # An agent may not revoke; an administrator may.
    use(client, first_browser)
    forbidden = await client.post(f"/api/v1/agents/{ada_id}/sessions/revoke", headers=ada_headers)
    assert forbidden.status_code == 403
    assert forbidden.json()["error"] == "forbidden"
    use(client, None)
    root = "root@bank.example"
    admin = await enrol(client, await add(conn, root, role="admin"), root)
    admin_headers = await signed_in(client, admin)
    admin_id = (await client.get("/api/v1/session")).json()["agent_id"]

    revoked = await client.post(f"/api/v1/agents/{ada_id}/sessions/revoke", headers=admin_headers)

    assert revoked.status_code == 200
    assert revoked.json() == {"sessions_revoked": 2}
    assert (await client.get("/api/v1/session")).status_code == 200  # the admin's own
    for browser in (first_browser, second_browser):
        use(client, browser)
        assert (await client.get("/api/v1/session")).status_code == 401
    cursor = await conn.execute(
        "SELECT actor_type, actor_id, input_redacted->>'agent_id' FROM cc_audit_logs"
        " WHERE event_type = 'agent.sessions_revoked'"
    )
    assert (await cursor.fetchall()) == [("admin", admin_id, ada_id)]


def _cookie(client: httpx.AsyncClient) -> str:
    token = client.cookies.get(COOKIE)
    assert token
    return token


def use(client: httpx.AsyncClient, token: str | None) -> None:
    """Make the client a browser holding this session's cookie (None: no cookie)."""
    client.cookies.clear()
    if token is not None:
        client.cookies.set(COOKIE, token, domain="switchboard.bank.example", path="/")


async def test_an_unsafe_request_without_the_csrf_proofs_is_403(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    headers = await a_signed_in_agent(client, conn)
    token_only = {"X-CSRF-Token": headers["X-CSRF-Token"]}

    no_token = await client.delete("/api/v1/session", headers=SAME_ORIGIN)
    wrong_token = await client.delete(
        "/api/v1/session", headers={**SAME_ORIGIN, "X-CSRF-Token": "0" * 64}
    )
    cross_site = await client.delete(
        "/api/v1/session", headers={**token_only, "Sec-Fetch-Site": "cross-site"}
    )
    cross_site_claiming_our_origin = await client.delete(
        "/api/v1/session",
        headers={**token_only, "Sec-Fetch-Site": "cross-site", "Origin": PUBLIC_URL},
    )
    other_origin = await client.delete(
        "/api/v1/session", headers={**token_only, "Origin": "https://evil.example"}
    )
    no_origin = await client.delete("/api/v1/session", headers=token_only)

    for refused in (
        no_token,
        wrong_token,
        cross_site,
        cross_site_claiming_our_origin,
        other_origin,
        no_origin,
    ):
        assert refused.status_code == 403
        assert refused.json()["error"] == "csrf_failed"
    assert (await client.get("/api/v1/session")).status_code == 200  # still signed in
    # Our own origin (a browser without fetch metadata) with the token passes.
    ours = await client.delete("/api/v1/session", headers={**token_only, "Origin": PUBLIC_URL})
    assert ours.status_code == 204


async def test_sign_in_from_another_site_is_refused_before_the_password_is_checked(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    who = await enrol(client, await add(conn, "ada@bank.example"), "ada@bank.example")

    answer = await client.post(
        "/api/v1/session",
        json={"email": who.email, "password": who.password},
        headers={"Sec-Fetch-Site": "cross-site"},
    )

    assert answer.status_code == 403
    assert answer.json()["error"] == "csrf_failed"
    cursor = await conn.execute("SELECT count(*) FROM cc_agent_sessions")
    assert (await cursor.fetchone()) == (0,)


async def test_disabling_from_the_cli_actor_is_audited_as_the_system(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    await a_signed_in_agent(client, conn)

    await agents.disable_agent(conn, CLI_ACTOR, "ADA@bank.example")

    cursor = await conn.execute(
        "SELECT actor_type, actor_id, output_redacted->>'sessions_revoked' FROM cc_audit_logs"
        " WHERE event_type = 'agent.disabled'"
    )
    assert (await cursor.fetchall()) == [("system", "cli", "1")]


async def test_a_session_does_not_open_for_a_disabled_agent_even_if_it_was_not_revoked(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    await a_signed_in_agent(client, conn)
    # Disabled by hand (a DBA), without ending the sessions as `agents disable` does.
    await conn.execute("UPDATE cc_agents SET status = 'disabled'")

    assert (await client.get("/api/v1/session")).status_code == 401


def _later(minutes: float) -> str:
    """SQL moving the session's times back, as if `minutes` had passed."""
    shift = f"interval '{minutes * 60} seconds'"
    return (
        f"UPDATE cc_agent_sessions SET created_at = created_at - {shift},"
        f" last_seen_at = last_seen_at - {shift}, idle_expires_at = idle_expires_at - {shift},"
        f" absolute_expires_at = absolute_expires_at - {shift}"
    )


async def test_a_session_awaiting_its_code_ends_after_5_minutes(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    who = await enrol(client, await add(conn, "ada@bank.example"), "ada@bank.example")
    assert who.totp is not None
    first = await sign_in(client, who)
    assert first.json()["stage"] == "password"
    cursor = await conn.execute(
        "SELECT idle_expires_at - created_at, absolute_expires_at - created_at"
        " FROM cc_agent_sessions"
    )
    assert [str(d) for d in (await cursor.fetchone() or ())] == ["0:05:00", "0:05:00"]
    assert (await client.get("/api/v1/session")).status_code == 200  # sliding: still 5 min
    await conn.execute(_later(5.01))

    late = await client.post(
        "/api/v1/session/totp",
        json={"code": who.totp.now()},
        headers={**SAME_ORIGIN, "X-CSRF-Token": first.json()["csrf_token"]},
    )

    assert (late.status_code, late.json()["error"]) == (401, "not_signed_in")


async def test_a_code_in_time_gives_the_session_its_full_lifetimes(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    who = await enrol(client, await add(conn, "ada@bank.example"), "ada@bank.example")
    assert who.totp is not None
    first = await sign_in(client, who)
    await conn.execute(_later(4))

    second = await client.post(
        "/api/v1/session/totp",
        json={"code": who.totp.now()},
        headers={**SAME_ORIGIN, "X-CSRF-Token": first.json()["csrf_token"]},
    )

    assert second.json()["stage"] == "signed_in", second.text
    cursor = await conn.execute(
        "SELECT absolute_expires_at - created_at,"
        " idle_expires_at > now() + interval '29 minutes' FROM cc_agent_sessions"
    )
    assert [str(v) for v in (await cursor.fetchone() or ())] == ["12:00:00", "True"]
