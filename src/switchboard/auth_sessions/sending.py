"""Starting a code session: the destination check, the send limit, replacing older codes,
and handing the code to the outbound queue or to Twilio Verify."""

from __future__ import annotations

from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime
from math import ceil
from typing import Any
from uuid import UUID, uuid4

from psycopg import AsyncConnection

from switchboard.audit.models import Actor
from switchboard.auth_sessions import repository
from switchboard.auth_sessions.codes import OtpConfig, code_hmac, code_message, new_code
from switchboard.auth_sessions.events import audit_refused_send, audit_session, send_refusal
from switchboard.auth_sessions.models import (
    BUILTIN_PROVIDER,
    CODE_LIFETIME,
    MAX_SENDS,
    SEND_WINDOW,
    VERIFY_PROVIDER,
    AuthSession,
    CodeChannel,
    CodeMethod,
    CodeSender,
    SessionStatus,
    StartResult,
    verify_status,
)
from switchboard.conversations import service as conversations
from switchboard.errors import (
    OtpDestinationNotLinked,
    OtpNotSent,
    OtpRateLimited,
    SwitchboardError,
)
from switchboard.identities.service import IdentityChannel, resolve_customer
from switchboard.providers.twilio_verify import Verification, VerifyClient, VerifyError


@dataclass(frozen=True)
class Start:
    """One start request, its destination resolved."""

    actor: Actor
    conversation_id: UUID
    bank_customer_id: UUID
    channel: CodeChannel
    destination: str = field(repr=False)  # full, for sending only
    destination_hmac: bytes
    masked: str
    method: CodeMethod
    now: datetime


async def start_builtin(
    conn: AsyncConnection[Any], start: Start, sender: CodeSender, config: OtpConfig
) -> StartResult:
    """One transaction: the session, the queued message and the audit record, or none."""
    session_id = uuid4()
    code = new_code()
    error: SwitchboardError | None = None
    # A savepoint in the caller's transaction, not a joined block: the sender may raise (an
    # address it cannot send to, no key to seal the code) after the session was written, and a
    # tool answers with that error and commits.
    async with conn.transaction():
        opened = await _open_session(
            conn,
            start,
            session_id=session_id,
            provider=BUILTIN_PROVIDER,
            provider_request_id=f"switchboard:{session_id}",
            code_hmac=code_hmac(config, session_id, code),
        )
        if isinstance(opened, SwitchboardError):
            error = opened
        else:
            text, stored_text = code_message(config, code)
            queued = await sender(
                conn,
                start.actor,
                channel=start.channel.value,
                to_address=start.destination,
                text=text,
                stored_text=stored_text,
                conversation_id=start.conversation_id,
                bank_customer_id=start.bank_customer_id,
            )
            if queued:
                session = await repository.update_session(conn, session_id, status="sent")
                await audit_session(conn, start.actor, "auth.code_sent", session, start.method)
            else:
                error = OtpNotSent(f"the message with the code to {start.masked} was refused")
                session = await repository.update_session(conn, session_id, status="failed")
                await audit_session(
                    conn, start.actor, "auth.send_failed", session, start.method, error=error
                )
    if error is not None:
        raise error
    return _started(session)


async def start_with_verify(
    conn: AsyncConnection[Any], start: Start, verify: VerifyClient
) -> StartResult:
    """Two transactions around the API call: the session is committed before Twilio is asked,
    so the send is counted before it happens, and no transaction waits on the network."""
    async with conn.transaction():
        opened = await _open_session(
            conn,
            start,
            session_id=uuid4(),
            provider=VERIFY_PROVIDER,
            provider_request_id=None,
            code_hmac=None,
        )
        if not isinstance(opened, SwitchboardError):
            await audit_session(conn, start.actor, "auth.code_requested", opened[0], start.method)
    if isinstance(opened, SwitchboardError):
        raise opened
    session, replaced = opened
    for old in replaced:
        if old.provider == VERIFY_PROVIDER and old.provider_request_id:
            # Else Twilio would resend the old code; one already gone answers 20404.
            with suppress(VerifyError):
                await verify.cancel(verification_sid=old.provider_request_id)
    reply: Verification | VerifyError
    try:
        reply = await verify.start(to=start.destination, channel=start.channel.value)
    except VerifyError as exc:
        reply = exc
    async with conn.transaction():
        session, error = await _record_verify_start(conn, start, session.id, reply)
    if error is not None:
        raise error
    return _started(session)


