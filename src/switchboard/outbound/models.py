"""An outbound message as its callers ask for it, and what queueing it answered."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID

from switchboard.preferences.models import ContactChannel, Purpose


@dataclass(frozen=True)
class OutboundRequest:
    channel: ContactChannel  # sms, whatsapp or email; voice is refused
    to_address: str  # already normalised (E.164 / lower-cased email)
    purpose: Purpose
    body_text: str  # what the customer receives
    subject: str | None = None  # email only, and required there
    conversation_id: UUID | None = None
    bank_customer_id: UUID | None = None
    # What cc_messages.body_text stores when body_text holds a secret (a one-time code):
    # the real text then travels only sealed (encrypted) in the job's arguments.
    stored_text: str | None = None
    # An answer to a customer who wrote in recently (agent_actions.REPLY_WINDOW): a response,
    # not a solicitation, so quiet hours do not hold it back.
    responding: bool = False


@dataclass(frozen=True)
class Queued:
    allowed: bool
    message_id: UUID | None  # the cc_messages row, when allowed
    rule: str | None = None  # the refusing rule (do_not_contact, channel_not_allowed, ...)
    detail: str | None = None


class SendingProvider(StrEnum):
    """Who carries a message: cc_messages.provider of an outbound row."""

    TWILIO = "twilio"
    SENDGRID = "sendgrid"
    SANDBOX = "sandbox"


class SendState(StrEnum):
    """cc_messages.provider_status of an outbound message before a provider has taken it
    (cc_messages.status stays NULL meanwhile); afterwards it holds the provider's own status."""

    PENDING = "pending"  # queued with us, not yet handed to the provider
    RETRYING = "retrying"  # the provider could not take it; the queue tries again later
    REJECTED = "rejected"  # the provider refused it (4xx): failed, not retried
    GAVE_UP = "gave_up"  # the provider could not take it on the last attempt: failed


@dataclass(frozen=True)
class OutboundConfig:
    """What queueing a message needs to know about this deployment (from the settings)."""

    mode_is_sandbox: bool = True
    sms_from: str | None = None  # our number, E.164
    messaging_service_sid: str | None = None
    email_from: str | None = None
    seal_key: bytes | None = None  # derived from SWITCHBOARD_SECRET_KEY
