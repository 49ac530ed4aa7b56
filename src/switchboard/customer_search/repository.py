"""SQL of a search. The lookups run in the agent's transaction (row_security): the customer
ids come from cc_private.find_customers (exact contact match, ids only, 028); conversations
and cases from 021's policies. The allowance is the service's own row."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import class_row

from switchboard.customer_search.models import Allowance, FoundCase, FoundConversation

# Most rows an answer lists of each kind: a customer with more is found, and the rest is in
# their conversations.
MOST = 50


async def customers_with_contact(conn: AsyncConnection[Any], kind: str, key: str) -> list[UUID]:
    cursor = await conn.execute("SELECT cc_private.find_customers(%s, %s)", (kind, key))
    return [row[0] for row in await cursor.fetchall()]


async def customer_of_case(conn: AsyncConnection[Any], case_id: UUID) -> tuple[UUID | None] | None:
    """(the case's customer,) if the agent may see the case; None if not."""
    cursor = await conn.execute("SELECT bank_customer_id FROM cc_cases WHERE id = %s", (case_id,))
    row = await cursor.fetchone()
    return None if row is None else (row[0],)


async def conversations_of(
    conn: AsyncConnection[Any], customers: list[UUID]
) -> list[FoundConversation]:
    async with conn.cursor(row_factory=class_row(FoundConversation)) as cur:
        await cur.execute(
            "SELECT id, bank_customer_id, channel, status, created_at, updated_at"
            " FROM cc_conversations WHERE bank_customer_id = ANY(%s)"
            " ORDER BY updated_at DESC, id LIMIT %s",
            (customers, MOST),
        )
        return await cur.fetchall()


async def cases_of(
    conn: AsyncConnection[Any], customers: list[UUID], case_id: UUID | None
) -> list[FoundCase]:
    async with conn.cursor(row_factory=class_row(FoundCase)) as cur:
        await cur.execute(
            "SELECT id, bank_customer_id, conversation_id, case_type, status, priority,"
            " created_at FROM cc_cases WHERE bank_customer_id = ANY(%s) OR id = %s"
            " ORDER BY created_at DESC, id LIMIT %s",
            (customers, case_id, MOST),
        )
        return await cur.fetchall()


# A token bucket per agent: `burst` searches at most, refilled at `per_second`; a search takes
# one token, or is refused (and counted) when less than one is left. The row's lock makes two
# searches of one agent take turns, whichever process serves them.
_NOW_TOKENS = (
    "least(%(burst)s::float8, b.tokens"
    " + %(per_second)s::float8 * extract(epoch FROM now() - b.refilled_at))"
)
_TAKE = f"""
INSERT INTO cc_agent_search_budget AS b (agent_id, tokens, refilled_at, refused)
VALUES (%(agent)s, %(burst)s - 1, now(), 0)
ON CONFLICT (agent_id) DO UPDATE SET
    tokens = CASE WHEN {_NOW_TOKENS} >= 1 THEN {_NOW_TOKENS} - 1 ELSE {_NOW_TOKENS} END,
    refilled_at = now(),
    refused = CASE WHEN {_NOW_TOKENS} >= 1 THEN 0 ELSE b.refused + 1 END
RETURNING b.tokens, b.refused
"""


async def take_search(
    conn: AsyncConnection[Any], agent_id: UUID, *, burst: int, per_second: float
) -> Allowance:
    cursor = await conn.execute(
        _TAKE, {"agent": agent_id, "burst": burst, "per_second": per_second}
    )
    row = await cursor.fetchone()
    if row is None:  # an upsert always returns its row
        raise RuntimeError("the search allowance upsert returned no row")
    tokens, refused = float(row[0]), int(row[1])
    return Allowance(refused, 0.0 if refused == 0 else (1 - tokens) / per_second)
