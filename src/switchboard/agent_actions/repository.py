"""SQL of the agents' actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple
from uuid import UUID

from psycopg import AsyncConnection


class Seen(NamedTuple):
    """What an agent may see of a conversation, read under the policies."""

    channel: str
    bank_customer_id: UUID | None


class Latest(NamedTuple):
    message_id: UUID | None  # the newest message, either way, None if there is none
    # Where a reply goes: who wrote first in the conversation. Not whoever wrote last: anyone
    # who knows an email thread's id can write into it from an address of their own.
    customer_address: str | None
    customer_wrote_at: datetime | None  # the newest inbound message's time


async def visible_conversation(conn: AsyncConnection[Any], conversation_id: UUID) -> Seen | None:
    cursor = await conn.execute(
        "SELECT channel, bank_customer_id FROM cc_conversations WHERE id = %s", (conversation_id,)
    )
    row = await cursor.fetchone()
    return None if row is None else Seen(row[0], row[1])


async def visible_case(conn: AsyncConnection[Any], case_id: UUID) -> bool:
    cursor = await conn.execute("SELECT FROM cc_cases WHERE id = %s", (case_id,))
    return await cursor.fetchone() is not None


async def lock_and_read_latest(conn: AsyncConnection[Any], conversation_id: UUID) -> Latest:
    """Hold the conversation's row until the transaction ends (two replies to it wait for each
    other), then read its newest message, who wrote first and when anyone last wrote in: in a
    statement of their own, so that they are read after the lock is had, with what the other
    reply committed."""
    await conn.execute("SELECT FROM cc_conversations WHERE id = %s FOR UPDATE", (conversation_id,))
    return await read_latest(conn, conversation_id)


async def read_latest(conn: AsyncConnection[Any], conversation_id: UUID) -> Latest:
    """The conversation's newest message, who wrote first and when anyone last wrote in."""
    cursor = await conn.execute(
        "SELECT (SELECT m.id FROM cc_messages AS m WHERE m.conversation_id = %(c)s"
        "        ORDER BY m.created_at DESC, m.id DESC LIMIT 1),"
        "       (SELECT m.from_address FROM cc_messages AS m"
        "        WHERE m.conversation_id = %(c)s AND m.direction = 'inbound'"
        "        ORDER BY m.created_at, m.id LIMIT 1),"
        "       (SELECT max(m.created_at) FROM cc_messages AS m"
        "        WHERE m.conversation_id = %(c)s AND m.direction = 'inbound')",
        {"c": conversation_id},
    )
    row = await cursor.fetchone()
    return Latest(None, None, None) if row is None else Latest(row[0], row[1], row[2])


async def insert_note(
    conn: AsyncConnection[Any], conversation_id: UUID, agent_id: UUID, body: str
) -> UUID:
    cursor = await conn.execute(
        "INSERT INTO cc_conversation_notes (conversation_id, author_agent_id, body)"
        " VALUES (%s, %s, %s) RETURNING id",
        (conversation_id, agent_id, body),
    )
    row = await cursor.fetchone()
    if row is None:  # INSERT ... RETURNING always returns the row it wrote
        raise RuntimeError("cc_conversation_notes insert returned no row")
    return UUID(str(row[0]))


async def may_reveal(conn: AsyncConnection[Any], agent_id: UUID, conversation_id: UUID) -> bool:
    """A supervisor or admin may; an agent given the right for the queue of the conversation's
    live item may, unless that agent sent it there (a transfer would stretch the right to any
    queue's customers); not for a queue the conversation was once in."""
    cursor = await conn.execute(
        "SELECT EXISTS (SELECT FROM cc_agents AS a WHERE a.id = %(agent)s"
        "               AND a.status = 'active' AND a.role IN ('supervisor', 'admin'))"
        " OR EXISTS (SELECT FROM cc_assignments AS w"
        "            JOIN cc_agent_queues AS q ON q.queue_name = w.queue_name"
        "            JOIN cc_agents AS a ON a.id = q.agent_id AND a.status = 'active'"
        "            WHERE w.conversation_id = %(conversation)s AND q.agent_id = %(agent)s"
        "              AND q.may_reveal"
        "              AND w.state IN ('queued', 'offered', 'active', 'wrap_up')"
        "              AND (w.source IS DISTINCT FROM 'transfer'"
        "                   OR w.last_agent_id IS DISTINCT FROM %(agent)s))",
        {"agent": agent_id, "conversation": conversation_id},
    )
    row = await cursor.fetchone()
    return bool(row and row[0])


async def first_inbound_at(conn: AsyncConnection[Any], conversation_id: UUID) -> datetime | None:
    """When the customer first wrote in the conversation."""
    cursor = await conn.execute(
        "SELECT min(created_at) FROM cc_messages WHERE conversation_id = %s"
        " AND direction = 'inbound'",
        (conversation_id,),
    )
    row = await cursor.fetchone()
    return None if row is None else row[0]


async def case_status(conn: AsyncConnection[Any], case_id: UUID) -> str:
    cursor = await conn.execute("SELECT status FROM cc_cases WHERE id = %s", (case_id,))
    row = await cursor.fetchone()
    return "" if row is None else str(row[0])
