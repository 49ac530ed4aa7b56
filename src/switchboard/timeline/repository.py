"""SQL for the timeline. Run in an agent's transaction (row_security): the policies decide
what is returned."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import class_row

from switchboard.timeline.models import Entry, Position

# Messages, tool calls and internal notes, newest first, each read through its own index and cut
# at the page's size before they are merged.
PAGE = """
SELECT kind, id, at, direction, provider, text, status, tool, outcome, summary, author FROM (
    (SELECT 'message' AS kind, m.id, m.created_at AS at, m.direction, m.provider,
            m.body_text AS text, m.status, NULL AS tool, NULL AS outcome, NULL AS summary,
            NULL AS author
     FROM cc_messages AS m
     WHERE m.conversation_id = %(conversation)s AND (m.created_at, m.id) < (%(at)s, %(id)s)
     ORDER BY m.created_at DESC, m.id DESC LIMIT %(limit)s)
    UNION ALL
    (SELECT 'tool_call', t.id, t.created_at, NULL, NULL, NULL, NULL, t.tool_name,
            CASE WHEN t.answer ? 'error' THEN split_part(t.answer ->> 'error', ':', 1)
                 ELSE 'ok' END,
            coalesce(t.answer ->> 'error', t.answer ->> 'result'), NULL
     FROM cc_tool_calls AS t
     WHERE t.conversation_id = %(conversation)s AND (t.created_at, t.id) < (%(at)s, %(id)s)
     ORDER BY t.created_at DESC, t.id DESC LIMIT %(limit)s)
    UNION ALL
    (SELECT 'note', n.id, n.created_at, NULL, NULL, n.body, NULL, NULL, NULL, NULL,
            n.author_agent_id::text
     FROM cc_conversation_notes AS n
     WHERE n.conversation_id = %(conversation)s AND (n.created_at, n.id) < (%(at)s, %(id)s)
     ORDER BY n.created_at DESC, n.id DESC LIMIT %(limit)s)
) AS entries
ORDER BY at DESC, id DESC LIMIT %(limit)s
"""
CONVERSATION = (
    "SELECT channel, status, bank_customer_id, created_at FROM cc_conversations"
    " WHERE id = %(conversation)s"
)
# Later than any entry: the first page starts here.
_NEWEST = Position(datetime.max.replace(tzinfo=UTC), UUID(int=(1 << 128) - 1))


async def conversation_and_page(
    conn: AsyncConnection[Any], conversation_id: UUID, before: Position | None, limit: int
) -> tuple[tuple[str, str, UUID | None, Any] | None, list[Entry]]:
    """(channel, status, customer, opened at) of the conversation, if the agent may see it,
    and a page of its entries: both sent before either is read, so that in pipeline mode they
    travel together."""
    start = before or _NEWEST
    found = await conn.execute(CONVERSATION, {"conversation": conversation_id})
    page = conn.cursor(row_factory=class_row(Entry))
    await page.execute(
        PAGE, {"conversation": conversation_id, "limit": limit, "at": start.at, "id": start.id}
    )
    row = await found.fetchone()
    entries = await page.fetchall()
    await page.close()
    return (None if row is None else (row[0], row[1], row[2], row[3])), entries
