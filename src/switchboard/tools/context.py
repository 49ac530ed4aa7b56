"""What a tool runs with: the connection, who is acting, the caller, and the outside services."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.audit.models import Actor
from switchboard.auth_sessions.codes import OtpConfig
from switchboard.auth_sessions.models import CodeMethod, CodeSender
from switchboard.errors import CustomerNotRecognised, OtpNotConfigured, VerificationRequired
from switchboard.metrics import Metrics
from switchboard.outbound.codes import code_sender
from switchboard.outbound.config import Outbound
from switchboard.providers.twilio_verify import TwilioVerifyClient, VerifyClient
from switchboard.settings import Settings
from switchboard.tools.models import VERIFIED, CallContext, Caller


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class ToolServices:
    """Built once per process (create_app), shared by every tool call."""

    settings: Settings
    # None when SWITCHBOARD_SECRET_KEY is unset (production): the code tools then say so.
    otp: OtpConfig | None
    outbound: Outbound
    send_code: CodeSender
    verify: VerifyClient | None
    metrics: Metrics  # where each call is counted and timed
    now: Callable[[], datetime] = _utc_now

    def otp_config(self) -> OtpConfig:
        if self.otp is None:
            raise OtpNotConfigured(
                "SWITCHBOARD_SECRET_KEY is not set: one-time codes cannot be sent or checked",
                hint="offer transfer_to_human; the bank's engineers must set the key",
            )
        return self.otp


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


@asynccontextmanager
async def tool_services(
    settings: Settings, outbound: Outbound, metrics: Metrics
) -> AsyncIterator[ToolServices]:
    """The services for this process's settings, queueing messages and codes through
    `outbound`; a Twilio Verify client only when codes are Twilio Verify's
    (OTP_METHOD=twilio_verify), closed on the way out."""
    try:
        otp: OtpConfig | None = OtpConfig.from_settings(settings)
    except OtpNotConfigured:
        otp = None
    if settings.otp_method != CodeMethod.TWILIO_VERIFY.value:
        yield ToolServices(settings, otp, outbound, code_sender(outbound), None, metrics)
        return
    async with TwilioVerifyClient(
        base_url=settings.twilio_verify_base_url,
        service_sid=settings.twilio_verify_service_sid,
        account_sid=settings.twilio_account_sid,
        auth_token=settings.secret("TWILIO_AUTH_TOKEN"),
    ) as verify:
        yield ToolServices(settings, otp, outbound, code_sender(outbound), verify, metrics)
