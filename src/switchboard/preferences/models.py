"""Preferences, the purposes a message is sent for, and the verdict on sending one."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time
from enum import StrEnum
from uuid import UUID


class ContactChannel(StrEnum):
    SMS = "sms"
    EMAIL = "email"
    VOICE = "voice"
    WHATSAPP = "whatsapp"


class Purpose(StrEnum):
    OTP = "otp"  # a one-time code the customer asked for
    SERVICE = "service"
    FRAUD_ALERT = "fraud_alert"
    MARKETING = "marketing"


# A code the customer is waiting for, and a warning about fraud on their account, go out
# whatever the preferences say; everything else respects them.
ALWAYS_ALLOWED = frozenset({Purpose.OTP, Purpose.FRAUD_ALERT})
QUIET_HOURS_END = time(8, 0)  # local time in the customer's time zone
QUIET_HOURS_START = time(21, 0)
DEFAULT_TIMEZONE = "Europe/London"


@dataclass(frozen=True)
class Preferences:
    bank_customer_id: UUID
    do_not_contact: bool
    allowed_channels: frozenset[ContactChannel] | None  # None: every channel
    timezone: str


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    rule: str | None = None  # the rule that refused it, for the audit trail
    detail: str | None = None


@dataclass(frozen=True)
class RevocationFlag:
    """A text that may ask to stop being contacted, waiting for a person to confirm it."""

    id: UUID
    conversation_id: UUID
    message_id: UUID
    bank_customer_id: UUID | None
    channel: ContactChannel
    phrase: str  # the words that asked
    created_at: datetime
