"""021: PostgreSQL, not the Python, decides what an agent's transaction reads.

Every read here is a raw SELECT in an agent's transaction (row_security.act_as_agent), as the
service's own role connects (SWITCHBOARD_TEST_ROLE in the least-privileged run).
"""

from __future__ import annotations

import uuid
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from switchboard.row_security import AgentClaims, act_as_agent, read_conversation
from tests.conftest import service_url
from tests.row_security.floor import Floor, floor_fixture  # noqa: F401 (a fixture)

pytestmark = pytest.mark.anyio


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
        "SELECT destination FROM cc_auth_sessions",
        "SELECT code_hmac FROM cc_auth_sessions",
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
                        " current_setting('request.conversation_id', true),"
                        " current_setting('cc_private.conversation_seen', true)"
                    )
                    role, claims_left, focus_left, seen_left = await cursor.fetchone() or ()
                    assert role != "authenticated"
                    assert not claims_left
                    assert not focus_left
                    assert not seen_left
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


async def test_a_conversation_seen_once_in_a_transaction_opens_no_other(
    conn: AsyncConnection[Any], floor: Floor
) -> None:
    async with conn.transaction():
        await act_as_agent(conn, floor.ana, reading=floor.fraud)
        seen = await (await conn.execute("SELECT count(*) FROM cc_messages")).fetchone()
        await read_conversation(conn, floor.cards)
        other = await (await conn.execute("SELECT count(*) FROM cc_messages")).fetchone()
        await act_as_agent(conn, floor.bo, reading=floor.fraud)  # the same id, another agent
        as_bo = await (await conn.execute("SELECT count(*) FROM cc_messages")).fetchone()

    assert (seen, other, as_bo) == ((3,), (0,), (0,))
