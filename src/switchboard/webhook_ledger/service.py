"""Claiming a delivery: the first write of every webhook's transaction."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from switchboard.webhook_ledger import repository


async def claim(
    conn: AsyncConnection[Any], *, provider: str, event_key: str, event_type: str
) -> bool:
    """True for a delivery seen for the first time; False when it was already acted on.

    A concurrent identical delivery waits on the unique key until the first one's transaction
    ends, then finds it claimed; had the first rolled back, it claims it itself.
    """
    delivery_id = await repository.insert_event_unless_present(
        conn, provider, event_key, event_type
    )
    return delivery_id is not None
