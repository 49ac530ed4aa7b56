"""A search's key, its answer, and the agent's allowance of searches."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID


class KeyKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    CASE = "case"


@dataclass(frozen=True)
class SearchKey:
    kind: KeyKind
    value: str  # normalised: E.164, a lower-cased address, a case's id


@dataclass(frozen=True)
class FoundContact:
    channel: str
    address: str  # masked


@dataclass(frozen=True)
class FoundCustomer:
    bank_customer_id: UUID
    contacts: list[FoundContact]


@dataclass(frozen=True)
class FoundConversation:
    id: UUID
    bank_customer_id: UUID | None
    channel: str
    status: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class FoundCase:
    id: UUID
    bank_customer_id: UUID | None
    conversation_id: UUID | None
    case_type: str
    status: str
    priority: str
    created_at: datetime


@dataclass(frozen=True)
class Found:
    customers: list[FoundCustomer]
    conversations: list[FoundConversation]
    cases: list[FoundCase]


NOTHING = Found([], [], [])


@dataclass(frozen=True)
class Allowance:
    """The agent's searches after taking one: refused (how many in a row) or not, and how
    long until one more is allowed."""

    refused: int
    retry_after_seconds: float