async def _record_verify_start(
    conn: AsyncConnection[Any], start: Start, session_id: UUID, reply: Verification | VerifyError
) -> tuple[AuthSession, SwitchboardError | None]:
    session = await repository.lock_session(conn, session_id)
    if session is None:
        raise RuntimeError(f"auth session {session_id} vanished")
    still_open = session.status == SessionStatus.CREATED  # else a newer code replaced it
    if isinstance(reply, VerifyError):
        error, event = send_refusal(reply)
        if still_open:
            session = await repository.update_session(conn, session_id, status="failed")
        await audit_session(
            conn, start.actor, event, session, start.method, error=error, provider_error=reply
        )
        return session, error
    if not still_open:
        await audit_session(
            conn,
            start.actor,
            "auth.code_sent",
            session,
            start.method,
            verification_sid=reply.sid,  # not kept: the session was replaced meanwhile
            replaced_before_sent=True,
        )
        return session, None
    await repository.release_request_id(conn, VERIFY_PROVIDER, reply.sid, keep=session_id)
    status = verify_status(reply.status)
    session = await repository.update_session(
        conn, session_id, status=status, provider_request_id=reply.sid
    )
    if status is SessionStatus.SENT:
        await audit_session(conn, start.actor, "auth.code_sent", session, start.method)
        return session, None
    error = OtpNotSent(f"Twilio Verify answered {reply.status!r} for the code to {start.masked}")
    await audit_session(conn, start.actor, "auth.send_failed", session, start.method, error=error)
    return session, error


async def _open_session(
    conn: AsyncConnection[Any],
    start: Start,
    *,
    session_id: UUID,
    provider: str,
    provider_request_id: str | None,
    code_hmac: bytes | None,
) -> tuple[AuthSession, list[AuthSession]] | SwitchboardError:
    """The new session and the ones it replaced, or the refusal when the limit is reached."""
    await conversations.customer_of(conn, start.conversation_id)  # raises if there is none
    email = start.channel is CodeChannel.EMAIL
    identity = IdentityChannel.EMAIL if email else IdentityChannel.PHONE
    if await resolve_customer(conn, identity, start.destination) != start.bank_customer_id:
        raise OtpDestinationNotLinked(
            f"{start.masked} is not linked to this customer",
            hint="send the code to one of the customer's linked addresses",
        )
    await repository.lock_sending(conn, start.conversation_id, start.destination_hmac)
    sent, oldest = await repository.count_sends_since(
        conn, start.destination_hmac, start.now - SEND_WINDOW
    )
    if sent >= MAX_SENDS and oldest is not None:
        wait = ceil((oldest + SEND_WINDOW - start.now).total_seconds())
        error = OtpRateLimited(
            f"{MAX_SENDS} codes were sent to {start.masked} in the last hour",
            hint=f"another code may be sent in {ceil(max(wait, 1) / 60)} minute(s)",
            retry_after=max(wait, 1),
        )
        await audit_refused_send(conn, start.actor, start, error)
        return error
    replaced = await repository.cancel_replaceable(
        conn, start.conversation_id, start.destination_hmac
    )
    for old in replaced:
        await audit_session(conn, start.actor, "auth.cancelled", old, reason="replaced")
    session = await repository.insert_session(
        conn,
        session_id=session_id,
        bank_customer_id=start.bank_customer_id,
        conversation_id=start.conversation_id,
        channel=start.channel.value,
        destination=start.masked,
        destination_hmac=start.destination_hmac,
        provider=provider,
        provider_request_id=provider_request_id,
        code_hmac=code_hmac,
        created_at=start.now,
        expires_at=start.now + CODE_LIFETIME,
    )
    return session, replaced


def _started(session: AuthSession) -> StartResult:
    return StartResult(
        session_id=session.id,
        status=SessionStatus(session.status),
        destination=session.destination or "",
        expires_at=session.expires_at,
    )
