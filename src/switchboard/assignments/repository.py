"""SQL for cc_assignments."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import class_row

from switchboard.assignments.models import Assignment


async def insert_assignment(
    conn: AsyncConnection[Any],
    *,
    conversation_id: UUID | None,
    case_id: UUID | None,
    queue_name: str,
    reason: str,
    within: timedelta,
) -> Assignment:
    async with conn.cursor(row_factory=class_row(Assignment)) as cur:
        await cur.execute(
            "INSERT INTO cc_assignments (conversation_id, case_id, queue_name, reason,"
            " sla_due_at) VALUES (%s, %s, %s, %s, now() + %s)"
            " RETURNING id, conversation_id, case_id, queue_name, sla_due_at",
            (conversation_id, case_id, queue_name, reason, within),
        )
        assignment = await cur.fetchone()
    if assignment is None:  # INSERT ... RETURNING always returns the row it wrote
        raise RuntimeError("cc_assignments insert returned no row")
    return assignment
