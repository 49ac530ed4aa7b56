"""An agent's actions on a conversation and its cases: each one transaction with one audit
record (actor_type agent; what its later steps record, such as the SLA clocks a reply meets, is
folded into it: audit.one_record), and each first asks PostgreSQL, in the agent's name, whether the
agent may see what it acts on: if not, it is not found, as if it did not exist.

Replies: a text or email to the customer who wrote in, through the outbound queue with the
purpose `service`. A reply within REPLY_WINDOW of the customer's last message answers them:
it is a response, not a solicitation, and quiet hours do not hold it back (do-not-contact and
the customer's allowed channels still do). A reply names the newest message its writer saw:
if anyone (the customer, another agent) wrote since, it is refused, naming the newest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.agent_actions import repository
from switchboard.agent_actions.repository import Seen
from switchboard.assignments import service as assignments
from switchboard.audit import service as audit
from switchboard.audit.models import Actor, ActorType, AuditEntry
from switchboard.cases import service as cases
from switchboard.cases.models import Case, CaseStatus
from switchboard.conversations.models import Channel
from switchboard.errors import (
    CannotReply,
    CaseNotFound,
    ConversationNotFound,
    InvalidInput,
    StaleReply,
)
from switchboard.outbound import service as outbound_service
from switchboard.outbound.config import Outbound
from switchboard.outbound.models import OutboundRequest, Queued
from switchboard.preferences.models import ContactChannel, Purpose
from switchboard.privacy import mask_card_numbers
from switchboard.row_security import AgentClaims, act_as_agent, act_as_service
from switchboard.sla import regulatory
from switchboard.sla import service as sla

REPLY_WINDOW = timedelta(hours=24)
# Cases with clocks set by regulation: Regulation E's for disputes, the CFPB's for complaints.
REGULATED = frozenset({"disputes", "complaints"})


@dataclass(frozen=True)
class RegulatoryNotice:
    """What a dispute's clocks depend on: the message that was the customer's notice (None:
    their first message in the conversation), and Regulation E's longer-clock cases."""

    message_id: UUID | None = None
    new_account: bool = False
    point_of_sale: bool = False
    foreign_initiated: bool = False


MAX_NOTE = 4000
REPLY_CHANNELS = {
    Channel.SMS: ContactChannel.SMS,
    Channel.WHATSAPP: ContactChannel.WHATSAPP,
    Channel.EMAIL: ContactChannel.EMAIL,
}


def actor_of(agent: AgentClaims) -> Actor:
    return Actor(ActorType.AGENT, str(agent.agent_id))


async def seen_by(conn: AsyncConnection[Any], agent: AgentClaims, conversation_id: UUID) -> Seen:
    """The conversation as the agent may see it (else not found); then the service's role."""
    await act_as_agent(conn, agent, reading=conversation_id)
    seen = await repository.visible_conversation(conn, conversation_id)
    if seen is None:
        raise ConversationNotFound(f"no conversation {conversation_id}")
    await act_as_service(conn)
    return seen


async def reply(
    conn: AsyncConnection[Any],
    agent: AgentClaims,
    conversation_id: UUID,
    *,
    text: str,
    last_seen_message_id: UUID | None,
    outbound: Outbound,
    subject: str | None = None,
    now: datetime | None = None,
) -> Queued:
    """Queue the agent's reply to the customer of the conversation, on its channel. Refused
    (StaleReply) if its newest message is not `last_seen_message_id` (None: there was none);
    refused by the customer's preferences as the outbound queue refuses (Queued.allowed)."""
    body = text.strip()
    if not body:
        raise InvalidInput("the reply is empty")
    when = now or datetime.now(UTC)
    async with conn.transaction(), audit.one_record(conn):
        seen = await seen_by(conn, agent, conversation_id)
        if seen.channel not in REPLY_CHANNELS:
            raise CannotReply(
                f"a {seen.channel} conversation cannot be answered in writing",
                hint="reply on the customer's text or email conversation",
            )
        latest = await repository.lock_and_read_latest(conn, conversation_id)
        if latest.message_id != last_seen_message_id:
            raise StaleReply(
                f"the conversation has a newer message ({latest.message_id}) than the one the "
                f"reply was written after ({last_seen_message_id})",
                hint="read the conversation again, then reply",
            )
        if latest.customer_address is None or latest.customer_wrote_at is None:
            raise CannotReply("the customer has not written in this conversation")
        queued = await outbound_service.queue_message(
            conn,
            actor_of(agent),
            OutboundRequest(
                channel=REPLY_CHANNELS[Channel(seen.channel)],
                to_address=latest.customer_address,
                purpose=Purpose.SERVICE,
                body_text=body,
                subject=subject,
                conversation_id=conversation_id,
                bank_customer_id=seen.bank_customer_id,
                responding=when - latest.customer_wrote_at <= REPLY_WINDOW,
            ),
            outbound=outbound,
            now=when,
        )
        if queued.allowed:  # a human's answer: the conversation's response clock is met
            await sla.reply_sent(conn, conversation_id, at=when, by=actor_of(agent))
        return queued


