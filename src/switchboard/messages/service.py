"""Recording what the providers tell us: inbound messages and status reports, each once."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import replace
from typing import Any
from uuid import UUID

import anyio
from psycopg import AsyncConnection

from switchboard.audit import service as audit
from switchboard.audit.models import ActorType, AuditEntry
from switchboard.auth_sessions import service as auth_sessions
from switchboard.auth_sessions.codes import OtpConfig
from switchboard.conversations import service as conversations
from switchboard.conversations.models import Channel, ConversationRef
from switchboard.deliveries import service as deliveries
from switchboard.identities.service import IdentityChannel, resolve_customer
from switchboard.messages import repository
from switchboard.messages.models import (
    Direction,
    InboundMessage,
    MessageStatus,
    Recorded,
    StatusReport,
)
from switchboard.messages.status import moves_forward
from switchboard.preferences import service as preferences
from switchboard.preferences.models import ContactChannel
from switchboard.privacy import Identifier, mask_card_numbers, mask_cards_in

# PostgreSQL stores neither NUL characters nor lone surrogates, in text or in jsonb; anyone
# who can send an email can put them in one.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Ids become unique-index keys; past this length they are stored as their hash.
MAX_KEY_LENGTH = 200


def storable(value: Any) -> Any:
    """The same JSON-like value without the characters PostgreSQL cannot store."""
    if isinstance(value, str):
        return UNSTORABLE.sub("", value)
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


def key(value: str) -> str:
    """An id fit for a unique index: itself, or its SHA-256 when too long or unstorable."""
    if len(value) <= MAX_KEY_LENGTH and not UNSTORABLE.search(value):
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha256:{digest}"


# Where a customer texts STOP or START to change what they receive on that channel.
_OPT_OUT_CHANNELS = {Channel.SMS: ContactChannel.SMS, Channel.WHATSAPP: ContactChannel.WHATSAPP}
# Where a sender's address is looked up in cc_identity_links, by the channel it wrote on.
IDENTITY_CHANNEL = {
    Channel.SMS: IdentityChannel.PHONE,
    Channel.VOICE: IdentityChannel.PHONE,
    Channel.WHATSAPP: IdentityChannel.WHATSAPP,
    Channel.EMAIL: IdentityChannel.EMAIL,
}


async def record_inbound(
    conn: AsyncConnection[Any], message: InboundMessage, codes: OtpConfig | None = None
) -> Recorded:
    """Store one inbound message in its conversation, with its audit record, in one
    transaction; a delivery seen before stops at the first statement and writes nothing.
    `codes`: the key one-time codes are hashed with, to find the conversation's codes in what
    a call's parties said (without it, every run of digits that could be a code is masked
    once the conversation has had one)."""
    message = storable_message(message)
    async with conn.transaction():
        if not await deliveries.claim(
            conn,
            provider=message.provider,
            event_key=message.provider_message_id,
            event_type=message.event_type,
        ):
            return Recorded(duplicate=True)
        customer_id = await resolve_customer(
            conn, IDENTITY_CHANNEL[message.channel], message.from_address
        )
        conversation = await _conversation_for(conn, message, customer_id)
        mask_codes = None
        if message.channel == Channel.VOICE:  # what a call's parties said may hold its codes
            mask_codes = await auth_sessions.code_masker(conn, conversation.id, codes)
        # Masking is linear, but a megabyte of digits (an email anyone can send) would still
        # hold the event loop and every other request: it runs in a worker thread.
        body_text, body_json = await anyio.to_thread.run_sync(masked_body, message, mask_codes)
        message_id = await repository.insert_message_unless_present(
            conn,
            conversation_id=conversation.id,
            direction=message.direction,
            provider=message.provider,
            provider_message_id=message.provider_message_id,
            from_address=message.from_address,
            to_address=message.to_address,
            body_text=body_text,
            body_json=body_json,
            status=MessageStatus.RECEIVED,
        )
        if message_id is None:
            # Stored before the delivery ledger existed (or by another path): same message.
            return Recorded(duplicate=True)
        await audit.append(conn, received_entry(message, message_id, conversation))
        if message.direction == Direction.INBOUND and message.channel in _OPT_OUT_CHANNELS:
            await preferences.heed_inbound_text(
                conn,
                channel=_OPT_OUT_CHANNELS[message.channel],
                body=message.body_text,
                bank_customer_id=customer_id,  # the sender's own, not the thread's
                conversation_id=conversation.id,
                message_id=message_id,
            )
        return Recorded(False, message_id, conversation.id, conversation.bank_customer_id)


def masked_body(
    message: InboundMessage, mask_codes: Callable[[Any], Any] | None = None
) -> tuple[str | None, dict[str, Any]]:
    """The text and payload to store: card numbers masked to their last four digits, and
    with `mask_codes` (auth_sessions.code_masker) the one-time codes in what was said,
    whatever became of them."""
    body_text, body_json = message.body_text, message.body_json
    if mask_codes is not None:
        body_text = mask_codes(body_text)
        body_json = {
            key: mask_codes(value) if key in message.spoken_keys else value
            for key, value in body_json.items()
        }
    masked_text = None if body_text is None else mask_card_numbers(body_text)
    return masked_text, mask_cards_in(body_json)


def received_entry(
    message: InboundMessage, message_id: UUID | None, conversation: ConversationRef
) -> AuditEntry:
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
            "message_id": message_id,
            "conversation_id": conversation.id,
            "conversation_opened": conversation.created,
            "customer_recognised": conversation.bank_customer_id is not None,
        },
        conversation_id=conversation.id,
        bank_customer_id=conversation.bank_customer_id,
    )


async def record_status(conn: AsyncConnection[Any], report: StatusReport) -> Recorded:
    """Apply a delivery report if it moves the message forward; audit it either way."""
    report = replace(
        report,
        provider_message_id=key(report.provider_message_id),
        event_key=key(report.event_key),
        raw_status=storable(report.raw_status),
        error_code=None if report.error_code is None else storable(report.error_code),
        details=storable(report.details),
    )
    async with conn.transaction():
        if not await deliveries.claim(
            conn,
            provider=report.provider,
            event_key=report.event_key,
            event_type="message.status",
        ):
            return Recorded(duplicate=True)
        found = await repository.lock_message(conn, report.provider, report.provider_message_id)
        if found is None and report.message_id is not None:
            # Sent by us, its report arriving before the worker stored the provider's id.
            found = await repository.lock_outbound_awaiting_id(
                conn, report.message_id, report.provider, report.provider_message_id
            )
        if found is None:
            await audit.append(
                conn, _status_entry(report, success=False, outcome="unknown_message")
            )
            return Recorded(duplicate=False)
        message_id, conversation_id, current = found
        current_status = MessageStatus(current) if current else None
        applied = report.status is not None and moves_forward(current_status, report.status)
        if applied and report.status is not None:
            await repository.update_status(
                conn,
                message_id,
                status=report.status,
                provider_status=report.raw_status,
                error_code=report.error_code,
                provider_message_id=report.provider_message_id,
            )
        outcome = "applied" if applied else ("no_status" if report.status is None else "stale")
        await audit.append(
            conn,
            _status_entry(
                report,
                success=True,
                outcome=outcome,
                previous=current,
                message_id=message_id,
                conversation_id=conversation_id,
            ),
        )
        return Recorded(False, message_id, conversation_id)


async def _conversation_for(
    conn: AsyncConnection[Any], message: InboundMessage, customer_id: Any
) -> ConversationRef:
    if message.thread.one_per_call:
        return await conversations.continue_call_or_open(
            conn, call_id=message.thread.key, bank_customer_id=customer_id
        )
    replied = await conversations.continue_thread_of(
        conn,
        provider=message.provider,
        message_ids=list(message.thread.replies_to),
        bank_customer_id=customer_id,
    )
    if replied is not None:
        return replied
    return await conversations.continue_or_open(
        conn,
        channel=message.channel,
        provider=message.provider,
        thread_key=message.thread.key,
        bank_customer_id=customer_id,
    )


def _status_entry(
    report: StatusReport,
    *,
    success: bool,
    outcome: str,
    previous: str | None = None,
    message_id: UUID | None = None,
    conversation_id: Any = None,
) -> AuditEntry:
    return AuditEntry(
        actor_type=ActorType.PROVIDER,
        actor_id=report.provider,
        event_type="message.status",
        success=success,
        error_code=None if success else outcome,
        input={
            "provider_message_id": Identifier(report.provider_message_id),
            "provider_status": report.raw_status,
            "error_code": report.error_code,
            **report.details,
        },
        output={
            "outcome": outcome,
            "previous": previous,
            "status": report.status if outcome == "applied" else previous,
            "message_id": message_id,
        },
        conversation_id=conversation_id,
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
