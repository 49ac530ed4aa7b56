"""Sending one-time codes, checking them, and the assurance a conversation has reached.

Each use case is one transaction, except a Twilio Verify start: two, around the API call.
Every state change is audited in the transaction that makes it. A refusal that recorded
something (a send refused by the limit, a code found expired) commits first and raises after,
so the record stays; a wrong code is a result, not an error, so its count is never undone.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.audit.models import Actor
from switchboard.auth_sessions import repository, sending
from switchboard.auth_sessions.checking import check_session, refusal_for
from switchboard.auth_sessions.codes import (
    OtpConfig,
    code_finder,
    destination_hmac,
    mask_destination,
    normalize_code,
)
from switchboard.auth_sessions.models import (
    ASSURANCE_WINDOW,
    Assurance,
    AssuranceLevel,
    CheckResult,
    CodeChannel,
    CodeMethod,
    CodeSender,
    StartResult,
)
from switchboard.conversations import service as conversations
from switchboard.db import within_transaction
from switchboard.enum_input import member_of
from switchboard.errors import ConversationNotFound, OtpNotConfigured
from switchboard.privacy import mask_digit_runs
from switchboard.providers.twilio_verify import VerifyClient


async def start_verification(
    conn: AsyncConnection[Any],
    actor: Actor,
    *,
    conversation_id: UUID,
    bank_customer_id: UUID,
    channel: str,
    destination: str,
    method: CodeMethod | str,
    sender: CodeSender | None,
    verify: VerifyClient | None,
    config: OtpConfig,
    now: datetime | None = None,
) -> StartResult:
    """Send a new code to `destination`, which must be one of the customer's linked addresses
    (the caller picks it from them, never from what a model says). The codes still open in
    this conversation or to this destination are cancelled."""
    how = member_of(CodeMethod, method, "code method")
    via = member_of(CodeChannel, channel, "code channel")
    address = destination.strip()
    start = sending.Start(
        actor=actor,
        conversation_id=conversation_id,
        bank_customer_id=bank_customer_id,
        channel=via,
        destination=address,
        destination_hmac=destination_hmac(config, address),
        masked=mask_destination(via, address),
        method=how,
        now=now or datetime.now(UTC),
    )
    if how is CodeMethod.BUILTIN:
        if sender is None:
            raise OtpNotConfigured("built-in codes need a sender to queue their message")
        return await sending.start_builtin(conn, start, sender, config)
    if verify is None:
        raise OtpNotConfigured("no Twilio Verify client is configured")
    return await sending.start_with_verify(conn, start, verify)


async def check_verification(
    conn: AsyncConnection[Any],
    actor: Actor,
    *,
    conversation_id: UUID,
    code: str,
    verify: VerifyClient | None,
    config: OtpConfig,
    now: datetime | None = None,
) -> CheckResult:
    """Check a code against the conversation's latest session.

    Returns the result when the code was checked, right or wrong (the fifth wrong one fails
    the session). Raises when it could not be: no code waiting, the code expired, already
    used or failed, Verify unreachable — after committing what that changed.
    """
    typed = normalize_code(code)
    when = now or datetime.now(UTC)
    # Joins the caller's transaction: what the check changed is kept, and its error raised,
    # only after the block, and the one error raised inside (no Verify client) comes before
    # any write.
    async with within_transaction(conn):
        session = await repository.lock_latest_session(conn, conversation_id)
        error = await refusal_for(conn, actor, conversation_id, session, when)
        result = None
        if error is None and session is not None:
            # The row stays locked through a Verify call, so two checks of one code take turns.
            result, error = await check_session(
                conn, actor, session, code=typed, verify=verify, config=config, now=when
            )
    if error is not None:
        raise error
    if result is None:  # refusal_for answers with an error whenever there is no session
        raise RuntimeError("a code check ended without a result")
    return result


async def assurance(
    conn: AsyncConnection[Any],
    *,
    conversation_id: UUID,
    bank_customer_id: UUID | None,
    now: datetime | None = None,
    email_otp_level_2: bool = False,
    matched: bool | None = None,
) -> Assurance:
    """0: unknown caller. 1: the conversation was matched to this customer through its
    caller's linked address. 2: a code sent to this customer was verified in this conversation
    within the last 15 minutes (an emailed code only with `email_otp_level_2`). `matched`:
    whether the conversation is matched to this customer, when the caller has just read it."""
    if bank_customer_id is None:
        return Assurance(AssuranceLevel.UNKNOWN, None, None)
    when = now or datetime.now(UTC)
    verified_at = await repository.latest_verification(
        conn,
        conversation_id,
        bank_customer_id,
        since=when - ASSURANCE_WINDOW,
        channels=verifying_channels(email_otp_level_2),
    )
    if verified_at is None and matched is None:  # the caller has not just read the customer
        try:
            matched = await conversations.customer_of(conn, conversation_id) == bank_customer_id
        except ConversationNotFound:
            matched = False
    return assurance_from(bank_customer_id, verified_at, matched=bool(matched))


def verifying_channels(email_otp_level_2: bool) -> list[str]:
    """The channels whose verified codes raise assurance to 2."""
    return [CodeChannel.SMS.value] + ([CodeChannel.EMAIL.value] if email_otp_level_2 else [])


def assurance_from(
    bank_customer_id: UUID | None, verified_at: datetime | None, *, matched: bool
) -> Assurance:
    """The level, from when a code on a verifying channel was last verified in this
    conversation for this customer within ASSURANCE_WINDOW (None if not), and whether the
    conversation is matched to this customer. For callers that read both themselves."""
    if bank_customer_id is None:
        return Assurance(AssuranceLevel.UNKNOWN, None, None)
    if verified_at is not None:
        return Assurance(AssuranceLevel.VERIFIED, bank_customer_id, verified_at + ASSURANCE_WINDOW)
    if matched:
        return Assurance(AssuranceLevel.LINKED, bank_customer_id, None)
    return Assurance(AssuranceLevel.UNKNOWN, None, None)


async def code_masker(
    conn: AsyncConnection[Any],
    conversation_id: UUID,
    config: OtpConfig | None,
    now: datetime | None = None,
) -> Callable[[Any], Any] | None:
    """How to keep the one-time codes of this conversation out of what its parties said (a
    text, or anything JSON holds), or None if it has never had a code.

    While a code may be read out, or when a code of the conversation cannot be compared
    (Twilio Verify's, which only Twilio knows, or with no key to hash with), every run of
    4 digits or more is masked. Otherwise the runs holding one of its codes, whatever became
    of their sessions (verified, failed, expired, cancelled), found by their hash."""
    sessions = await repository.code_sessions(conn, conversation_id, now or datetime.now(UTC))
    if not sessions:
        return None
    awaited = any(live for _, _, live in sessions)
    hashed = [(session_id, stored) for session_id, stored, _ in sessions if stored is not None]
    if awaited or config is None or len(hashed) < len(sessions):
        return mask_digit_runs
    holds_code = code_finder(config, hashed)
    return lambda value: mask_digit_runs(value, holds_code)
