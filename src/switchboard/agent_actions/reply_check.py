"""What would become of a reply sent now, asked before it is written: the composer shows the
customer's refusal (do not contact, a channel they refused, quiet hours) before the agent
types, not after. The same rule decides as when the reply is sent (preferences.policy)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.agent_actions import repository
from switchboard.agent_actions.service import REPLY_CHANNELS, REPLY_WINDOW, seen_by
from switchboard.conversations.models import Channel
from switchboard.preferences import service as preferences
from switchboard.preferences.models import Purpose
from switchboard.preferences.policy import may_send
from switchboard.row_security import AgentClaims


@dataclass(frozen=True)
class ReplyVerdict:
    allowed: bool
    rule: str | None  # why not: do_not_contact, channel_not_allowed, quiet_hours, cannot_reply
    detail: str | None
    responding_until: datetime | None  # a reply until then answers the customer (REPLY_WINDOW)


async def reply_verdict(
    conn: AsyncConnection[Any],
    agent: AgentClaims,
    conversation_id: UUID,
    *,
    now: datetime | None = None,
) -> ReplyVerdict:
    when = now or datetime.now(UTC)
    async with conn.transaction():
        seen = await seen_by(conn, agent, conversation_id)
        if seen.channel not in REPLY_CHANNELS:
            return ReplyVerdict(
                False,
                "cannot_reply",
                f"a {seen.channel} conversation cannot be answered in writing",
                None,
            )
        latest = await repository.read_latest(conn, conversation_id)
        if latest.customer_address is None or latest.customer_wrote_at is None:
            return ReplyVerdict(
                False, "cannot_reply", "the customer has not written in this conversation", None
            )
        found = (
            None
            if seen.bank_customer_id is None
            else await preferences.get_preferences(conn, seen.bank_customer_id)
        )
    until = latest.customer_wrote_at + REPLY_WINDOW
    verdict = may_send(
        found,
        purpose=Purpose.SERVICE,
        channel=REPLY_CHANNELS[Channel(seen.channel)],
        now=when,
        responding=when <= until,
    )
    return ReplyVerdict(verdict.allowed, verdict.rule, verdict.detail, until)
