"""SQL for cc_comm_preferences."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

Row = tuple[bool, list[str] | None, str | None]


async def lock_preferences(conn: AsyncConnection[Any], bank_customer_id: UUID) -> Row | None:
    cursor = await conn.execute(
        "SELECT do_not_contact, allowed_channels, timezone FROM cc_comm_preferences"
        " WHERE bank_customer_id = %s FOR UPDATE",
        (bank_customer_id,),
    )
    row = await cursor.fetchone()
    return None if row is None else (bool(row[0]), row[1], row[2])


async def upsert_preferences(
    conn: AsyncConnection[Any],
    bank_customer_id: UUID,
    *,
    do_not_contact: bool,
    allowed_channels: list[str] | None,
    timezone: str,
) -> None:
    await conn.execute(
        "INSERT INTO cc_comm_preferences (bank_customer_id, do_not_contact, allowed_channels,"
        " timezone) VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (bank_customer_id) DO UPDATE SET do_not_contact = EXCLUDED.do_not_contact,"
        " allowed_channels = EXCLUDED.allowed_channels, timezone = EXCLUDED.timezone,"
        " updated_at = now()",
        (
            bank_customer_id,
            do_not_contact,
            None if allowed_channels is None else Jsonb(allowed_channels),
            timezone,
        ),
    )


async def insert_revocation_flag(
    conn: AsyncConnection[Any],
    *,
    conversation_id: UUID,
    message_id: UUID,
    bank_customer_id: UUID | None,
    channel: str,
    phrase: str,
) -> UUID:
    cursor = await conn.execute(
        "INSERT INTO cc_possible_revocations (conversation_id, message_id, bank_customer_id,"
        " channel, phrase) VALUES (%s, %s, %s, %s, %s) RETURNING id",
        (conversation_id, message_id, bank_customer_id, channel, phrase),
    )
    row = await cursor.fetchone()
    if row is None:  # INSERT ... RETURNING always returns the row it wrote
        raise RuntimeError("cc_possible_revocations insert returned no row")
    return UUID(str(row[0]))


FlagRow = tuple[UUID, UUID, UUID, UUID | None, str, str, datetime]


async def select_revocation_flags(
    conn: AsyncConnection[Any], conversation_id: UUID
) -> list[FlagRow]:
    cursor = await conn.execute(
        "SELECT id, conversation_id, message_id, bank_customer_id, channel, phrase, created_at"
        " FROM cc_possible_revocations WHERE conversation_id = %s ORDER BY created_at, id",
        (conversation_id,),
    )
    return list(await cursor.fetchall())
