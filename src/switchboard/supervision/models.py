"""A queue's figures, its live items and SLA breaches, as a supervisor reads them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID


@dataclass(frozen=True)
class AgentLoad:
    """An active agent of the queue: presence, and live items held per channel (in any queue:
    capacity is the agent's) against the agent's capacity."""

    agent_id: UUID
    display_name: str
    role: str
    presence: str
    presence_changed_at: datetime
    capacity: dict[str, int]
    load: dict[str, int]


@dataclass(frozen=True)
class QueueFigures:
    queue: str
    display_name: str
    time_zone: str  # the queue's calendar's: "today" is its local day
    day_started_at: datetime
    as_of: datetime
    queued: int
    offered: int
    active: int
    wrap_up: int
    oldest_enqueued_at: datetime | None
    oldest_wait_seconds: float | None
    escalated_waiting: int
    met_today: int
    breached_today: int
    agents: list[AgentLoad]

    @property
    def attainment_today(self) -> float | None:
        due = self.met_today + self.breached_today
        return None if due == 0 else self.met_today / due


@dataclass(frozen=True)
class LiveClock:
    metric: str
    state: str
    due_at: datetime | None
    overdue: bool


@dataclass(frozen=True)
class QueueItem:
    id: UUID
    conversation_id: UUID | None
    case_id: UUID | None
    state: str
    channel: str | None
    priority: int
    assigned_to: str | None
    enqueued_at: datetime
    offer_expires_at: datetime | None
    offer_count: int
    escalated_at: datetime | None
    source: str | None
    reason: str | None
    version: int
    clocks: list[LiveClock]


@dataclass(frozen=True)
class ItemsPage:
    items: list[QueueItem]
    next_cursor: str | None


@dataclass(frozen=True)
class Breach:
    clock_id: UUID
    conversation_id: UUID | None
    case_id: UUID | None
    queue: str | None
    metric: str
    priority: str | None
    due_at: datetime | None
    breached_at: datetime
    fulfilled_at: datetime | None


def int_map(value: Any) -> dict[str, int]:
    """A jsonb object of counts ({"sms": 3}), what is not a count left out."""
    if not isinstance(value, dict):
        return {}
    return {str(k): int(v) for k, v in value.items() if str(v).isdigit()}
