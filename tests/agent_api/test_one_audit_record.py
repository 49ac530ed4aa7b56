"""Every agent action through the API is one transaction with one audit record, actor_type
agent, that carries what the action's later steps did (the SLA clocks a reply met, the clocks a
case's move paused or resolved, a dispute's regulatory clocks)."""

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


def _agent_records(url: str) -> list[tuple[str, Any]]:
    return execute(
        url,
        "SELECT event_type, output_redacted FROM cc_audit_logs WHERE actor_type = 'agent'"
        " ORDER BY created_at, id",
    )


async def test_each_agent_action_writes_one_record(
    api: httpx.AsyncClient, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    conversation, _ = add_conversation(migrated_db, None)
    await assignments.enqueue_inbound(
        conn, Actor(ActorType.SYSTEM, "test"), conversation_id=conversation
    )
    await assignments.sweep(conn)  # the item's SLA clocks start
    email = "sam@bank.example"
    enrolled = await enrol(
        api, await add(conn, email, role="supervisor", queues=("general",)), email
    )
    headers = await signed_in(api, enrolled)
    done: list[tuple[str, str]] = []

    async def act(method: str, path: str, body: Any = None) -> Any:
        before = len(_agent_records(migrated_db))
        answer = await api.request(method, path, json=body, headers=headers)
        assert answer.status_code < 300, f"{method} {path}: {answer.text}"
        records = _agent_records(migrated_db)[before:]
        done.append((f"{method} {path}", ", ".join(event for event, _ in records)))
        return answer.json() if answer.content else None

    await act("PUT", "/api/v1/presence", {"presence": "available"})
    item = await act("POST", "/api/v1/work/next")
    timeline = await act("GET", f"/api/v1/conversations/{conversation}")
    newest = next(e["id"] for e in timeline["entries"] if e["kind"] == "message")
    await act(
        "POST",
        f"/api/v1/conversations/{conversation}/replies",
        {"text": "We are on it.", "last_seen_message_id": newest},
    )
    await act("POST", f"/api/v1/conversations/{conversation}/notes", {"body": "VIP"})
    case = await act(
        "POST",
        f"/api/v1/conversations/{conversation}/cases",
        {"case_type": "disputes", "summary": "Charge not recognised"},
    )
    for status in ("triage", "in_progress", "waiting_customer", "resolved"):
        await act("POST", f"/api/v1/cases/{case['id']}/moves", {"to": status})
    await act("POST", f"/api/v1/cases/{case['id']}/notes", {"body": "Refund promised"})
    await act(
        "POST",
        f"/api/v1/conversations/{conversation}/customer/reveal",
        {"reason": "the caller asks to confirm the number on file"},
    )
    await act(
        "PATCH",
        f"/api/v1/conversations/{conversation}/customer/preferences",
        {"reason": "the customer asked on the phone", "timezone": "Europe/London"},
    )
    await act(
        "POST",
        f"/api/v1/assignments/{item['id']}/transfer",
        {"queue": "cards", "reason": "a card question after all"},
    )

    read = f"GET /api/v1/conversations/{conversation}"
    assert [(action, events) for action, events in done if "," in events] == []
    assert [action for action, events in done if not events] == [read]
    records = dict(_agent_records(migrated_db))
    [replied] = records["message.queued"]["also"]
    assert replied["event_type"] == "sla.replied"
    assert [c["metric"] for c in replied["clocks"]] == ["first_response"]
    [started] = records["case.opened"]["also"]
    assert {c["metric"] for c in started["clocks"]} == {"reg_e_investigation", "reg_e_resolution"}
