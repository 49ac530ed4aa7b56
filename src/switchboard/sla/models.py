"""SLA clock values: metrics, states, units, a clock and what the API shows of it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID


class Metric(StrEnum):
    FIRST_RESPONSE = "first_response"
    NEXT_RESPONSE = "next_response"
    RESOLUTION = "resolution"
    # Regulation E (12 CFR 1005.11(c)): determine the error, or provisionally credit, within
    # 10 (or 20) business days; resolve within 45 (or 90) calendar days.
    REG_E_INVESTIGATION = "reg_e_investigation"
    REG_E_RESOLUTION = "reg_e_resolution"
    # The CFPB's complaint process: respond within 15 days, a final response within 60.
    CFPB_RESPONSE = "cfpb_response"
    CFPB_FINAL_RESPONSE = "cfpb_final_response"


RESPONSE_METRICS = frozenset({Metric.FIRST_RESPONSE, Metric.NEXT_RESPONSE})
REGULATORY_METRICS = frozenset(
    {
        Metric.REG_E_INVESTIGATION,
        Metric.REG_E_RESOLUTION,
        Metric.CFPB_RESPONSE,
        Metric.CFPB_FINAL_RESPONSE,
    }
)


class ClockState(StrEnum):
    RUNNING = "running"
    PAUSED = "paused"
    FULFILLED = "fulfilled"
    BREACHED = "breached"
    CANCELLED = "cancelled"


LIVE = frozenset({ClockState.RUNNING, ClockState.PAUSED})


class Unit(StrEnum):
    BUSINESS_TIME = "business_time"  # target: a duration of the calendar's open hours
    BUSINESS_DAYS = "business_days"  # target: that many whole days, of the calendar's open days
    CALENDAR_DAYS = "calendar_days"  # target: that many days, in the calendar's zone


class ClockEvent(StrEnum):
    STARTED = "started"
    PAUSED = "paused"
    RESUMED = "resumed"
    FULFILLED = "fulfilled"
    BREACHED = "breached"
    CANCELLED = "cancelled"
    RECOMPUTED = "recomputed"  # the calendar changed: a new due time


@dataclass(frozen=True)
class Clock:
    id: UUID
    conversation_id: UUID | None
    case_id: UUID | None
    metric: str
    unit: str
    target: timedelta
    calendar_name: str
    queue_name: str | None
    policy_name: str | None
    priority: str | None
    basis: str
    state: str
    started_at: datetime
    running_since: datetime | None
    due_at: datetime | None
    paused_at: datetime | None
    business_used: timedelta
    fulfilled_at: datetime | None
    breached_at: datetime | None
    cancelled_at: datetime | None

    @property
    def live(self) -> bool:
        return self.state in LIVE


@dataclass(frozen=True)
class ClockEventRow:
    clock_id: UUID
    event: str
    at: datetime
    due_at: datetime | None
    business_used: timedelta
    actor_type: str
    actor_id: str
    recorded_at: datetime


@dataclass(frozen=True)
class ClockView:
    """A clock as the API shows it. `remaining`: while running, the time left until due
    (business time for an SLA clock, real time for a clock of days; negative once overdue);
    while paused, the business time left; None once ended."""

    clock: Clock
    remaining: timedelta | None
    overdue: bool
