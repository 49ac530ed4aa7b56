"""SQL for cc_messages."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb


async def insert_message_unless_present(
    conn: AsyncConnection[Any],
    *,
    conversation_id: UUID,
    direction: str,
    provider: str,
    provider_message_id: str,
    from_address: str | None,
    to_address: str | None,
    body_text: str | None,
    body_json: dict[str, Any],
    status: str,
) -> UUID | None:
    cursor = await conn.execute(
        "INSERT INTO cc_messages (conversation_id, direction, provider, provider_message_id,"
        " from_address, to_address, body_text, body_json, status, status_updated_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, now())"
        " ON CONFLICT (provider, provider_message_id) DO NOTHING RETURNING id",
        (
            conversation_id,
            direction,
            provider,
            provider_message_id,
            from_address,
            to_address,
            body_text,
            Jsonb(body_json),
            status,
        ),
    )
    row = await cursor.fetchone()
    return None if row is None else row[0]


async def lock_message(
    conn: AsyncConnection[Any], provider: str, provider_message_id: str
) -> tuple[UUID, UUID, str | None] | None:
    """(id, conversation id, status) of the message, locked until the transaction ends."""
    cursor = await conn.execute(
        "SELECT id, conversation_id, status FROM cc_messages"
        " WHERE provider = %s AND provider_message_id = %s FOR UPDATE",
        (provider, provider_message_id),
    )
    row = await cursor.fetchone()
    if row is None:
        return None
    return row[0], row[1], row[2]


async def lock_outbound_awaiting_id(
    conn: AsyncConnection[Any], message_id: UUID, provider: str, provider_message_id: str
) -> tuple[UUID, UUID, str | None] | None:
    """(id, conversation id, status) of our outbound message sent through this provider,
    locked, if it has no provider id yet or has this one."""
    cursor = await conn.execute(
        "SELECT id, conversation_id, status FROM cc_messages"
        " WHERE id = %s AND direction = 'outbound' AND provider = %s"
        " AND (provider_message_id IS NULL OR provider_message_id = %s) FOR UPDATE",
        (message_id, provider, provider_message_id),
    )
    row = await cursor.fetchone()
    if row is None:
        return None
    return row[0], row[1], row[2]


async def update_status(
    conn: AsyncConnection[Any],
    message_id: UUID,
    *,
    status: str,
    provider_status: str,
    error_code: str | None,
    provider_message_id: str,
) -> None:
    """The new status; the provider's id is kept where the message had none yet."""
    await conn.execute(
        "UPDATE cc_messages SET status = %s, provider_status = %s,"
        " error_code = coalesce(%s, error_code),"
        " provider_message_id = coalesce(provider_message_id, %s),"
        " status_updated_at = now() WHERE id = %s",
        (status, provider_status, error_code, provider_message_id, message_id),
    )
