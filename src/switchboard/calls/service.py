"""Recording a call's events: each in one transaction, each delivery once."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from switchboard.audit import service as audit
from switchboard.audit.models import ActorType, AuditEntry
from switchboard.auth_sessions.codes import OtpConfig
from switchboard.calls.models import CallEvent
from switchboard.conversations import service as conversations
from switchboard.conversations.models import Channel, Provider
from switchboard.deliveries import service as deliveries
from switchboard.identities.service import IdentityChannel, resolve_customer
from switchboard.messages import service as messages
from switchboard.messages.models import InboundMessage, Recorded
from switchboard.privacy import Identifier


async def record_call_event(conn: AsyncConnection[Any], event: CallEvent) -> Recorded:
    """Open or continue the call's conversation and audit the event, in one transaction; a
    delivery seen before stops at the first statement and writes nothing."""
    async with conn.transaction():
        if not await deliveries.claim(
            conn, provider=Provider.VAPI, event_key=event.event_key, event_type=event.event_type
        ):
            return Recorded(duplicate=True)
        customer_id = await resolve_customer(conn, IdentityChannel.PHONE, event.customer_address)
        conversation = await conversations.continue_call_or_open(
            conn, call_id=event.call_id, bank_customer_id=customer_id
        )
        await audit.append(
            conn,
            AuditEntry(
                actor_type=ActorType.PROVIDER,
                actor_id=Provider.VAPI,
                event_type=event.event_type,
                success=True,
                input={
                    "channel": Channel.VOICE,
                    "call_id": Identifier(event.call_id),
                    "from": event.customer_address,
                    "to": event.our_number,
                    **event.details,
                },
                output={
                    "conversation_id": str(conversation.id),
                    "conversation_opened": conversation.created,
                    "customer_recognised": conversation.bank_customer_id is not None,
                },
                conversation_id=conversation.id,
                bank_customer_id=conversation.bank_customer_id,
            ),
        )
        return Recorded(False, None, conversation.id, conversation.bank_customer_id)


async def record_call_ended(
    conn: AsyncConnection[Any], report: InboundMessage, codes: OtpConfig | None
) -> Recorded:
    """Store the end-of-call report as the call's last message and close its conversation,
    in one transaction. Its audit record is the message's own (event type call.ended);
    a redelivered report writes nothing. `codes` as for messages.record_inbound."""
    async with conn.transaction():
        recorded = await messages.record_inbound(conn, report, codes)
        if not recorded.duplicate and recorded.conversation_id is not None:
            await conversations.close(conn, recorded.conversation_id)
        return recorded
