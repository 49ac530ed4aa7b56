"""SQL for cc_conversations."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import TupleRow

Row = tuple[UUID, UUID | None]


async def lock_thread(conn: AsyncConnection[Any], channel: str, thread_key: str) -> None:
    """Serialise, until the transaction ends, everyone finding or opening this thread."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (f"{channel}:{thread_key}",)
    )


async def find_latest_by_thread_key(
    conn: AsyncConnection[Any], channel: str, thread_key: str
) -> Row | None:
    cursor = await conn.execute(
        "SELECT id, bank_customer_id FROM cc_conversations"
        " WHERE channel = %s AND provider_conversation_id = %s"
        " ORDER BY created_at DESC LIMIT 1",
        (channel, thread_key),
    )
    return _row(await cursor.fetchone())


async def find_by_message_ids(
    conn: AsyncConnection[Any], provider: str, message_ids: list[str]
) -> Row | None:
    """The open conversation holding the newest of these messages (email threading)."""
    cursor = await conn.execute(
        "SELECT c.id, c.bank_customer_id FROM cc_messages AS m"
        " JOIN cc_conversations AS c ON c.id = m.conversation_id"
        " WHERE m.provider = %s AND m.provider_message_id = ANY(%s)"
        " AND c.status IN ('open', 'pending')"
        " ORDER BY m.created_at DESC LIMIT 1",
        (provider, message_ids),
    )
    return _row(await cursor.fetchone())


async def set_customer_if_unknown(
    conn: AsyncConnection[Any], conversation_id: UUID, bank_customer_id: UUID
) -> None:
    await conn.execute(
        "UPDATE cc_conversations SET bank_customer_id = %s, updated_at = now()"
        " WHERE id = %s AND bank_customer_id IS NULL",
        (bank_customer_id, conversation_id),
    )


async def close_conversation(conn: AsyncConnection[Any], conversation_id: UUID) -> bool:
    cursor = await conn.execute(
        "UPDATE cc_conversations SET status = 'closed', updated_at = now()"
        " WHERE id = %s AND status <> 'closed'",
        (conversation_id,),
    )
    return cursor.rowcount == 1


def _row(row: TupleRow | None) -> Row | None:
    if row is None:
        return None
    return row[0], row[1]


async def find_by_id(
    conn: AsyncConnection[Any], conversation_id: UUID
) -> tuple[UUID, str, UUID | None] | None:
    cursor = await conn.execute(
        "SELECT id, channel, bank_customer_id FROM cc_conversations WHERE id = %s",
        (conversation_id,),
    )
    row = await cursor.fetchone()
    if row is None:
        return None
    return row[0], str(row[1]), row[2]


async def find_open_by_thread_prefix(
    conn: AsyncConnection[Any], channel: str, prefix: str
) -> Row | None:
    """The most recently active open conversation whose thread key starts with `prefix`."""
    pattern = prefix.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    cursor = await conn.execute(
        "SELECT id, bank_customer_id FROM cc_conversations"
        " WHERE channel = %s AND provider_conversation_id LIKE %s"
        " AND status IN ('open', 'pending') ORDER BY updated_at DESC LIMIT 1",
        (channel, pattern),
    )
    return _row(await cursor.fetchone())


Thread = tuple[str, str]  # (channel, provider_conversation_id)


async def find_open_by_thread_keys(
    conn: AsyncConnection[Any], threads: list[Thread]
) -> dict[Thread, Row]:
    cursor = await conn.execute(
        "SELECT c.channel, c.provider_conversation_id, c.id, c.bank_customer_id"
        " FROM cc_conversations AS c JOIN unnest(%s::text[], %s::text[]) AS t (channel, key)"
        " ON c.channel = t.channel AND c.provider_conversation_id = t.key"
        " WHERE c.status IN ('open', 'pending')",
        ([channel for channel, _ in threads], [key for _, key in threads]),
    )
    return {(row[0], row[1]): (row[2], row[3]) for row in await cursor.fetchall()}


async def insert_open_conversations(
    conn: AsyncConnection[Any], provider: str, threads: list[tuple[str, str, UUID | None]]
) -> dict[Thread, UUID]:
    """New conversations on (channel, thread key, customer), in thread order (see
    deliveries' insert for why); the threads another one is open on are left out."""
    threads = sorted(threads, key=lambda thread: thread[:2])
    cursor = await conn.execute(
        "INSERT INTO cc_conversations (channel, provider, provider_conversation_id,"
        " bank_customer_id, status)"
        " SELECT t.channel, %s, t.key, t.customer, 'open'"
        " FROM unnest(%s::text[], %s::text[], %s::uuid[]) WITH ORDINALITY"
        " AS t (channel, key, customer, n) ORDER BY t.n"
        " ON CONFLICT (channel, provider_conversation_id)"
        " WHERE status IN ('open', 'pending') AND provider_conversation_id IS NOT NULL"
        " DO NOTHING RETURNING channel, provider_conversation_id, id",
        (
            provider,
            [channel for channel, _, _ in threads],
            [key for _, key, _ in threads],
            [customer for _, _, customer in threads],
        ),
    )
    return {(row[0], row[1]): row[2] for row in await cursor.fetchall()}


async def set_customers_if_unknown(conn: AsyncConnection[Any], customers: dict[UUID, UUID]) -> None:
    """set_customer_if_unknown for several conversations: {conversation id: customer id}.
    The rows are locked in id order first: two groups filling in the same conversations in
    another order wait for one another instead of deadlocking."""
    ids = sorted(customers)
    await conn.execute(
        "WITH locked AS (SELECT id FROM cc_conversations"
        " WHERE id = ANY(%s) AND bank_customer_id IS NULL ORDER BY id FOR NO KEY UPDATE)"
        " UPDATE cc_conversations AS c SET bank_customer_id = t.customer, updated_at = now()"
        " FROM unnest(%s::uuid[], %s::uuid[]) AS t (id, customer), locked"
        " WHERE c.id = t.id AND c.id = locked.id AND c.bank_customer_id IS NULL",
        (ids, ids, [customers[i] for i in ids]),
    )
