"""What a tool runs with: the connection, who is acting, the caller, and the outside services."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.audit.models import Actor
from switchboard.auth_sessions.service import CodeSender
from switchboard.errors import CustomerNotRecognised, VerificationRequired
from switchboard.providers.twilio_verify import VerifyClient
from switchboard.settings import Settings
from switchboard.tools.models import VERIFIED, CallContext, Caller


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ToolServices:
    """Built once per process (create_app), shared by every tool call."""

    settings: Settings
    send_code: CodeSender
    verify: VerifyClient | None
    now: Callable[[], datetime] = _utc_now


@dataclass(frozen=True)
class ToolRun:
    conn: AsyncConnection[Any]
    actor: Actor
    context: CallContext
    caller: Caller
    services: ToolServices

    def customer(self) -> UUID:
        """The recognised customer's id; refuses for a caller no customer is linked to."""
        if self.caller.bank_customer_id is None:
            raise CustomerNotRecognised(
                "the calling number is not linked to any customer, so they cannot be verified here",
                hint="offer transfer_to_human; a person can identify them",
            )
        return self.caller.bank_customer_id

    def require_verified(self) -> UUID:
        """The customer's id, once a one-time code proved who is calling."""
        customer_id = self.customer()
        if self.caller.level < VERIFIED:
            raise VerificationRequired(
                f"this needs a verified caller (assurance level {VERIFIED}; the caller is at "
                f"level {self.caller.level})",
                hint="verify the caller first: start_verification, then check_verification "
                "with the code they read out",
            )
        return customer_id