async def add_note(
    conn: AsyncConnection[Any], agent: AgentClaims, conversation_id: UUID, body: str
) -> UUID:
    """An internal note on the conversation: for colleagues, never sent to the customer."""
    text = mask_card_numbers(body.strip())
    if not text:
        raise InvalidInput("the note is empty")
    if len(text) > MAX_NOTE:
        raise InvalidInput(f"a note is at most {MAX_NOTE} characters")
    async with conn.transaction(), audit.one_record(conn):
        seen = await seen_by(conn, agent, conversation_id)
        note_id = await repository.insert_note(conn, conversation_id, agent.agent_id, text)
        await audit.append(
            conn,
            AuditEntry(
                actor_type=ActorType.AGENT,
                actor_id=str(agent.agent_id),
                event_type="conversation.note_added",
                success=True,
                input={"body_chars": len(text)},
                output={"note_id": note_id},
                conversation_id=conversation_id,
                bank_customer_id=seen.bank_customer_id,
            ),
        )
    return note_id


async def open_case(
    conn: AsyncConnection[Any],
    agent: AgentClaims,
    conversation_id: UUID,
    *,
    case_type: str,
    summary: str,
    priority: str = "normal",
    notice: RegulatoryNotice | None = None,
) -> Case:
    """A case for the conversation's customer, opened from the conversation. A dispute or a
    complaint gets its regulatory clocks (sla.regulatory) from when the customer first
    reported: the message the agent marks as the notice, else the customer's first message in
    the conversation, else now."""
    async with conn.transaction(), audit.one_record(conn):
        seen = await seen_by(conn, agent, conversation_id)
        case = await cases.open_case(
            conn,
            actor_of(agent),
            case_type=case_type,
            priority=priority,
            summary=summary,
            bank_customer_id=seen.bank_customer_id,
            conversation_id=conversation_id,
        )
        if case.case_type in REGULATED:
            notice = notice or RegulatoryNotice()
            reported = None
            if notice.message_id is None:
                reported = await repository.first_inbound_at(conn, conversation_id)
                reported = reported or datetime.now(UTC)
            await regulatory.start_case_clocks(
                conn,
                case.id,
                actor=actor_of(agent),
                reported_at=reported,
                notice_message_id=notice.message_id,
                new_account=notice.new_account,
                point_of_sale=notice.point_of_sale,
                foreign_initiated=notice.foreign_initiated,
            )
    return case


async def move_case(
    conn: AsyncConnection[Any], agent: AgentClaims, case_id: UUID, to_status: str
) -> Case:
    """The case's next status, if the workflow allows it (else IllegalCaseTransition, 409).
    Its conversation's clocks follow: waiting on the customer pauses them, resolved resolves
    them, and a resolved case reopened queues its conversation again (for its last agent
    first) unless someone holds it."""
    async with conn.transaction(), audit.one_record(conn):
        await _case_seen_by(conn, agent, case_id)
        before = await repository.case_status(conn, case_id)
        moved = await cases.move_case(conn, actor_of(agent), case_id, to_status)
        conversation = moved.conversation_id
        if conversation is not None:
            await _follow(conn, agent, conversation, before, moved.status)
    return moved


async def _follow(
    conn: AsyncConnection[Any], agent: AgentClaims, conversation: UUID, before: str, after: str
) -> None:
    now = datetime.now(UTC)
    if after == CaseStatus.WAITING_CUSTOMER:
        await sla.pause_clocks(conn, conversation, at=now, actor=actor_of(agent))
    elif after == CaseStatus.RESOLVED:
        await sla.resolve_clocks(conn, conversation, at=now, actor=actor_of(agent))
    elif before == CaseStatus.RESOLVED and after == CaseStatus.IN_PROGRESS:
        # Queued unless someone holds it or it waits already; to its last agent first.
        await assignments.enqueue_inbound(conn, actor_of(agent), conversation_id=conversation)


async def note_case(
    conn: AsyncConnection[Any], agent: AgentClaims, case_id: UUID, body: str
) -> UUID:
    async with conn.transaction(), audit.one_record(conn):
        await _case_seen_by(conn, agent, case_id)
        return await cases.add_note(conn, actor_of(agent), case_id, body)


async def _case_seen_by(conn: AsyncConnection[Any], agent: AgentClaims, case_id: UUID) -> None:
    await act_as_agent(conn, agent)
    if not await repository.visible_case(conn, case_id):
        raise CaseNotFound(f"no case {case_id}")
    await act_as_service(conn)
