"""An agent works a conversation through the JSON API, from sign-in to done, as the console
will: over HTTP, with the session cookie and the CSRF token."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from psycopg import AsyncConnection

from switchboard.assignments import service as assignments
from switchboard.audit.models import Actor, ActorType
from tests.agent_sessions.console import add, agent_settings, enrol, running, signed_in
from tests.builders import execute
from tests.row_security.floor import add_conversation

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api(migrated_db: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    settings = agent_settings(tmp_path, OUTBOUND_PROVIDER="sandbox", TWILIO_FROM_NUMBER="+15550002")
    async for client in running(settings, migrated_db):
        yield client


async def _agent(
    api: httpx.AsyncClient, conn: AsyncConnection[Any], email: str, queue: str
) -> dict[str, str]:
    enrolled = await enrol(api, await add(conn, email, queues=(queue,)), email)
    return await signed_in(api, enrolled)


async def test_from_the_queue_to_done(
    api: httpx.AsyncClient, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    conversation, _ = add_conversation(migrated_db, None)
    await assignments.enqueue_inbound(
        conn, Actor(ActorType.SYSTEM, "test"), conversation_id=conversation
    )
    headers = await _agent(api, conn, "ana@bank.example", "general")

    assert (
        await api.put("/api/v1/presence", json={"presence": "available"}, headers=headers)
    ).status_code == 200
    taken = await api.post("/api/v1/work/next", headers=headers)
    assert taken.status_code == 200, taken.text
    item = taken.json()
    assert (item["conversation_id"], item["state"]) == (str(conversation), "active")
    assert (await api.post("/api/v1/work/next", headers=headers)).status_code == 204
    work = (await api.get("/api/v1/work")).json()
    assert [w["id"] for w in work["work"]] == [item["id"]]

    timeline = await api.get(f"/api/v1/conversations/{conversation}")
    assert timeline.status_code == 200, timeline.text
    assert timeline.headers["cache-control"] == "no-store"
    newest = next(e["id"] for e in timeline.json()["entries"] if e["kind"] == "message")
    replied = await api.post(
        f"/api/v1/conversations/{conversation}/replies",
        json={"text": "We are on it.", "last_seen_message_id": newest},
        headers=headers,
    )
    assert replied.status_code == 202, replied.text
    stale = await api.post(
        f"/api/v1/conversations/{conversation}/replies",
        json={"text": "Again", "last_seen_message_id": newest},
        headers=headers,
    )
    assert (stale.status_code, stale.json()["error"]) == (409, "reply_stale")
    noted = await api.post(
        f"/api/v1/conversations/{conversation}/notes", json={"body": "VIP"}, headers=headers
    )
    assert noted.status_code == 201
    case = await api.post(
        f"/api/v1/conversations/{conversation}/cases",
        json={"case_type": "cards", "summary": "Lost card"},
        headers=headers,
    )
    assert case.status_code == 201, case.text
    case_id = case.json()["id"]
    moved = await api.post(f"/api/v1/cases/{case_id}/moves", json={"to": "triage"}, headers=headers)
    assert moved.json()["status"] == "triage"
    illegal = await api.post(f"/api/v1/cases/{case_id}/moves", json={"to": "new"}, headers=headers)
    assert (illegal.status_code, illegal.json()["error"]) == (409, "illegal_case_transition")
    for move in ("wrap-up", "done"):
        moved_item = await api.post(
            f"/api/v1/assignments/{item['id']}/{move}", json={}, headers=headers
        )
        assert moved_item.status_code == 200, moved_item.text
    assert moved_item.json()["state"] == "done"
    kinds = [
        e["kind"]
        for e in (await api.get(f"/api/v1/conversations/{conversation}")).json()["entries"]
    ]
    assert "note" in kinds
    assert kinds.count("message") == 4  # three from the customer and the reply
    assert execute(
        migrated_db, "SELECT count(*) FROM cc_messages WHERE direction = 'outbound'"
    ) == [(1,)]


async def test_another_queues_conversation_is_404_and_nothing_is_done(
    api: httpx.AsyncClient, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    fraud, fraud_case = add_conversation(migrated_db, "fraud")
    headers = await _agent(api, conn, "bo@bank.example", "cards")
    audit_rows = execute(migrated_db, "SELECT count(*) FROM cc_audit_logs")

    for answer in (
        await api.get(f"/api/v1/conversations/{fraud}"),
        await api.get(f"/api/v1/conversations/{fraud}/customer"),
        await api.post(f"/api/v1/conversations/{fraud}/notes", json={"body": "x"}, headers=headers),
        await api.post(
            f"/api/v1/conversations/{fraud}/replies",
            json={"text": "x", "last_seen_message_id": None},
            headers=headers,
        ),
        await api.post(f"/api/v1/cases/{fraud_case}/moves", json={"to": "triage"}, headers=headers),
    ):
        assert answer.status_code == 404, answer.text
    assert execute(migrated_db, "SELECT count(*) FROM cc_audit_logs") == audit_rows


async def test_nothing_without_a_session_or_the_csrf_token(
    api: httpx.AsyncClient, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    conversation, _ = add_conversation(migrated_db, "general")
    assert (await api.get(f"/api/v1/conversations/{conversation}")).status_code == 401
    headers = await _agent(api, conn, "cy@bank.example", "general")

    without_token = await api.post(
        f"/api/v1/conversations/{conversation}/notes",
        json={"body": "x"},
        headers={"Sec-Fetch-Site": "same-origin"},
    )
    cross_site = await api.post(
        f"/api/v1/conversations/{conversation}/notes",
        json={"body": "x"},
        headers={**headers, "Sec-Fetch-Site": "cross-site"},
    )

    assert (without_token.status_code, cross_site.status_code) == (403, 403)
    assert execute(migrated_db, "SELECT count(*) FROM cc_conversation_notes") == [(0,)]
