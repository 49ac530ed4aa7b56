"""SQL for the live streams: which of the changed rows an agent's transaction may see."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import class_row

# One statement for a burst, whatever it holds: each branch reads its table under the
# policies of 021 and 024 (the caller's transaction acts as the agent). A message, a note or
# a conversation's clock is seen with its conversation, which is what their policies ask
# (021: cc_private.read_conversation); a case's clock with its case.
_VISIBLE = """
SELECT 'assignment' AS kind, a.id, a.conversation_id, a.case_id, a.queue_name AS queue, a.state
FROM cc_assignments AS a WHERE a.id = ANY (%(assignments)s::uuid[])
UNION ALL
SELECT 'conversation', c.id, NULL, NULL, NULL, NULL
FROM cc_conversations AS c WHERE c.id = ANY (%(conversations)s::uuid[])
UNION ALL
SELECT 'case', k.id, k.conversation_id, NULL, NULL, NULL
FROM cc_cases AS k WHERE k.id = ANY (%(cases)s::uuid[])
UNION ALL
SELECT 'agent', x.id, NULL, NULL, NULL, NULL
FROM unnest(%(agents)s::uuid[]) AS x (id) WHERE cc_private.may_see_agent(x.id)
"""


@dataclass(frozen=True)
class Seen:
    """A row the agent may see: an assignment's as it is now; a conversation, case or agent
    by its id (a case with its conversation)."""

    kind: str
    id: UUID
    conversation_id: UUID | None
    case_id: UUID | None
    queue: str | None
    state: str | None


async def visible_rows(
    conn: AsyncConnection[Any],
    *,
    assignments: list[UUID],
    conversations: list[UUID],
    cases: list[UUID],
    agents: list[UUID],
) -> list[Seen]:
    async with conn.cursor(row_factory=class_row(Seen)) as cur:
        await cur.execute(
            _VISIBLE,
            {
                "assignments": assignments,
                "conversations": conversations,
                "cases": cases,
                "agents": agents,
            },
        )
        return await cur.fetchall()
