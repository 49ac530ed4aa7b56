"""An agent's reads, guarded by PostgreSQL: row-level security (migration 021) decides what an
agent's transaction sees, not the Python that asks.

`act_as_agent` turns the rest of the current transaction into the agent's, as Supabase's own API
does for a signed-in user: the role `authenticated`, and the agent in `request.jwt.claims`. Both
are local to the transaction, so a pooled connection returns to the service's role at its
end, whatever happened in it. The conversation it reads (`reading`, or later
`read_conversation`) is the one whose messages, tool calls, codes, preferences and identity
links the transaction may read: one at a time (see 021).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.pq import TransactionStatus

# One round trip: who, as what, reading which conversation ('' for none).
ACT_AS_AGENT = (
    "SELECT set_config('request.jwt.claims', %(claims)s, true),"
    " set_config('role', 'authenticated', true),"
    " set_config('request.conversation_id', %(conversation)s, true)"
)
READ_CONVERSATION = "SELECT set_config('request.conversation_id', %(conversation)s, true)"


@dataclass(frozen=True)
class AgentClaims:
    """Who the transaction acts for. The database reads the role and the queues afresh from
    cc_agents; these claims say who, and are what auth.jwt() shows."""

    agent_id: UUID
    role: str
    queues: Sequence[str] = ()

    def as_json(self) -> str:
        return json.dumps(
            {
                "sub": str(self.agent_id),
                "role": "authenticated",
                "agent_role": self.role,
                "queues": list(self.queues),
            }
        )


async def act_as_agent(
    conn: AsyncConnection[Any], claims: AgentClaims, *, reading: UUID | None = None
) -> None:
    """From here to the end of the current transaction, `conn` reads as the agent, reading
    the conversation `reading` (if any)."""
    _in_transaction(conn)
    await conn.execute(
        ACT_AS_AGENT,
        {"claims": claims.as_json(), "conversation": "" if reading is None else str(reading)},
    )


async def read_conversation(conn: AsyncConnection[Any], conversation_id: UUID) -> None:
    """The conversation the rest of the transaction reads, if the agent may see it."""
    _in_transaction(conn)
    await conn.execute(READ_CONVERSATION, {"conversation": str(conversation_id)})


async def act_as_service(conn: AsyncConnection[Any]) -> None:
    """Back to the service's own role for the rest of the transaction: for the writes an agent's
    action makes once the policies have let the agent see what it acts on."""
    _in_transaction(conn)
    await conn.execute("RESET ROLE")


def _in_transaction(conn: AsyncConnection[Any]) -> None:
    # Outside a transaction the settings would end with the statement that makes them, and
    # what followed would run with the service's rights.
    # ACTIVE: in pipeline mode, the transaction's statements are still on their way.
    if conn.info.transaction_status not in (TransactionStatus.INTRANS, TransactionStatus.ACTIVE):
        raise RuntimeError("an agent's reads run inside a transaction (conn.transaction())")
