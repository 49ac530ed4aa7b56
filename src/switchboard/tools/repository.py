"""SQL for cc_tool_calls: the answer given to each tool call, kept to answer a replay."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb


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
