"""The console's pages over HTTP: what an agent's browser is sent, signed in or not, for their
own work and for another queue's conversation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from psycopg import AsyncConnection

from switchboard.agents import service as agents
from switchboard.agents.models import CLI_ACTOR
from switchboard.assignments import service as assignments
from switchboard.audit.models import Actor, ActorType
from switchboard.errors import InvalidInput
from tests.agent_sessions.console import add, agent_settings, enrol, running, signed_in
from tests.builders import execute
from tests.row_security.floor import add_conversation

pytestmark = pytest.mark.anyio


@pytest.fixture
async def console(migrated_db: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = agent_settings(tmp_path, OUTBOUND_PROVIDER="sandbox", TWILIO_FROM_NUMBER="+15550002")
    async for client in running(settings, migrated_db):
        yield client


async def _signed_in(
    client: httpx.AsyncClient, conn: AsyncConnection[Any], email: str, queue: str
) -> dict[str, str]:
    enrolled = await enrol(client, await add(conn, email, queues=(queue,)), email)
    return await signed_in(client, enrolled)


async def test_a_page_without_a_session_sends_the_browser_to_sign_in(
    console: httpx.AsyncClient,
) -> None:
    page = await console.get("/console/work")
    assert page.status_code == 303
    assert page.headers["location"] == "/console/sign-in?then=/console/work"
    fragment = await console.get("/console/work/lists", headers={"HX-Request": "true"})
    assert (fragment.status_code, fragment.headers["hx-redirect"]) == (204, "/console/sign-in")
    sign_in = await console.get("/console/sign-in?then=https://elsewhere.example/")
    assert sign_in.status_code == 200
    assert 'data-next="/console/work"' in sign_in.text  # never back to another site
    searching = await console.get("/console/sign-in?then=/console/search?phone=%2B447700900123")
    assert 'data-next="/console/search"' in searching.text  # the page, not a search
    assert sign_in.headers["cache-control"] == "no-store"
    policy = sign_in.headers["content-security-policy"]
    assert "script-src 'self';" in policy
    assert "frame-ancestors 'none'" in policy


async def test_an_agent_works_a_conversation_from_the_pages(
    console: httpx.AsyncClient, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    conversation, case = add_conversation(migrated_db, None)
    await assignments.enqueue_inbound(
        conn, Actor(ActorType.SYSTEM, "test"), conversation_id=conversation
    )
    await assignments.sweep(conn)  # starts the new item's clocks, as the worker does
    headers = await _signed_in(console, conn, "ana@bank.example", "general")
    work = await console.get("/console/work")
    assert work.status_code == 200, work.text
    assert work.headers["cache-control"] == "no-store"
    assert 'name="csrf-token" content="' + headers["X-CSRF-Token"] + '"' in work.text
    assert "Nothing in hand." in work.text

    available = {"presence": "available"}
    assert (await console.put("/api/v1/presence", json=available, headers=headers)).is_success
    assert (await console.post("/api/v1/work/next", headers=headers)).status_code == 200
    lists = await console.get("/console/work/lists", headers={"HX-Request": "true"})
    assert f'href="/console/conversations/{conversation}"' in lists.text
    assert "first response in" in lists.text or "first response due" in lists.text

    page = await console.get(f"/console/conversations/{conversation}")
    assert page.status_code == 200, page.text
    assert "Wrap up" in page.text
    assert 'name="last_seen_message_id"' in page.text
    customer = await console.get(f"/console/conversations/{conversation}/customer")
    assert customer.status_code == 200, customer.text
    assert "+1555" not in customer.text  # masked
    assert f'id="case-{case}"' in customer.text
    check = await console.get(f"/console/conversations/{conversation}/reply-check")
    assert check.status_code == 200
    assert "notice" in check.text


async def test_another_queues_conversation_page_is_not_found(
    console: httpx.AsyncClient, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    conversation, _ = add_conversation(migrated_db, None)
    await assignments.enqueue_handoff(
        conn, Actor(ActorType.SYSTEM, "test"), queue="fraud", reason="card stolen",
        conversation_id=conversation,
    )  # fmt: skip
    await _signed_in(console, conn, "bo@bank.example", "cards")
    for path in ("", "/timeline", "/customer", "/reply-check"):
        answer = await console.get(f"/console/conversations/{conversation}{path}")
        assert answer.status_code == 404, (path, answer.text)
        assert "+1555" not in answer.text
    [(rows,)] = execute(
        migrated_db,
        "SELECT count(*) FROM cc_audit_logs"
        " WHERE actor_type = 'agent' AND event_type LIKE 'case%%'",
    )
    assert rows == 0


async def test_enrolment_draws_the_authenticator_qr_code_on_the_server(
    console: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    secret = await add(conn, "new@bank.example", queues=("general",))
    page = await console.get("/console/enrol")
    assert "data-from-fragment" in page.text
    drawn = await console.post(
        "/console/enrol",
        data={"secret": secret, "password": "correct horse battery staple"},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert drawn.status_code == 200, drawn.text
    assert "<svg" in drawn.text
    assert "otpauth" not in drawn.text.split("<svg", 1)[0]
    again = await console.post(
        "/console/enrol",
        data={"secret": secret, "password": "correct horse battery staple"},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    assert again.status_code == 401
    assert "<svg" not in again.text
    cross_site = await console.post(
        "/console/enrol",
        data={"secret": secret, "password": "x" * 20},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert cross_site.status_code == 403


async def test_a_supervisor_sees_their_queues_and_an_agent_is_refused(
    console: httpx.AsyncClient, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    conversation, _ = add_conversation(migrated_db, None)
    await assignments.enqueue_handoff(
        conn, Actor(ActorType.SYSTEM, "test"), queue="cards", reason="card swallowed",
        conversation_id=conversation,
    )  # fmt: skip
    enrolled = await enrol(console, await add(conn, "sue@bank.example", role="supervisor",
                                              queues=("cards",)), "sue@bank.example")  # fmt: skip
    await signed_in(console, enrolled)
    page = await console.get("/console/queues")
    assert page.status_code == 200, page.text
    assert 'id="queue-cards"' in page.text
    assert 'id="queue-fraud"' not in page.text  # not hers
    items = await console.get("/console/queues/cards/items")
    assert f'href="/console/conversations/{conversation}"' in items.text
    assert "Take over" in items.text
    assert (await console.get("/console/queues/fraud/items")).status_code == 404

    console.cookies.clear()
    await _signed_in(console, conn, "bo@bank.example", "cards")
    refused = await console.get("/console/queues")
    assert refused.status_code == 403
    assert 'href="/console/queues"' not in refused.text  # not offered in the menu either


async def test_search_looks_nothing_up_until_a_key_is_given(
    console: httpx.AsyncClient, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    await _signed_in(console, conn, "bo@bank.example", "cards")
    empty = await console.get("/console/search")
    assert empty.status_code == 200
    searched = "SELECT count(*) FROM cc_audit_logs WHERE event_type = 'customer.searched'"
    assert execute(migrated_db, searched) == [(0,)]
    fragment = await console.get("/console/search", params={"phone": "+1555*"})
    assert fragment.status_code == 422
    assert "Nothing you may see matches" not in fragment.text
    whole = await console.get("/console/search", params={"email": "nobody@example.com"})
    assert whole.status_code == 200, whole.text
    assert "Nothing you may see matches" in whole.text
    assert execute(migrated_db, searched) == [(1,)]  # the one whole key, and only it


async def test_every_page_shows_the_agents_own_presence(
    console: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    # The header's select is the agent's only sight of their presence: an option left
    # unselected shows the first one, "available", to an agent who receives nothing.
    enrolled = await enrol(console, await add(conn, "sue@bank.example", role="supervisor",
                                              queues=("cards",)), "sue@bank.example")  # fmt: skip
    headers = await signed_in(console, enrolled)
    pages = ("/console/work", "/console/queues", "/console/search")
    for presence in ("offline", "away"):
        if presence != "offline":  # an agent starts offline
            put = await console.put(
                "/api/v1/presence", json={"presence": presence}, headers=headers
            )
            assert put.is_success, put.text
        for path in pages:
            page = await console.get(path)
            assert page.status_code == 200, page.text
            assert f'<option value="{presence}" selected>' in page.text, path


async def test_the_headers_presence_is_read_again_and_says_why_nothing_is_offered(
    console: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    headers = await _signed_in(console, conn, "bo@bank.example", "cards")
    assert (
        await console.put("/api/v1/presence", json={"presence": "away"}, headers=headers)
    ).is_success
    fragment = await console.get("/console/presence", headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert '<option value="away" selected>' in fragment.text
    assert "offered nothing until you are available" in fragment.text


async def test_an_agent_is_added_with_the_time_zone_the_console_shows(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    with pytest.raises(InvalidInput, match="not an IANA time zone"):
        await agents.add_agent(conn, CLI_ACTOR, email="x@bank.example", display_name="X",
                               role="agent", time_zone="Mars/Olympus")  # fmt: skip
    with pytest.raises(InvalidInput, match="not an IANA time zone"):
        await agents.add_agent(conn, CLI_ACTOR, email="x@bank.example", display_name="X",
                               role="agent", time_zone="Europe")  # fmt: skip
    await agents.add_agent(conn, CLI_ACTOR, email="y@bank.example", display_name="Y",
                           role="agent", time_zone="Europe/London")  # fmt: skip
    assert execute(migrated_db, "SELECT email, time_zone FROM cc_agents") == [
        ("y@bank.example", "Europe/London")
    ]
