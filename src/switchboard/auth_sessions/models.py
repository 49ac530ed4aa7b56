"""Code sessions, their rules, the results the services return, and the sender they use."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import IntEnum, StrEnum
from typing import Any, Protocol
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.audit.models import Actor

CODE_LIFETIME = timedelta(minutes=10)
MAX_CHECKS = 5  # per session; the fifth wrong code fails it
MAX_SENDS = 5  # per destination ...
SEND_WINDOW = timedelta(hours=1)  # ... in any hour
ASSURANCE_WINDOW = timedelta(minutes=15)  # a verified code raises assurance this long


class CodeMethod(StrEnum):
    BUILTIN = "builtin"  # Switchboard makes the code and sends it through the outbound queue
    TWILIO_VERIFY = "twilio_verify"


class CodeChannel(StrEnum):
    SMS = "sms"
    EMAIL = "email"


class SessionStatus(StrEnum):
    CREATED = "created"  # written, message not yet handed over
    SENT = "sent"  # a code is out and may be checked
    VERIFIED = "verified"
    FAILED = "failed"
    EXPIRED = "expired"
    CANCELLED = "cancelled"  # replaced by a newer code, or cancelled at the provider


# Statuses a newer code replaces ('pending' is the default of sessions from before 011).
REPLACEABLE = (SessionStatus.CREATED, SessionStatus.SENT, "pending")

# Built-in sessions carry provider 'other' (the 006 CHECK has no value of our own) and a
# provider_request_id of ours, so that every session row names its request the same way.
BUILTIN_PROVIDER = "other"
VERIFY_PROVIDER = "twilio_verify"

# Twilio Verify's statuses onto ours.
VERIFY_STATUSES: dict[str, SessionStatus] = {
    "pending": SessionStatus.SENT,
    "approved": SessionStatus.VERIFIED,
    "canceled": SessionStatus.CANCELLED,
    "max_attempts_reached": SessionStatus.FAILED,
    "failed": SessionStatus.FAILED,
    "expired": SessionStatus.EXPIRED,
    "deleted": SessionStatus.EXPIRED,
}


def verify_status(raw: str) -> SessionStatus:
    """Ours for a Verify status; one we do not know counts as failed, never as verified."""
    return VERIFY_STATUSES.get(raw, SessionStatus.FAILED)


class AssuranceLevel(IntEnum):
    UNKNOWN = 0  # nothing known about the caller
    LINKED = 1  # the caller's address is linked to the customer
    VERIFIED = 2  # a one-time code was verified in this conversation, recently


@dataclass(frozen=True)
class AuthSession:
    id: UUID
    bank_customer_id: UUID | None
    conversation_id: UUID | None
    status: str
    channel: str | None
    destination: str | None  # masked
    provider: str | None
    provider_request_id: str | None
    code_hmac: bytes | None
    check_attempts: int
    expires_at: datetime
    verified_at: datetime | None
    created_at: datetime


@dataclass(frozen=True)
class StartResult:
    session_id: UUID
    status: SessionStatus
    destination: str  # masked: +44••••••0123, j•••@example.com
    expires_at: datetime


@dataclass(frozen=True)
class CheckResult:
    verified: bool
    status: SessionStatus
    attempts_left: int
    reason: str | None  # None when verified; wrong_code, too_many_attempts, expired, cancelled


@dataclass(frozen=True)
class Assurance:
    level: AssuranceLevel
    bank_customer_id: UUID | None
    verified_until: datetime | None  # when level 2 lapses back to 1


class CodeSender(Protocol):
    """Queues the built-in code's message (wired to the outbound queue, purpose otp).

    Runs inside the start transaction; returns False if the message was refused. `text`
    holds the code; `stored_text` is the same message with the code masked, for storage.
    """

    async def __call__(
        self,
        conn: AsyncConnection[Any],
        actor: Actor,
        *,
        channel: str,
        to_address: str,
        text: str,
        stored_text: str,
        conversation_id: UUID | None,
        bank_customer_id: UUID | None,
    ) -> bool: ...
