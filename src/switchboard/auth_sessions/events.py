"""The audit records of code sessions: masked destination and counts, never a code or hash."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.audit import service as audit
from switchboard.audit.models import Actor, AuditEntry
from switchboard.auth_sessions.models import CODE_LIFETIME, MAX_SENDS, AuthSession, CodeMethod
from switchboard.errors import (
    OtpRateLimited,
    SwitchboardError,
    VerifyRejected,
    VerifyUnavailable,
)
from switchboard.providers.twilio_verify import VerifyError

if TYPE_CHECKING:
    from switchboard.auth_sessions.sending import Start


async def audit_session(
    conn: AsyncConnection[Any],
    actor: Actor,
    event_type: str,
    session: AuthSession,
    method: CodeMethod | None = None,
    *,
    error: SwitchboardError | None = None,
    failure: str | None = None,  # why, when it failed without an error to raise
    provider_error: VerifyError | None = None,
    **detail: Any,
) -> None:
    output: dict[str, Any] = {
        "session_id": str(session.id),
        "status": session.status,
        "channel": session.channel,
        "destination": session.destination,  # masked when stored
        "provider": session.provider,
        "provider_request_id": session.provider_request_id,
        "check_attempts": session.check_attempts,
        "expires_at": session.expires_at.isoformat(),
        **detail,
    }
    if provider_error is not None:
        output["provider_http_status"] = provider_error.http_status
        output["provider_error_code"] = provider_error.code
    await _append(
        conn,
        actor,
        event_type,
        conversation_id=session.conversation_id,
        bank_customer_id=session.bank_customer_id,
        input={"method": method.value} if method else {},
        output=output,
        error=error,
        failure=failure,
    )


async def audit_refused_send(
    conn: AsyncConnection[Any], actor: Actor, start: Start, error: OtpRateLimited
) -> None:
    """A start refused by the send limit: no session was written, so the record says all."""
    await _append(
        conn,
        actor,
        "auth.send_refused",
        conversation_id=start.conversation_id,
        bank_customer_id=start.bank_customer_id,
        input={"method": start.method.value, "channel": start.channel.value},
        output={
            "destination": start.masked,
            "sends_in_last_hour": MAX_SENDS,
            "retry_after_seconds": error.retry_after,
        },
        error=error,
    )


async def audit_check_without_session(
    conn: AsyncConnection[Any], actor: Actor, conversation_id: UUID, error: SwitchboardError
) -> None:
    await _append(
        conn,
        actor,
        "auth.check_refused",
        conversation_id=conversation_id,
        bank_customer_id=None,
        input={},
        output={},
        error=error,
    )


def send_refusal(exc: VerifyError) -> tuple[SwitchboardError, str]:
    """The error to raise for a refused Verify start, and the event to audit it under."""
    provider = f"Twilio Verify: {exc.message} (HTTP {exc.http_status}, error {exc.code})"
    if exc.http_status == 429:  # 60203: too many sends without a completed check
        limited = OtpRateLimited(
            f"too many codes sent to this destination; {provider}",
            hint="wait for the last code, or ask again in 10 minutes",
            retry_after=int(CODE_LIFETIME.total_seconds()),
        )
        return limited, "auth.send_refused"
    if exc.unavailable:
        return VerifyUnavailable(provider, hint="try again in a moment"), "auth.send_failed"
    return VerifyRejected(
        provider, hint="check the number and the Twilio Verify settings"
    ), "auth.send_failed"


async def _append(
    conn: AsyncConnection[Any],
    actor: Actor,
    event_type: str,
    *,
    conversation_id: UUID | None,
    bank_customer_id: UUID | None,
    input: dict[str, Any],
    output: dict[str, Any],
    error: SwitchboardError | None = None,
    failure: str | None = None,
) -> None:
    await audit.append(
        conn,
        AuditEntry(
            actor_type=actor.type,
            actor_id=actor.id,
            event_type=event_type,
            success=error is None and failure is None,
            input=input,
            output=output,
            error_code=error.code if error else failure,
            error_message=error.message if error else None,
            conversation_id=conversation_id,
            bank_customer_id=bank_customer_id,
        ),
    )
