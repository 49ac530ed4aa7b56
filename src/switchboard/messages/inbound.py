"""Recording inbound messages, every channel's, through one path: a single message is a group
of one.

The busiest webhook's texts arrive many at once, and are written in groups (group_commit.py)
with one statement per step for the whole group: that is what lets the service take webhooks
faster than one transaction per webhook could. Every other message (an email, a call's turn
or its end-of-call report, a keyword) takes the same steps, in the same order; what only
some need (a reply's thread, a call's lock, a keyword, a call's end) is a step of its own
for those alone, inside the same transaction:

claim the deliveries (a duplicate stops there) · lock the calls · look up the senders and
the threads' open conversations · continue or open the conversations · mask what a call's
parties said · insert the messages with their audit records · heed keywords · close ended
calls · queue for a person the conversations a customer wrote on that nobody holds.

Card numbers are masked before a connection is taken: a body may be a megabyte of digits.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, NamedTuple
from uuid import UUID

import anyio
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from switchboard.assignments import service as assignments
from switchboard.audit import service as audit
from switchboard.audit.models import ActorType, AuditEntry
from switchboard.auth_sessions import service as auth_sessions
from switchboard.auth_sessions.codes import OtpConfig
from switchboard.conversations import service as conversations
from switchboard.conversations.models import Channel, ConversationRef
from switchboard.identities.service import IdentityChannel
from switchboard.messages import repository
from switchboard.messages.models import Direction, InboundMessage, MessageStatus, Recorded
from switchboard.messages.repository import Arrival, Received
from switchboard.messages.service import key, storable
from switchboard.preferences import service as preferences
from switchboard.preferences.keywords import heeded
from switchboard.preferences.models import ContactChannel
from switchboard.privacy import Identifier, mask_card_numbers, mask_cards_in
from switchboard.request_ids import REQUEST_ID, current_request_id

# Where a customer texts STOP or START to change what they receive on that channel.
_OPT_OUT_CHANNELS = {Channel.SMS: ContactChannel.SMS, Channel.WHATSAPP: ContactChannel.WHATSAPP}
_WRITTEN = frozenset({Channel.SMS, Channel.WHATSAPP, Channel.EMAIL})
# Where a sender's address is looked up in cc_identity_links, by the channel it wrote on.
IDENTITY_CHANNEL = {
    Channel.SMS: IdentityChannel.PHONE,
    Channel.VOICE: IdentityChannel.PHONE,
    Channel.WHATSAPP: IdentityChannel.WHATSAPP,
    Channel.EMAIL: IdentityChannel.EMAIL,
}
_DUPLICATE = Recorded(duplicate=True)
# Past this many characters to read, a group's card numbers are masked in a worker thread.
MASKED_IN_LOOP_CHARS = 4096
Body = tuple[str | None, dict[str, Any]]


class _Masked(NamedTuple):
    """A message fit to store, its card numbers masked, with the request that brought it."""

    message: InboundMessage
    body: Body
    request_id: str | None


async def record_inbound(
    pool: AsyncConnectionPool[Any],
    messages: Sequence[InboundMessage],
    *,
    request_ids: Sequence[str | None] | None = None,
    codes: OtpConfig | None = None,
) -> list[Recorded]:
    """Store inbound messages of one provider, event type and direction, each in its
    conversation with its audit record, in one transaction taken from `pool`; the results in
    the messages' order. A delivery seen before (or earlier in the same group) is a duplicate
    and writes nothing. `request_ids`: the id of the request that brought each (its audit
    record's), by default the current request's. `codes`: the key one-time codes are hashed
    with, to find a call's codes in what its parties said (without it, every run of digits
    that could be a code is masked once the conversation has had one)."""
    if not messages:
        return []
    ids = [current_request_id()] * len(messages) if request_ids is None else list(request_ids)
    stored = [storable_message(message) for message in messages]
    first = shared_in_group(stored[0])
    for message in stored:
        if shared_in_group(message) != first:
            raise ValueError("a group holds messages of one provider, event type and direction")
    # Before a connection is taken: masking a megabyte of digits (an email anyone can send)
    # must not hold one. Such a body is masked in a worker thread, or it would hold the event
    # loop and every other request too; a few texts are masked at once, as handing them to a
    # thread would cost the group's writer more than masking them.
    if sum(_chars(m.body_text) + _chars(m.body_json) for m in stored) <= MASKED_IN_LOOP_CHARS:
        bodies = _cards_masked(stored)
    else:
        bodies = await anyio.to_thread.run_sync(_cards_masked, stored)
    group = [_Masked(*row) for row in zip(stored, bodies, ids, strict=True)]
    async with pool.connection() as conn, conn.transaction():
        return await _record(conn, group, codes)


def _chars(value: Any) -> int:
    """The characters of the strings in a text or anything JSON holds: what masking reads."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(_chars(inner) for inner in value.values())
    if isinstance(value, list):
        return sum(_chars(inner) for inner in value)
    return 0


