"""What cc_live and the streams carry: ids and states, never a body, an address or a name;
and each kind of change reaching who may see it (presence: the agent and their supervisors)."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from uuid import UUID

import pytest
from psycopg import AsyncConnection

from tests.builders import execute
from tests.live.console import Live, conversation, events, session
from tests.live.console import agent as new_agent

pytestmark = pytest.mark.anyio

# The words a payload may hold besides ids: kinds, queues, states, clock events, presences.
WORDS = {
    "assignment", "message", "sla", "case", "note", "presence", "session", "verification",
    "fraud", "cards", "queued", "offered", "active", "wrap_up", "done", "cancelled",
    "started", "breached", "available", "away", "offline",
}  # fmt: skip


def leaves(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [leaf for item in value.values() for leaf in leaves(item)]
    if isinstance(value, list):
        return [leaf for item in value for leaf in leaves(item)]
    return [value]


def only_ids_and_states(value: Any) -> bool:
    for leaf in leaves(value):
        if leaf is None or leaf in WORDS:
            continue
        try:
            UUID(str(leaf))
        except ValueError:
            return False
    return True


async def test_notifications_and_events_hold_ids_and_states_only(
    live: Live, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    ana = await new_agent(live, conn, "ana@bank.example", queues=("fraud",))
    sue = await new_agent(
        live, conn, "sue@bank.example", role="supervisor", queues=("fraud",), totp=True
    )
    async with await AsyncConnection.connect(migrated_db, autocommit=True) as listening:
        await listening.execute("LISTEN cc_live")
        async with (
            session(live, ana) as ana_signed,
            session(live, sue) as sue_signed,
            events(live, sue_signed) as sue_stream,
        ):
            fraud, _ = conversation(live, "fraud")  # a customer, texts, a case, a queued item
            noted = await ana_signed.api.post(
                f"/api/v1/conversations/{fraud}/notes",
                json={"body": "sounded worried about card 4111"},
                headers=ana_signed.headers,
            )
            assert noted.status_code in (200, 201), noted.text
            available = await ana_signed.api.put(
                "/api/v1/presence", json={"presence": "available"}, headers=ana_signed.headers
            )
            assert available.status_code == 200, available.text
            _breach(live, fraud)
            execute(live.db, "UPDATE cc_messages SET status = 'delivered'")
            signed_out = await ana_signed.api.delete("/api/v1/session", headers=ana_signed.headers)
            assert signed_out.status_code == 204
            ana_id = _agent_id(live, "ana@bank.example")
            await sue_stream.until("presence", agent_id=ana_id, presence="available")
            await sue_stream.until("sla", event="breached")
            await sue_stream.until("message", conversation_id=str(fraud))
        payloads = []
        async with asyncio.timeout(5):
            async for notify in listening.notifies():
                payloads.append(notify.payload)
                if json.loads(notify.payload)["kind"] == "session":
                    break
    kinds = {json.loads(p)["kind"] for p in payloads}
    assert kinds == {
        "assignment", "message", "sla", "case", "note", "presence", "session", "verification"
    }  # fmt: skip
    secrets = ["text 0", "worried", "4111", "Zoë", "+1555", "ana@", "sue@", "bank.example"]
    for payload in payloads:
        assert only_ids_and_states(json.loads(payload)), payload
        assert not any(secret in payload for secret in secrets), payload
    for name, data in sue_stream.seen:
        assert only_ids_and_states(data), (name, data)
    raw = "\n".join(sue_stream.raw)
    assert not any(secret in raw for secret in secrets)


async def test_presence_reaches_the_agent_and_their_queues_supervisors_only(
    live: Live, conn: AsyncConnection[Any]
) -> None:
    ana = await new_agent(live, conn, "ana@bank.example", queues=("fraud",))
    bo = await new_agent(live, conn, "bo@bank.example", queues=("fraud",))
    cy = await new_agent(
        live, conn, "cy@bank.example", role="supervisor", queues=("cards",), totp=True
    )
    async with (
        session(live, ana) as ana_signed,
        session(live, bo) as bo_signed,
        session(live, cy) as cy_signed,
        events(live, ana_signed) as ana_stream,
        events(live, bo_signed) as bo_stream,
        events(live, cy_signed) as cy_stream,
    ):
        ana_id, bo_id = _agent_id(live, "ana@bank.example"), _agent_id(live, "bo@bank.example")
        away = await ana_signed.api.put(
            "/api/v1/presence", json={"presence": "away"}, headers=ana_signed.headers
        )
        assert away.status_code == 200
        back = await ana_signed.api.put(
            "/api/v1/presence", json={"presence": "available"}, headers=ana_signed.headers
        )
        assert back.status_code == 200
        await ana_stream.until("presence", agent_id=ana_id, presence="away")
        await ana_stream.until("presence", agent_id=ana_id, presence="available")
        # Then Bo's own, and Cy's own: each arrives after Ana's would have.
        for signed in (bo_signed, cy_signed):
            mine = await signed.api.put(
                "/api/v1/presence", json={"presence": "away"}, headers=signed.headers
            )
            assert mine.status_code == 200
        await bo_stream.until("presence", agent_id=bo_id)
        await cy_stream.until("presence", agent_id=_agent_id(live, "cy@bank.example"))
    assert [data["agent_id"] for _, data in bo_stream.seen] == [bo_id]
    assert [data["agent_id"] for _, data in cy_stream.seen] == [_agent_id(live, "cy@bank.example")]


def _agent_id(live: Live, email: str) -> str:
    [(agent_id,)] = execute(live.db, "SELECT id FROM cc_agents WHERE email = %s", (email,))
    return str(agent_id)


def _breach(live: Live, conversation_id: UUID) -> None:
    [(clock,)] = execute(
        live.db,
        "INSERT INTO cc_sla_clocks (conversation_id, metric, unit, target, calendar_name,"
        " queue_name, state, started_at, breached_at)"
        " VALUES (%s, 'first_response', 'business_time', interval '5 minutes',"
        " 'round_the_clock', 'fraud', 'breached', now(), now()) RETURNING id",
        (conversation_id,),
    )
    execute(
        live.db,
        "INSERT INTO cc_sla_clock_events (clock_id, event, at, business_used, actor_type,"
        " actor_id) VALUES (%s, 'breached', now(), interval '5 minutes', 'system', 'sweep')",
        (clock,),
    )
