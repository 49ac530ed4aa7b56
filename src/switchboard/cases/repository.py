"""SQL for cc_cases and cc_case_notes."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import class_row

from switchboard.cases.models import Case

_COLUMNS = (
    "id, bank_customer_id, conversation_id, case_type, status, priority, summary,"
    " resolved_at, closed_at, created_at, updated_at"
)


async def insert_case(
    conn: AsyncConnection[Any],
    *,
    bank_customer_id: UUID | None,
    conversation_id: UUID | None,
    case_type: str,
    priority: str,
    summary: str,
) -> Case:
    async with conn.cursor(row_factory=class_row(Case)) as cur:
        await cur.execute(
            "INSERT INTO cc_cases (bank_customer_id, conversation_id, case_type, status,"
            f" priority, summary) VALUES (%s, %s, %s, 'new', %s, %s) RETURNING {_COLUMNS}",
            (bank_customer_id, conversation_id, case_type, priority, summary),
        )
        case = await cur.fetchone()
    if case is None:  # INSERT ... RETURNING always returns the row it wrote
        raise RuntimeError("cc_cases insert returned no row")
    return case


async def lock_case(conn: AsyncConnection[Any], case_id: UUID) -> Case | None:
    """The case, locked until the transaction ends, so that two moves cannot interleave."""
    async with conn.cursor(row_factory=class_row(Case)) as cur:
        await cur.execute(f"SELECT {_COLUMNS} FROM cc_cases WHERE id = %s FOR UPDATE", (case_id,))
        return await cur.fetchone()


async def update_status(conn: AsyncConnection[Any], case_id: UUID, status: str) -> Case:
    """Set the status, stamping resolved_at / closed_at when the case gets there (and clearing
    resolved_at when a resolved case is reopened)."""
    async with conn.cursor(row_factory=class_row(Case)) as cur:
        # ::text: where status is a varchar (a database adopted from elsewhere), the parameter
        # would otherwise be deduced varchar here and text in the comparisons, and refused.
        await cur.execute(
            "UPDATE cc_cases SET status = %(status)s::text,"
            " resolved_at = CASE WHEN %(status)s = 'resolved' THEN now()"
            "                    WHEN %(status)s = 'closed' THEN resolved_at ELSE NULL END,"
            " closed_at = CASE WHEN %(status)s = 'closed' THEN now() ELSE NULL END"
            f" WHERE id = %(id)s RETURNING {_COLUMNS}",
            {"status": status, "id": case_id},
        )
        case = await cur.fetchone()
    if case is None:
        raise RuntimeError(f"case {case_id} vanished while locked")
    return case


async def insert_note(
    conn: AsyncConnection[Any], case_id: UUID, author_type: str, author_id: str, body: str
) -> UUID:
    cursor = await conn.execute(
        "INSERT INTO cc_case_notes (case_id, author_type, author_id, body)"
        " VALUES (%s, %s, %s, %s) RETURNING id",
        (case_id, author_type, author_id, body),
    )
    row = await cursor.fetchone()
    if row is None:
        raise RuntimeError("cc_case_notes insert returned no row")
    return UUID(str(row[0]))


async def find_case(conn: AsyncConnection[Any], case_id: UUID) -> Case | None:
    async with conn.cursor(row_factory=class_row(Case)) as cur:
        await cur.execute(f"SELECT {_COLUMNS} FROM cc_cases WHERE id = %s", (case_id,))
        return await cur.fetchone()


async def list_customer_cases(
    conn: AsyncConnection[Any], bank_customer_id: UUID, *, include_closed: bool, limit: int
) -> list[Case]:
    """The customer's cases, newest first (index cc_cases_bank_customer_id_created_at_idx)."""
    async with conn.cursor(row_factory=class_row(Case)) as cur:
        await cur.execute(
            f"SELECT {_COLUMNS} FROM cc_cases WHERE bank_customer_id = %s"
            " AND (%s OR status <> 'closed') ORDER BY created_at DESC LIMIT %s",
            (bank_customer_id, include_closed, limit),
        )
        return await cur.fetchall()


async def count_notes(conn: AsyncConnection[Any], case_id: UUID) -> int:
    cursor = await conn.execute("SELECT count(*) FROM cc_case_notes WHERE case_id = %s", (case_id,))
    row = await cursor.fetchone()
    return int(row[0]) if row else 0
