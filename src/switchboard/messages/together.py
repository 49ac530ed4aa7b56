"""Recording several inbound texts in one transaction: the busiest webhook's group commit.

`record_inbound` spends seven round trips and a commit on each message. Texts that arrive
together (a burst, or many customers at once) are written here with one statement per step
for all of them, which is what lets the service take webhooks faster than one transaction
per webhook could. What each message ends as is exactly what `record_inbound` would make of
it; the messages that need more than the common path (keywords, voice, email threading) are
left to it.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.audit import service as audit
from switchboard.conversations import service as conversations
from switchboard.conversations.models import Channel, ConversationRef
from switchboard.messages import together_repository
from switchboard.messages.models import Direction, InboundMessage, MessageStatus, Recorded
from switchboard.messages.service import (
    IDENTITY_CHANNEL,
    masked_body,
    received_entry,
    storable_message,
)
from switchboard.messages.together_repository import Arrival, LookedUp, Received
from switchboard.preferences.keywords import heeded
from switchboard.request_ids import current_request_id

_TEXT_CHANNELS = (Channel.SMS, Channel.WHATSAPP)
_DUPLICATE = Recorded(duplicate=True)


def groupable(message: InboundMessage) -> bool:
    """An inbound SMS or WhatsApp text on the thread of its own key that asks nothing of its
    sender's preferences (a keyword changes them, a possible revocation is flagged)."""
    return (
        message.direction == Direction.INBOUND
        and message.channel in _TEXT_CHANNELS
        and not message.thread.replies_to
        and not message.thread.one_per_call
        and not heeded(message.body_text)
    )


async def record_inbound_together(
    conn: AsyncConnection[Any],
    messages: list[InboundMessage],
    request_ids: list[str | None] | None = None,
) -> list[Recorded]:
    """record_inbound for several groupable messages of one provider and event type, each
    with the id of the request that brought it (`request_ids`, for its audit record; by
    default the current request's), in one transaction
    whatever their number: three statements where their threads are open already, six at
    most; the results in the messages' order. A delivery that comes twice among them is
    recorded once, the second being a duplicate, as it would be one after the other."""
    if not messages:
        return []
    ids = [current_request_id()] * len(messages) if request_ids is None else request_ids
    messages = [storable_message(message) for message in messages]
    first = messages[0]
    for message in messages:
        if not groupable(message):
            raise ValueError(f"{message.provider_message_id} cannot be recorded in a group")
        if (message.provider, message.event_type) != (first.provider, first.event_type):
            raise ValueError("a group holds messages of one provider and event type")
    results = [_DUPLICATE] * len(messages)
    async with conn.transaction():
        looked_up = await together_repository.claim_and_look_up(
            conn, first.provider, first.event_type, [_arrival(m) for m in messages]
        )
        fresh = _first_of_each(messages, looked_up)
        if not fresh:
            return results
        threads: dict[tuple[str, str], UUID | None] = {}
        found: dict[tuple[str, str], tuple[UUID, UUID | None]] = {}
        for i in fresh:
            threads.setdefault(_thread(messages[i]), looked_up[i].customer_id)
            open_one = looked_up[i].conversation
            if open_one is not None:
                found[_thread(messages[i])] = open_one
        refs = await conversations.continue_or_open_many(
            conn, provider=first.provider, threads=threads, found=found
        )
        received, opened_before = [], set()
        for i in fresh:
            conversation = refs[_thread(messages[i])]
            if _thread(messages[i]) in opened_before:
                conversation = replace(conversation, created=False)  # an earlier one opened it
            opened_before.add(_thread(messages[i]))
            received.append(_received(messages[i], conversation, ids[i]))
        inserted = await together_repository.insert_received(
            conn,
            direction=Direction.INBOUND,
            provider=first.provider,
            status=MessageStatus.RECEIVED,
            received=received,
        )
    for i, row in zip(fresh, received, strict=True):
        message_id = inserted.get(row.provider_message_id)
        if message_id is not None:  # else stored before the delivery ledger: the same message
            results[i] = Recorded(
                False, message_id, row.conversation_id, row.audit["bank_customer_id"]
            )
    return results


def _first_of_each(messages: list[InboundMessage], looked_up: list[LookedUp]) -> list[int]:
    """The positions of the messages claimed now, each delivery's first only."""
    fresh, seen = [], set()
    for i, (message, found) in enumerate(zip(messages, looked_up, strict=True)):
        if found.claimed and message.provider_message_id not in seen:
            fresh.append(i)
            seen.add(message.provider_message_id)
    return fresh


def _arrival(message: InboundMessage) -> Arrival:
    return Arrival(
        message.provider_message_id,
        IDENTITY_CHANNEL[message.channel],
        message.from_address,
        message.channel,
        message.thread.key,
    )


def _thread(message: InboundMessage) -> tuple[str, str]:
    return str(message.channel), message.thread.key


def _received(
    message: InboundMessage, conversation: ConversationRef, request_id: str | None
) -> Received:
    body_text, body_json = masked_body(message)
    # Its message id is the statement's to add (insert_received).
    entry = received_entry(message, None, conversation)
    return Received(
        conversation.id,
        message.provider_message_id,
        message.from_address,
        message.to_address,
        body_text,
        body_json,
        audit.record_values(entry, request_id),
    )