def shared_in_group(message: InboundMessage) -> tuple[str, str, str]:
    """What every message of a group shares: its provider, event type and direction."""
    return message.provider, message.event_type, message.direction


def _cards_masked(messages: list[InboundMessage]) -> list[Body]:
    return [masked_body(message.body_text, message.body_json) for message in messages]


async def _record(
    conn: AsyncConnection[Any], group: list[_Masked], codes: OtpConfig | None
) -> list[Recorded]:
    first = group[0].message
    claimed = await repository.claim_deliveries(
        conn, first.provider, first.event_type, [m.message.provider_message_id for m in group]
    )
    fresh = _first_of_each(group, claimed)
    if not fresh:
        return [_DUPLICATE] * len(group)
    for call_id in sorted({group[i].message.thread.key for i in fresh if _is_call(group[i])}):
        await conversations.lock_call(conn, call_id)
    looked_up = await repository.look_up(conn, [_arrival(group[i].message) for i in fresh])
    refs = await _conversations_of(conn, [group[i].message for i in fresh], looked_up)
    received = []
    for i, conversation in zip(fresh, refs, strict=True):
        message, body, request_id = group[i]
        if message.channel == Channel.VOICE:  # what a call's parties said may hold its codes
            body = await _codes_masked(conn, message, body, conversation.id, codes)
        received.append(_received(message, body, conversation, request_id))
    inserted = await repository.insert_received(
        conn,
        direction=first.direction,
        provider=first.provider,
        status=MessageStatus.RECEIVED,
        received=received,
    )
    results = [_DUPLICATE] * len(group)
    # Conversations a customer wrote on, which a person must read; the first request for each.
    written_to: dict[UUID, str | None] = {}
    first_words: dict[UUID, tuple[str | None, ...]] = {}  # what decides a first queue
    for i, row, found in zip(fresh, received, looked_up, strict=True):
        message_id = inserted.get(row.provider_message_id)
        if message_id is None:  # stored before the delivery ledger existed: the same message
            continue
        message = group[i].message
        results[i] = Recorded(False, message_id, row.conversation_id, row.audit["bank_customer_id"])
        if _for_a_person(message):
            written_to.setdefault(row.conversation_id, group[i].request_id)
            first_words.setdefault(row.conversation_id, _words(row.body_text, row.body_json))
        if _heeds_preferences(message):
            token = REQUEST_ID.set(group[i].request_id)  # the keyword's audit records' request
            try:
                await preferences.heed_inbound_text(
                    conn,
                    channel=_OPT_OUT_CHANNELS[message.channel],
                    body=message.body_text,
                    bank_customer_id=found.customer_id,  # the sender's own, not the thread's
                    conversation_id=row.conversation_id,
                    message_id=message_id,
                )
            finally:
                REQUEST_ID.reset(token)
        if message.thread.ends_call:
            await conversations.close(conn, row.conversation_id)
    if written_to:
        await assignments.queue_unheld(conn, written_to, first_words)
    return results


def _first_of_each(group: list[_Masked], claimed: set[str]) -> list[int]:
    """The positions of the deliveries claimed now, each delivery's first only."""
    fresh, seen = [], set()
    for i, masked in enumerate(group):
        key_ = masked.message.provider_message_id
        if key_ in claimed and key_ not in seen:
            fresh.append(i)
            seen.add(key_)
    return fresh


def _words(text: str | None, fields: dict[str, Any] | None) -> tuple[str | None, ...]:
    """What a customer wrote, as stored (card numbers masked): an email's subject and text."""
    subject = (fields or {}).get("subject")
    return (subject if isinstance(subject, str) else None, text)


def _is_call(masked: _Masked) -> bool:
    return masked.message.thread.one_per_call


def _for_a_person(message: InboundMessage) -> bool:
    """A customer's text or email, which a person answers; a call's turns are the assistant's
    until it hands the call over."""
    return message.direction == Direction.INBOUND and message.channel in _WRITTEN


def _heeds_preferences(message: InboundMessage) -> bool:
    return (
        message.direction == Direction.INBOUND
        and message.channel in _OPT_OUT_CHANNELS
        and heeded(message.body_text)
    )


