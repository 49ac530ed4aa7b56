"""Messages as the channel webhooks hand them to the service."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from uuid import UUID

from switchboard.conversations.models import Channel, Provider


class MessageStatus(StrEnum):
    RECEIVED = "received"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED = "failed"
    READ = "read"


class Direction(StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


@dataclass(frozen=True)
class Thread:
    """Where an inbound message belongs: a thread key, and for email the ids it replies to."""

    key: str
    replies_to: tuple[str, ...] = ()
    one_per_call: bool = False  # voice: every event of a call lands in its conversation
    ends_call: bool = False  # the end-of-call report: the call's conversation closes with it


@dataclass(frozen=True)
class InboundMessage:
    provider: Provider
    channel: Channel
    provider_message_id: str
    from_address: str | None  # normalised (E.164 or lower-case email) where it could be
    to_address: str | None
    body_text: str | None
    body_json: dict[str, Any]
    thread: Thread
    event_type: str = "message.received"
    direction: Direction = Direction.INBOUND
    # The body_json keys holding what a call's parties said, or a summary of it: searched for
    # one-time codes read out, like body_text.
    spoken_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class StatusReport:
    provider: Provider
    provider_message_id: str
    event_key: str  # the delivery's own id (MessageSid:status, sg_event_id)
    raw_status: str
    status: MessageStatus | None  # None: an event that changes no status (e.g. a click)
    error_code: str | None = None
    details: dict[str, Any] = field(default_factory=dict)
    # Our id for the message, where the provider's callback URL carries it (Twilio's does).
    message_id: UUID | None = None


@dataclass(frozen=True)
class Recorded:
    duplicate: bool
    message_id: UUID | None = None
    conversation_id: UUID | None = None
    bank_customer_id: UUID | None = None
