"""SQL for cc_tool_calls: the answer given to each tool call, kept to answer a replay."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb


async def lock_tool_call(conn: AsyncConnection[Any], call_id: str, tool_call_id: str) -> None:
    """Until the transaction ends: a replay of the same tool call waits here for the first
    to commit, then finds its answer."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended('switchboard:tool-call:' || %s, 0))",
        (f"{call_id}\n{tool_call_id}",),
    )


async def find_answer(
    conn: AsyncConnection[Any], call_id: str, tool_call_id: str
) -> dict[str, Any] | None:
    cursor = await conn.execute(
        "SELECT answer FROM cc_tool_calls WHERE call_id = %s AND tool_call_id = %s",
        (call_id, tool_call_id),
    )
    row = await cursor.fetchone()
    return None if row is None else dict(row[0])


async def insert_answer(
    conn: AsyncConnection[Any],
    *,
    call_id: str,
    tool_call_id: str,
    tool_name: str,
    conversation_id: UUID | None,
    answer: dict[str, Any],
) -> None:
    await conn.execute(
        "INSERT INTO cc_tool_calls (call_id, tool_call_id, tool_name, conversation_id, answer)"
        " VALUES (%s, %s, %s, %s, %s)",
        (call_id, tool_call_id, tool_name, conversation_id, Jsonb(answer)),
    )