async def _conversations_of(
    conn: AsyncConnection[Any], messages: list[InboundMessage], looked_up: list[repository.LookedUp]
) -> list[ConversationRef]:
    """Each message's conversation: a call's one, the one an email replies in, or its
    thread's open one (opened for it if there is none), in the messages' order."""
    refs: list[ConversationRef | None] = [None] * len(messages)
    threads: dict[tuple[str, str], UUID | None] = {}
    found: dict[tuple[str, str], tuple[UUID, UUID | None]] = {}
    for n, (message, seen) in enumerate(zip(messages, looked_up, strict=True)):
        if message.thread.one_per_call:
            refs[n] = await conversations.continue_or_open_call(
                conn, call_id=message.thread.key, bank_customer_id=seen.customer_id
            )
            continue
        if message.thread.replies_to:
            refs[n] = await conversations.continue_replied_to(
                conn,
                provider=message.provider,
                message_ids=list(message.thread.replies_to),
                bank_customer_id=seen.customer_id,
            )
            if refs[n] is not None:
                continue
        thread = _thread(message)
        threads.setdefault(thread, seen.customer_id)
        if seen.conversation is not None:
            found[thread] = seen.conversation
    by_thread = (
        await conversations.continue_or_open(
            conn, provider=messages[0].provider, threads=threads, found=found
        )
        if threads
        else {}
    )
    opened_before: set[tuple[str, str]] = set()
    for n, message in enumerate(messages):
        if refs[n] is None:
            conversation = by_thread[_thread(message)]
            if _thread(message) in opened_before:
                conversation = replace(conversation, created=False)  # an earlier one opened it
            opened_before.add(_thread(message))
            refs[n] = conversation
    return [ref for ref in refs if ref is not None]


async def _codes_masked(
    conn: AsyncConnection[Any],
    message: InboundMessage,
    body: Body,
    conversation_id: UUID,
    codes: OtpConfig | None,
) -> Body:
    mask_codes = await auth_sessions.code_masker(conn, conversation_id, codes)
    if mask_codes is None:
        return body
    return await anyio.to_thread.run_sync(_spoken_codes_masked, message, body, mask_codes)


def _spoken_codes_masked(
    message: InboundMessage, body: Body, mask_codes: Callable[[Any], Any]
) -> Body:
    """The one-time codes masked (auth_sessions.code_masker) in what was said, whatever
    became of them."""
    body_text, body_json = body
    return mask_codes(body_text), {
        name: mask_codes(value) if name in message.spoken_keys else value
        for name, value in body_json.items()
    }


def masked_body(body_text: str | None, body_json: dict[str, Any]) -> Body:
    """The text and payload to store: card numbers masked to their last four digits."""
    return (None if body_text is None else mask_card_numbers(body_text)), mask_cards_in(body_json)


def _arrival(message: InboundMessage) -> Arrival:
    return Arrival(
        IDENTITY_CHANNEL[message.channel], message.from_address, message.channel, message.thread.key
    )


def _thread(message: InboundMessage) -> tuple[str, str]:
    return str(message.channel), message.thread.key


def _received(
    message: InboundMessage, body: Body, conversation: ConversationRef, request_id: str | None
) -> Received:
    # Its message id is the statement's to add (insert_received).
    entry = _received_entry(message, conversation)
    return Received(
        conversation.id,
        message.provider_message_id,
        message.from_address,
        message.to_address,
        body[0],
        body[1],
        audit.record_values(entry, request_id),
    )


def _received_entry(message: InboundMessage, conversation: ConversationRef) -> AuditEntry:
    return AuditEntry(
        actor_type=ActorType.PROVIDER,
        actor_id=message.provider,
        event_type=message.event_type,
        success=True,
        input={
            "channel": message.channel,
            "provider_message_id": Identifier(message.provider_message_id),
            "from": message.from_address,
            "to": message.to_address,
            "body_chars": len(message.body_text or ""),
        },
        output={
            "conversation_id": conversation.id,
            "conversation_opened": conversation.created,
            "customer_recognised": conversation.bank_customer_id is not None,
        },
        conversation_id=conversation.id,
        bank_customer_id=conversation.bank_customer_id,
    )


def storable_message(message: InboundMessage) -> InboundMessage:
    thread = message.thread
    thread_key = key(thread.key)
    replies_to = tuple(key(i) for i in thread.replies_to)
    if thread_key != thread.key or replies_to != thread.replies_to:
        thread = replace(thread, key=thread_key, replies_to=replies_to)
    cleaned = {
        "provider_message_id": key(message.provider_message_id),
        "from_address": None if message.from_address is None else key(message.from_address),
        "to_address": None if message.to_address is None else key(message.to_address),
        "body_text": None if message.body_text is None else storable(message.body_text),
        "body_json": storable(message.body_json),
        "thread": thread,
    }
    # Nearly every message is storable as it came; a copy would cost more than the checks.
    if all(value == getattr(message, name) for name, value in cleaned.items()):
        return message
    return replace(message, **cleaned)
