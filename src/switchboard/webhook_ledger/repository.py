"""SQL for cc_webhook_events."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection


async def insert_event_unless_present(
    conn: AsyncConnection[Any], provider: str, event_key: str, event_type: str
) -> UUID | None:
    cursor = await conn.execute(
        "INSERT INTO cc_webhook_events (provider, event_key, event_type) VALUES (%s, %s, %s)"
        " ON CONFLICT (provider, event_key) DO NOTHING RETURNING id",
        (provider, event_key, event_type),
    )
    row = await cursor.fetchone()
    return None if row is None else row[0]
