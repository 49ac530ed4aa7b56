"""Checking a code against a locked session: the built-in HMAC or Twilio Verify, and the
attempt count that holds for both."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.audit.models import Actor
from switchboard.auth_sessions import repository
from switchboard.auth_sessions.codes import OtpConfig, code_matches
from switchboard.auth_sessions.events import audit_check_without_session, audit_session
from switchboard.auth_sessions.models import (
    MAX_CHECKS,
    VERIFY_PROVIDER,
    AuthSession,
    CheckResult,
    SessionStatus,
    verify_status,
)
from switchboard.errors import (
    OtpAlreadyUsed,
    OtpExpired,
    OtpFailed,
    OtpNoLiveSession,
    OtpNotConfigured,
    SwitchboardError,
    VerifyRejected,
    VerifyUnavailable,
)
from switchboard.providers.twilio_verify import VerifyClient, VerifyError

_EVENTS = {
    SessionStatus.SENT: "auth.check_failed",  # a wrong code, tries left
    SessionStatus.VERIFIED: "auth.verified",
    SessionStatus.FAILED: "auth.failed",
    SessionStatus.EXPIRED: "auth.expired",
    SessionStatus.CANCELLED: "auth.cancelled",
}


@dataclass(frozen=True)
class _Outcome:
    status: SessionStatus  # what the check makes of the session (SENT: wrong, or not checked)
    reason: str | None
    error: SwitchboardError | None = None  # the check could not be made: raised after commit
    provider_error: VerifyError | None = None


_WRONG = _Outcome(SessionStatus.SENT, "wrong_code")


async def refusal_for(
    conn: AsyncConnection[Any],
    actor: Actor,
    conversation_id: UUID,
    session: AuthSession | None,
    now: datetime,
) -> SwitchboardError | None:
    """Why this session cannot take a check (audited; a lapsed code is marked expired), or
    None when it can."""
    if session is None:
        error: SwitchboardError = OtpNoLiveSession(
            "this conversation has no code waiting to be checked", hint="send a code first"
        )
        await audit_check_without_session(conn, actor, conversation_id, error)
        return error
    if session.status == SessionStatus.SENT:
        if session.expires_at > now:
            return None
        expired = await repository.update_session(conn, session.id, status="expired")
        error = OtpExpired("the code has expired", hint="send a new code")
        await audit_session(conn, actor, "auth.expired", expired, error=error)
        return error
    if session.status == SessionStatus.VERIFIED:
        error = OtpAlreadyUsed("the code was already used", hint="send a new code")
    elif session.status == SessionStatus.FAILED and session.check_attempts > 0:
        error = OtpFailed("the code failed: too many wrong tries", hint="send a new code")
    elif session.status == SessionStatus.EXPIRED:
        error = OtpExpired("the code has expired", hint="send a new code")
    else:  # never sent (created, or failed to send), cancelled (replaced), or before 011
        error = OtpNoLiveSession("no code is waiting to be checked", hint="send a new code")
    await audit_session(conn, actor, "auth.check_refused", session, error=error)
    return error


async def check_session(
    conn: AsyncConnection[Any],
    actor: Actor,
    session: AuthSession,
    *,
    code: str,
    verify: VerifyClient | None,
    config: OtpConfig,
    now: datetime,
) -> tuple[CheckResult, SwitchboardError | None]:
    """Every check of a live code counts, whatever its outcome; the fifth wrong one fails it."""
    if session.provider == VERIFY_PROVIDER:
        outcome = await _verify_outcome(session, code, verify)
    else:
        stored = session.code_hmac
        matched = stored is not None and code_matches(config, session.id, code, stored)
        outcome = _Outcome(SessionStatus.VERIFIED, None) if matched else _WRONG
    attempts = session.check_attempts + 1
    status, reason = outcome.status, outcome.reason
    if status is SessionStatus.SENT and attempts >= MAX_CHECKS:
        status = SessionStatus.FAILED
        reason = "too_many_attempts" if reason == "wrong_code" else reason
    verified = status is SessionStatus.VERIFIED
    updated = await repository.update_session(
        conn,
        session.id,
        status=status,
        check_attempts=attempts,
        verified_at=now if verified else None,
    )
    await audit_session(
        conn,
        actor,
        _EVENTS[status],
        updated,
        error=outcome.error,
        failure=None if verified or outcome.error else reason,
        provider_error=outcome.provider_error,
    )
    result = CheckResult(
        verified=verified,
        status=status,
        attempts_left=max(MAX_CHECKS - attempts, 0),
        reason=None if verified else reason,
    )
    return result, outcome.error


async def _verify_outcome(session: AuthSession, code: str, verify: VerifyClient | None) -> _Outcome:
    if verify is None:
        raise OtpNotConfigured("this code was sent by Twilio Verify, and no client is configured")
    if not session.provider_request_id:
        return _Outcome(SessionStatus.FAILED, "no_verification")
    try:
        reply = await verify.check(verification_sid=session.provider_request_id, code=code)
    except VerifyError as exc:
        return _verify_error(exc)
    status = verify_status(reply.status)
    if status is SessionStatus.VERIFIED:
        return _Outcome(status, None)
    if status is SessionStatus.SENT:  # Verify answers a wrong code with 200 and "pending"
        return _WRONG
    exhausted = reply.status == "max_attempts_reached"
    return _Outcome(status, "too_many_attempts" if exhausted else status.value)


def _verify_error(exc: VerifyError) -> _Outcome:
    provider = f"Twilio Verify: {exc.message} (HTTP {exc.http_status}, error {exc.code})"
    if exc.code == 20404 or exc.http_status == 404:  # approved, expired or deleted: gone
        error: SwitchboardError = OtpExpired(provider, hint="send a new code")
        return _Outcome(SessionStatus.EXPIRED, "expired", error, exc)
    if exc.code == 60202 or exc.http_status == 429:  # max check attempts reached
        error = OtpFailed(provider, hint="send a new code")
        return _Outcome(SessionStatus.FAILED, "too_many_attempts", error, exc)
    if exc.unavailable:
        error = VerifyUnavailable(provider, hint="ask for the code again in a moment")
        return _Outcome(SessionStatus.SENT, "provider_unavailable", error, exc)
    error = VerifyRejected(provider, hint="check the Twilio Verify settings")
    return _Outcome(SessionStatus.SENT, "provider_rejected", error, exc)
