"""Recording a call's events that are not messages (its status changes, history updates):
each in one transaction, each delivery once. Its turns and end-of-call report are messages
(messages/inbound.py)."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from switchboard.audit import service as audit
from switchboard.audit.models import ActorType, AuditEntry
from switchboard.calls.models import CallEvent
from switchboard.conversations import service as conversations
from switchboard.conversations.models import Channel, Provider
from switchboard.identities.service import IdentityChannel, resolve_customer
from switchboard.messages.models import Recorded
from switchboard.privacy import Identifier
from switchboard.webhook_ledger import service as webhook_ledger


async def record_call_event(conn: AsyncConnection[Any], event: CallEvent) -> Recorded:
    """Open or continue the call's conversation and audit the event, in one transaction; a
    delivery seen before stops at the first statement and writes nothing."""
    async with conn.transaction():
        if not await webhook_ledger.claim(
            conn, provider=Provider.VAPI, event_key=event.event_key, event_type=event.event_type
        ):
            return Recorded(duplicate=True)
        customer_id = await resolve_customer(conn, IdentityChannel.PHONE, event.customer_address)
        await conversations.lock_call(conn, event.call_id)
        conversation = await conversations.continue_or_open_call(
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
