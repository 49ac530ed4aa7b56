"""Reading a conversation's timeline as an agent: one transaction in the agent's name, in which
PostgreSQL's policies (021, 024) decide whether the conversation, its messages, tool calls,
notes, codes and SLA clocks can be read at all."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.auth_sessions import service as auth_sessions
from switchboard.errors import ConversationNotFound, InvalidInput
from switchboard.row_security import AgentClaims, act_as_agent
from switchboard.sla import service as sla
from switchboard.timeline import repository
from switchboard.timeline.models import (
    DEFAULT_PAGE,
    MAX_PAGE,
    Position,
    Timeline,
    Verification,
)


async def read_timeline(
    conn: AsyncConnection[Any],
    agent: AgentClaims,
    conversation_id: UUID,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE,
    email_otp_level_2: bool = False,
) -> Timeline:
    """A page of the conversation's timeline, newest first, from `cursor` (a page's
    next_cursor) on. A conversation the agent may not see is not found, as one that does not
    exist: whether it exists is not theirs to learn."""
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit is from 1 to {MAX_PAGE}", hint=f"{DEFAULT_PAGE} by default")
    before = None if cursor is None else Position.from_cursor(cursor)
    # Pipelined: the agent's claims, the conversation and the page travel in one round trip.
    async with conn.pipeline(), conn.transaction():
        await act_as_agent(conn, agent, reading=conversation_id)
        found, entries = await repository.conversation_and_page(
            conn, conversation_id, before, limit + 1
        )
        if found is None:
            raise ConversationNotFound(f"no conversation {conversation_id}")
        channel, status, customer, opened_at = found
        assurance = await auth_sessions.assurance(
            conn,
            conversation_id=conversation_id,
            bank_customer_id=customer,
            matched=customer is not None,
            email_otp_level_2=email_otp_level_2,
        )
        clocks = await sla.conversation_clocks(conn, conversation_id)
    more = len(entries) > limit
    entries = entries[:limit]
    return Timeline(
        conversation_id=conversation_id,
        channel=channel,
        status=status,
        bank_customer_id=customer,
        opened_at=opened_at,
        verification=Verification(assurance.level, assurance.verified_until),
        clocks=clocks,
        entries=entries,
        next_cursor=Position(entries[-1].at, entries[-1].id).cursor() if more else None,
    )
