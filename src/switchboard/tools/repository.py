"""SQL for cc_tool_calls: the answer given to each tool call, kept to answer a replay."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from switchboard.audit.repository import INSERT_AUDIT_LOG, audit_parameters
from switchboard.conversations.models import Channel


@dataclass(frozen=True)
class CallState:
    answer: dict[str, Any] | None  # the answer this tool call was given, if it was
    conversation_id: UUID | None  # the call's latest conversation
    bank_customer_id: UUID | None  # its customer
    verified_at: datetime | None  # the customer's latest code verified in it since `since`


async def read_call_state(
    conn: AsyncConnection[Any],
    *,
    call_id: str,
    tool_call_id: str,
    since: datetime,
    channels: list[str],
) -> CallState:
    """What every tool call reads first, once it holds the call's lock, in one statement
    rather than three: the answer kept for this tool call, what continue_or_open_call reads (the
    latest conversation on the call's thread) and auth_sessions' latest_verification for
    that conversation and its customer. It must keep reading what those two read; the tools'
    assurance tests say so."""
    cursor = await conn.execute(
        "SELECT (SELECT answer FROM cc_tool_calls"
        "        WHERE call_id = %(call)s AND tool_call_id = %(tool_call)s),"
        " c.id, c.bank_customer_id,"
        " (SELECT max(s.verified_at) FROM cc_auth_sessions AS s"
        "  WHERE s.conversation_id = c.id AND s.bank_customer_id = c.bank_customer_id"
        "  AND s.status = 'verified' AND s.verified_at > %(since)s"
        "  AND s.channel = ANY(%(channels)s))"
        " FROM (SELECT 1) AS one LEFT JOIN LATERAL"
        " (SELECT id, bank_customer_id FROM cc_conversations"
        "  WHERE channel = %(voice)s AND provider_conversation_id = %(call)s"
        "  ORDER BY created_at DESC LIMIT 1) AS c ON true",
        {
            "call": call_id,
            "tool_call": tool_call_id,
            "voice": Channel.VOICE,
            "since": since,
            "channels": channels,
        },
    )
    row = await cursor.fetchone()
    if row is None:  # one row always: the LEFT JOIN keeps it
        raise RuntimeError("the call's state read returned no row")
    answer, conversation_id, customer_id, verified_at = row
    return CallState(
        None if answer is None else dict(answer), conversation_id, customer_id, verified_at
    )


async def insert_answer(
    conn: AsyncConnection[Any],
    *,
    call_id: str,
    tool_call_id: str,
    tool_name: str,
    conversation_id: UUID | None,
    answer: dict[str, Any],
    audit: dict[str, Any],
) -> None:
    """Keep the answer, and write the tool call's audit record (`audit`: its columns, as
    audit.service.values_now gives them) in the same statement: one round trip, not two."""
    await conn.execute(
        "WITH answer AS (INSERT INTO cc_tool_calls"
        " (call_id, tool_call_id, tool_name, conversation_id, answer)"
        " VALUES (%(answer_call_id)s, %(answer_tool_call_id)s, %(answer_tool_name)s,"
        " %(answer_conversation_id)s, %(answer)s)) " + INSERT_AUDIT_LOG,
        {
            **audit_parameters(audit),
            "answer_call_id": call_id,
            "answer_tool_call_id": tool_call_id,
            "answer_tool_name": tool_name,
            "answer_conversation_id": conversation_id,
            "answer": Jsonb(answer),
        },
    )
