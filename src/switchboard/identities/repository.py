"""SQL for cc_identity_links."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection


async def find_customer_by_address(
    conn: AsyncConnection[Any], channel: str, address: str
) -> UUID | None:
    cursor = await conn.execute(
        "SELECT bank_customer_id FROM cc_identity_links WHERE channel = %s AND address = %s",
        (channel, address),
    )
    row = await cursor.fetchone()
    return None if row is None else row[0]


async def list_addresses(
    conn: AsyncConnection[Any], bank_customer_id: UUID
) -> list[tuple[str, str]]:
    """(channel, address) of every identity linked to the customer, oldest first."""
    cursor = await conn.execute(
        "SELECT channel, address FROM cc_identity_links WHERE bank_customer_id = %s"
        " ORDER BY created_at, address",
        (bank_customer_id,),
    )
    return [(str(channel), str(address)) for channel, address in await cursor.fetchall()]
