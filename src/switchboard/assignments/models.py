"""The human queues and how soon each must pick its work up."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID


class Queue(StrEnum):
    FRAUD = "fraud"
    CARDS = "cards"
    PAYMENTS = "payments"
    LOANS = "loans"
    DISPUTES = "disputes"
    COMPLAINTS = "complaints"
    GENERAL = "general"


# A caller reporting fraud may be losing money while they wait; a complaint can be answered
# within the hour. Everything else is picked up within a quarter of an hour.
SLA: dict[Queue, timedelta] = {
    Queue.FRAUD: timedelta(minutes=5),
    Queue.COMPLAINTS: timedelta(hours=1),
}
DEFAULT_SLA = timedelta(minutes=15)


@dataclass(frozen=True)
class Assignment:
    id: UUID
    conversation_id: UUID | None
    case_id: UUID | None
    queue_name: str
    sla_due_at: datetime
