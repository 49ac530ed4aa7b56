"""021: PostgreSQL, not the Python, decides what an agent's transaction reads.

Every read here is a raw SELECT in an agent's transaction (row_security.act_as_agent), as the
service's own role connects (SWITCHBOARD_TEST_ROLE in the least-privileged run).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from switchboard.row_security import AgentClaims, act_as_agent, read_conversation
from tests.builders import execute
from tests.conftest import service_url

pytestmark = pytest.mark.anyio


@dataclass(frozen=True)
class Floor:
    """Agents of two queues, a supervisor, an admin, a disabled agent; a conversation (with a
    case, messages, a tool call and an audit row) in each queue, and one in none."""

    ana: AgentClaims  # agent, fraud
    bo: AgentClaims  # agent, cards; the cards conversation is assigned to him
    sue: AgentClaims  # supervisor, fraud
    root: AgentClaims  # admin, no queue
    gone: AgentClaims  # agent, fraud, disabled
    fraud: UUID
    cards: UUID
    nowhere: UUID
    fraud_case: UUID
    cards_case: UUID


def _agent(
    url: str, email: str, role: str, queues: list[str], status: str = "active"
) -> AgentClaims:
    [(agent_id,)] = execute(
        url,
        "INSERT INTO cc_agents (email, display_name, role, status) VALUES (%s, %s, %s, %s)"
        " RETURNING id",
        (email, email.partition("@")[0], role, status),
    )
    for queue in queues:
        execute(
            url,
            "INSERT INTO cc_agent_queues (agent_id, queue_name) VALUES (%s, %s)",
            (agent_id, queue),
        )
    return AgentClaims(agent_id, role, tuple(queues))


def _conversation(
    url: str, queue: str | None, assigned_to: UUID | None = None
) -> tuple[UUID, UUID]:
    [(customer,)] = execute(
        url,
        "INSERT INTO cc_bank_customers (customer_ref, full_name, phone) VALUES (%s, 'Zoë', %s)"
        " RETURNING id",
        (f"C-{uuid.uuid4().hex[:8]}", f"+1555{uuid.uuid4().int % 10**7:07d}"),
    )
    [(conversation,)] = execute(
        url,
        "INSERT INTO cc_conversations (bank_customer_id, channel, provider)"
        " VALUES (%s, 'sms', 'twilio') RETURNING id",
        (customer,),
    )
    for n in range(3):
        execute(
            url,
            "INSERT INTO cc_messages (conversation_id, direction, provider, provider_message_id,"
            " from_address, to_address, body_text)"
            " VALUES (%s, 'inbound', 'twilio', %s, '+15550001', '+15550002', %s)",
            (conversation, f"SM{uuid.uuid4().hex}", f"text {n}"),
        )
    execute(
        url,
        "INSERT INTO cc_tool_calls (call_id, tool_call_id, tool_name, conversation_id, answer)"
        " VALUES (%s, %s, 'identify_caller', %s, '{}')",
        (f"call-{uuid.uuid4().hex}", f"tc-{uuid.uuid4().hex}", conversation),
    )
    execute(
        url,
        "INSERT INTO cc_audit_logs (conversation_id, actor_type, actor_id, event_type, success)"
        " VALUES (%s, 'system', 'test', 'test.event', true)",
        (conversation,),
    )
    execute(url, "INSERT INTO cc_comm_preferences (bank_customer_id) VALUES (%s)", (customer,))
    execute(
        url,
        "INSERT INTO cc_identity_links (bank_customer_id, channel, address)"
        " VALUES (%s, 'phone', %s)",
        (customer, f"+1555{uuid.uuid4().int % 10**7:07d}"),
    )
    [(case,)] = execute(
        url,
        "INSERT INTO cc_cases (bank_customer_id, conversation_id, case_type, status)"
        " VALUES (%s, %s, 'cards', 'new') RETURNING id",
        (customer, conversation),
    )
    execute(
        url,
        "INSERT INTO cc_case_notes (case_id, author_type, author_id, body)"
        " VALUES (%s, 'system', 't', 'n')",
        (case,),
    )
    if queue is not None:
        execute(
            url,
            "INSERT INTO cc_assignments (conversation_id, queue_name, assigned_to, reason)"
            " VALUES (%s, %s, %s, 'test')",
            (conversation, queue, None if assigned_to is None else str(assigned_to)),
        )
    return conversation, case


@pytest.fixture
def floor(migrated_db: str) -> Floor:
    url = migrated_db
    ana = _agent(url, "ana@bank.example", "agent", ["fraud"])
    bo = _agent(url, "bo@bank.example", "agent", ["cards"])
    sue = _agent(url, "sue@bank.example", "supervisor", ["fraud"])
    root = _agent(url, "root@bank.example", "admin", [])
    gone = _agent(url, "gone@bank.example", "agent", ["fraud"], status="disabled")
    fraud, fraud_case = _conversation(url, "fraud")
    cards, cards_case = _conversation(url, "cards", assigned_to=bo.agent_id)
    nowhere, _ = _conversation(url, None)
    return Floor(ana, bo, sue, root, gone, fraud, cards, nowhere, fraud_case, cards_case)


async def _read(
    conn: AsyncConnection[Any], claims: AgentClaims, sql: str, focus: UUID | None = None
) -> list[tuple[Any, ...]]:
    async with conn.transaction():
        await act_as_agent(conn, claims)
        if focus is not None:
            await read_conversation(conn, focus)
        cursor = await conn.execute(sql)  # type: ignore[arg-type]
        return await cursor.fetchall()


async def _ids(conn: AsyncConnection[Any], claims: AgentClaims, table: str) -> set[UUID]:
    column = "conversation_id" if table == "cc_assignments" else "id"
    return {row[0] for row in await _read(conn, claims, f"SELECT {column} FROM {table}")}


async def test_an_agent_sees_the_conversations_of_their_queues_and_those_assigned_to_them(
    conn: AsyncConnection[Any], floor: Floor
) -> None:
    assert await _ids(conn, floor.ana, "cc_conversations") == {floor.fraud}
    assert await _ids(conn, floor.bo, "cc_conversations") == {floor.cards}
    assert await _ids(conn, floor.sue, "cc_conversations") == {floor.fraud}
    assert await _ids(conn, floor.root, "cc_conversations") == {
        floor.fraud,
        floor.cards,
        floor.nowhere,
    }
    assert await _ids(conn, floor.ana, "cc_assignments") == {floor.fraud}
    assert await _ids(conn, floor.ana, "cc_cases") == {floor.fraud_case}
    assert await _ids(conn, floor.bo, "cc_cases") == {floor.cards_case}
    notes = await _read(conn, floor.ana, "SELECT case_id FROM cc_case_notes")
    assert notes == [(floor.fraud_case,)]


async def test_a_disabled_agent_or_a_stranger_sees_nothing(
    conn: AsyncConnection[Any], floor: Floor
) -> None:
    stranger = AgentClaims(uuid.uuid4(), "admin", ("fraud",))  # claims are not believed
    for nobody in (floor.gone, stranger):
        for table in ("cc_conversations", "cc_assignments", "cc_cases", "cc_audit_logs"):
            assert await _ids(conn, nobody, table) == set(), table
        assert await _read(conn, nobody, "SELECT id FROM cc_messages", focus=floor.fraud) == []


async def test_messages_are_read_one_visible_conversation_at_a_time(
    conn: AsyncConnection[Any], floor: Floor
) -> None:
    messages = "SELECT conversation_id FROM cc_messages"

    assert await _read(conn, floor.ana, messages) == []  # none named
    assert {r[0] for r in await _read(conn, floor.ana, messages, focus=floor.fraud)} == {
        floor.fraud
    }
    assert len(await _read(conn, floor.ana, messages, focus=floor.fraud)) == 3
    assert await _read(conn, floor.ana, messages, focus=floor.cards) == []  # not hers
    assert await _read(conn, floor.bo, messages, focus=floor.cards) != []
    for table in ("cc_tool_calls", "cc_comm_preferences", "cc_identity_links"):
        assert len(await _read(conn, floor.ana, f"SELECT id FROM {table}", focus=floor.fraud)) == 1
        assert await _read(conn, floor.ana, f"SELECT id FROM {table}", focus=floor.cards) == []


async def test_the_audit_log_is_for_supervisors_and_admins(
    conn: AsyncConnection[Any], floor: Floor
) -> None:
    audit = "SELECT conversation_id FROM cc_audit_logs"

    assert await _read(conn, floor.ana, audit, focus=floor.fraud) == []
    assert await _read(conn, floor.sue, audit, focus=floor.fraud) == [(floor.fraud,)]
    assert await _read(conn, floor.sue, audit, focus=floor.cards) == []
    admin_sees = {r[0] for r in await _read(conn, floor.root, audit)}
    assert {floor.fraud, floor.cards, floor.nowhere} <= admin_sees


@pytest.mark.parametrize(
    "statement",
    [
        "SELECT from_address FROM cc_messages",
        "SELECT body_json FROM cc_messages",
        "SELECT address FROM cc_identity_links",
        "SELECT phone FROM cc_bank_customers",
        "UPDATE cc_conversations SET status = 'closed'",
        "INSERT INTO cc_case_notes (case_id, author_type, author_id, body)"
        " SELECT id, 'agent', 'x', 'y' FROM cc_cases",
        "DELETE FROM cc_audit_logs",
        "SELECT id FROM cc_agent_sessions",
    ],
)
async def test_contact_details_and_every_write_are_refused(
    conn: AsyncConnection[Any], floor: Floor, statement: str
) -> None:
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        await _read(conn, floor.root, statement, focus=floor.fraud)


async def test_claims_never_outlive_their_transaction_on_a_pooled_connection(
    migrated_db: str, floor: Floor
) -> None:
    async with AsyncConnectionPool(
        service_url(migrated_db), min_size=1, max_size=1, kwargs={"autocommit": True}, open=False
    ) as pool:
        for _ in range(10):
            for claims, expected in ((floor.ana, {floor.fraud}), (floor.bo, {floor.cards})):
                async with pool.connection() as conn:
                    assert await _ids(conn, claims, "cc_conversations") == expected
                    cursor = await conn.execute(
                        "SELECT current_user, current_setting('request.jwt.claims', true),"
                        " current_setting('request.conversation_id', true)"
                    )
                    role, claims_left, focus_left = await cursor.fetchone() or ()
                    assert role != "authenticated"
                    assert not claims_left
                    assert not focus_left
        # One that failed half-way leaves nothing behind either.
        async with pool.connection() as conn:
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                await _read(conn, floor.ana, "SELECT phone FROM cc_bank_customers")
            cursor = await conn.execute("SELECT count(*) FROM cc_conversations")
            assert (await cursor.fetchone() or (0,))[0] == 3  # the service's view again


async def test_an_agents_transaction_must_be_a_transaction(
    conn: AsyncConnection[Any], floor: Floor
) -> None:
    with pytest.raises(RuntimeError, match="inside a transaction"):
        await act_as_agent(conn, floor.ana)
