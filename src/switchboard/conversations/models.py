"""Conversation values shared by the services."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from uuid import UUID


class Channel(StrEnum):
    SMS = "sms"
    WHATSAPP = "whatsapp"
    EMAIL = "email"
    VOICE = "voice"


class Provider(StrEnum):
    TWILIO = "twilio"
    SENDGRID = "sendgrid"
    VAPI = "vapi"


@dataclass(frozen=True)
class ConversationRef:
    id: UUID
    bank_customer_id: UUID | None
    created: bool  # opened by this call


@dataclass(frozen=True)
class Conversation:
    id: UUID
    channel: str  # a Channel, or a legacy value such as chat
    bank_customer_id: UUID | None
