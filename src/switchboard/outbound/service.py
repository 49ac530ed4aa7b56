"""Queueing an outbound message: the customer's preferences decide, and an allowed message is
stored and its send queued in one transaction (the caller's, when it has one open).

A refusal is returned, not raised, with its audit record written, so a caller's transaction
keeps the record of what was refused and why.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

from psycopg import AsyncConnection

from switchboard.audit import service as audit
from switchboard.audit.models import Actor, AuditEntry
from switchboard.conversations import service as conversations
from switchboard.conversations.models import Channel, ConversationRef, Provider
from switchboard.db import within_transaction
from switchboard.errors import InvalidInput
from switchboard.identities.service import IdentityChannel, resolve_customer
from switchboard.outbound import repository
from switchboard.outbound.config import Outbound
from switchboard.outbound.models import (
    OutboundConfig,
    OutboundRequest,
    Queued,
    SendingProvider,
    SendState,
)
from switchboard.outbound.queue import defer_send
from switchboard.preferences import service as preferences
from switchboard.preferences.models import ContactChannel
from switchboard.preferences.policy import may_send
from switchboard.privacy import mask_address, mask_card_numbers
from switchboard.sealing import seal

MAX_BODY = 1600  # Twilio's limit for one message body; emails are held to it too
MAX_SUBJECT = 200

_SENDABLE = {
    ContactChannel.SMS: (Channel.SMS, Provider.TWILIO, IdentityChannel.PHONE),
    ContactChannel.WHATSAPP: (Channel.WHATSAPP, Provider.TWILIO, IdentityChannel.WHATSAPP),
    ContactChannel.EMAIL: (Channel.EMAIL, Provider.SENDGRID, IdentityChannel.EMAIL),
}


async def queue_message(
    conn: AsyncConnection[Any],
    actor: Actor,
    request: OutboundRequest,
    *,
    outbound: Outbound,
    now: datetime | None = None,
) -> Queued:
    """Check the message against the customer's preferences, then store it and queue its
    send; both commit with the caller's transaction (joined), or on their own. `outbound` is
    the one the process built at start-up (config.outbound_for)."""
    channel, provider, identity_channel = _sendable(request)
    config = outbound.config
    # Joins the caller's transaction: each of its errors a caller may catch (a refusal of the
    # request, a seal without a key) is raised before the first write.
    async with within_transaction(conn):
        requested_in = None
        if request.conversation_id is not None:
            requested_in = await conversations.find(conn, request.conversation_id)
            if requested_in is None:
                raise InvalidInput(f"no conversation {request.conversation_id}")
        customer_id = (
            request.bank_customer_id
            or await resolve_customer(conn, identity_channel, request.to_address)
            or (requested_in.bank_customer_id if requested_in else None)
        )
        found = (
            None if customer_id is None else await preferences.get_preferences(conn, customer_id)
        )
        verdict = may_send(
            found,
            purpose=request.purpose,
            channel=request.channel,
            now=now or datetime.now(UTC),
            responding=request.responding,
        )
        if not verdict.allowed:
            await audit.append(
                conn,
                AuditEntry(
                    actor_type=actor.type,
                    actor_id=actor.id,
                    event_type="message.send_refused",
                    success=False,
                    error_code=verdict.rule,
                    error_message=verdict.detail,
                    input=_described(request),
                    conversation_id=requested_in.id if requested_in else None,
                    bank_customer_id=customer_id,
                ),
            )
            return Queued(False, None, verdict.rule, verdict.detail)
        message_id = uuid4()
        stored = (
            request.stored_text
            if request.stored_text is not None
            else mask_card_numbers(request.body_text)
        )
        # Whatever must not rest in clear (a code, a full card number) travels sealed.
        sealed = (
            None
            if stored == request.body_text
            else seal(config.seal_key, request.body_text, bound_to=message_id)
        )
        if requested_in is not None and requested_in.channel == channel:
            conversation = ConversationRef(requested_in.id, customer_id, created=False)
        else:
            conversation = await _thread(
                conn,
                config,
                channel=channel,
                provider=provider,
                request=request,
                customer_id=customer_id,
                message_id=message_id,
            )
        sending = SendingProvider.SANDBOX if config.mode_is_sandbox else SendingProvider(provider)
        await repository.insert_outbound_message(
            conn,
            message_id=message_id,
            conversation_id=conversation.id,
            provider=sending,
            from_address=config.email_from if channel == Channel.EMAIL else config.sms_from,
            to_address=request.to_address,
            body_text=stored,
            body_json=_body_json(request, requested_in.id if requested_in else None, sealed),
            provider_status=SendState.PENDING,
        )
        job_id = await defer_send(outbound.queue, conn, message_id, sealed)
        await audit.append(
            conn,
            AuditEntry(
                actor_type=actor.type,
                actor_id=actor.id,
                event_type="message.queued",
                success=True,
                input=_described(request),
                output={
                    "message_id": str(message_id),
                    "conversation_id": str(conversation.id),
                    "conversation_opened": conversation.created,
                    "provider": sending,
                    "job_id": job_id,
                    "sealed": sealed is not None,
                },
                conversation_id=conversation.id,
                bank_customer_id=conversation.bank_customer_id or customer_id,
            ),
        )
    return Queued(True, message_id)


def _sendable(request: OutboundRequest) -> tuple[Channel, Provider, IdentityChannel]:
    if request.channel not in _SENDABLE:
        raise InvalidInput(
            f"{request.channel} messages cannot be queued", hint="send sms, whatsapp or email"
        )
    if not request.to_address.strip() or request.to_address != request.to_address.strip():
        raise InvalidInput("to_address must be a normalised address (E.164 or an email)")
    if request.channel is ContactChannel.EMAIL:
        if "@" not in request.to_address:
            raise InvalidInput(f"{request.to_address!r} is not an email address")
        if not (request.subject or "").strip():
            raise InvalidInput("an email needs a subject")
        if len(request.subject or "") > MAX_SUBJECT:
            raise InvalidInput(f"the subject is over {MAX_SUBJECT} characters")
    elif not request.to_address.startswith("+"):
        raise InvalidInput(f"{request.to_address!r} is not an E.164 number")
    if not request.body_text.strip():
        raise InvalidInput("the message is empty")
    if len(request.body_text) > MAX_BODY:
        raise InvalidInput(f"the message is over {MAX_BODY} characters")
    if "\x00" in request.body_text or "\x00" in (request.stored_text or ""):
        raise InvalidInput("the message holds a NUL character")
    return _SENDABLE[request.channel]


async def _thread(
    conn: AsyncConnection[Any],
    config: OutboundConfig,
    *,
    channel: Channel,
    provider: Provider,
    request: OutboundRequest,
    customer_id: UUID | None,
    message_id: UUID,
) -> ConversationRef:
    """The conversation a message opens or continues when the caller named none (or one on
    another channel): the customer's thread on this channel, keyed as inbound messages key it."""
    if channel == Channel.EMAIL:
        # Replies find this conversation through the id SendGrid gives the message.
        key = f"outbound:{message_id}"
    else:
        ours = config.sms_from
        if ours is None:
            # A Messaging Service (or the sandbox) picks our number: continue whichever thread
            # the customer last used with us.
            found = await conversations.continue_latest_open_by_prefix(
                conn,
                channel=channel,
                thread_prefix=f"{request.to_address}|",
                bank_customer_id=customer_id,
            )
            if found is not None:
                return found
        key = f"{request.to_address}|{ours or config.messaging_service_sid or 'sandbox'}"
    thread = (str(channel), key)
    refs = await conversations.continue_or_open(
        conn, provider=provider, threads={thread: customer_id}
    )
    return refs[thread]


def _described(request: OutboundRequest) -> dict[str, Any]:
    """What the audit trail keeps of a request: never the text, never the full address."""
    return {
        "channel": request.channel,
        "purpose": request.purpose,
        "to": mask_address(request.to_address),
        "body_chars": len(request.body_text),
        **({"responding": True} if request.responding else {}),
    }


def _body_json(
    request: OutboundRequest, requested_in: UUID | None, sealed: str | None
) -> dict[str, Any]:
    kept: dict[str, Any] = {"purpose": request.purpose, "sealed": sealed is not None}
    if request.subject is not None:
        kept["subject"] = mask_card_numbers(request.subject)
    if requested_in is not None:
        kept["requested_in_conversation_id"] = str(requested_in)
    return kept
