"""An audit record as the services describe it."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from uuid import UUID


class ActorType(StrEnum):
    PROVIDER = "provider"
    AI_AGENT = "ai_agent"
    AGENT = "agent"
    ADMIN = "admin"  # an agent acting as an administrator on another agent
    CUSTOMER = "customer"
    SYSTEM = "system"


@dataclass(frozen=True)
class Actor:
    """Who acts: an agent, the AI assistant, the system (audit actor_type and actor_id)."""

    type: ActorType
    id: str


@dataclass(frozen=True)
class AuditEntry:
    """Ids in the payloads are best passed as UUIDs: stored as their text, and, not being free
    text, not searched for card numbers (whose check a UUID's digits pass about once in 350)."""

    actor_type: ActorType
    actor_id: str
    event_type: str  # "message.received", "webhook.rejected", ...
    success: bool
    input: dict[str, Any] = field(default_factory=dict)
    output: dict[str, Any] = field(default_factory=dict)
    event_version: int = 1
    error_code: str | None = None
    error_message: str | None = None
    conversation_id: UUID | None = None
    case_id: UUID | None = None
    bank_customer_id: UUID | None = None
