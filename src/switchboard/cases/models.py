"""Case values and the workflow a case's status follows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import UUID


class CaseType(StrEnum):
    FRAUD = "fraud"
    CARDS = "cards"
    PAYMENTS = "payments"
    LOANS = "loans"
    DISPUTES = "disputes"
    COMPLAINTS = "complaints"
    GENERAL = "general"


class CasePriority(StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class CaseStatus(StrEnum):
    NEW = "new"
    TRIAGE = "triage"
    IN_PROGRESS = "in_progress"
    WAITING_CUSTOMER = "waiting_customer"
    RESOLVED = "resolved"
    CLOSED = "closed"


# new → triage → in_progress ⇄ waiting_customer → resolved → closed; a resolved case may be
# reopened to in_progress; closed is final. Work in progress may be resolved directly too.
TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.NEW: frozenset({CaseStatus.TRIAGE}),
    CaseStatus.TRIAGE: frozenset({CaseStatus.IN_PROGRESS}),
    CaseStatus.IN_PROGRESS: frozenset({CaseStatus.WAITING_CUSTOMER, CaseStatus.RESOLVED}),
    CaseStatus.WAITING_CUSTOMER: frozenset({CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED}),
    CaseStatus.RESOLVED: frozenset({CaseStatus.CLOSED, CaseStatus.IN_PROGRESS}),
    CaseStatus.CLOSED: frozenset(),
}
# Statuses from before Step 1, and where in the workflow they stand.
LEGACY_STATUS: dict[str, CaseStatus] = {"open": CaseStatus.NEW}


@dataclass(frozen=True)
class Case:
    id: UUID
    bank_customer_id: UUID | None
    conversation_id: UUID | None
    case_type: str
    status: str
    priority: str
    summary: str | None
    resolved_at: datetime | None
    closed_at: datetime | None
    created_at: datetime
    updated_at: datetime
