"""Regulatory clocks of a case: Regulation E's for a dispute, the CFPB's for a complaint.

Regulation E, 12 CFR 1005.11(c), counted from the day the institution receives the notice of
error (that day does not count):
* (c)(1): determine whether an error occurred within 10 business days; (c)(2): or within 45
  calendar days, having provisionally credited the account within those 10 business days
  ((c)(2)(i)).
  One clock, reg_e_investigation, for "determined or provisionally credited", one,
  reg_e_resolution, for the 45 days.
* (c)(3)(i): 20 business days instead of 10 when the transfer was within 30 days after the
  account's first deposit (a new account).
* (c)(3)(ii): 90 calendar days instead of 45 for a transfer not initiated within a state
  (foreign), from a point-of-sale debit card transaction, or on a new account.
A business day (1005.2(d)) is a day the institution is open for substantially all business:
the us_federal_business_days calendar of 020, which the bank must keep to its own days.

The CFPB's complaint process: the company responds within 15 days, and, when that response
says the work is in progress, gives its final response within 60 days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.audit.models import Actor
from switchboard.cases.models import CaseType
from switchboard.db import within_transaction
from switchboard.enum_input import member_of
from switchboard.errors import CaseNotFound, InvalidInput
from switchboard.sla import repository
from switchboard.sla.models import REGULATORY_METRICS, Clock, ClockEvent, ClockState, Metric, Unit
from switchboard.sla.service import Calendars, audit_clocks, clock_event, due_time, end_clocks

CALENDAR = "us_federal_business_days"
# A notice time later than the database's clock by more than this is refused as a mistake.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass(frozen=True)
class RegulatoryTarget:
    metric: Metric
    unit: Unit
    days: int
    basis: str  # the rule, cited


def targets_for(
    case_type: str,
    *,
    new_account: bool = False,
    point_of_sale: bool = False,
    foreign_initiated: bool = False,
) -> list[RegulatoryTarget]:
    """The regulatory clocks a case of `case_type` carries (none for most types)."""
    if case_type == CaseType.DISPUTES:
        extended = new_account or point_of_sale or foreign_initiated
        return [
            RegulatoryTarget(
                Metric.REG_E_INVESTIGATION,
                Unit.BUSINESS_DAYS,
                20 if new_account else 10,
                "12 CFR 1005.11(c)(3)(i)" if new_account else "12 CFR 1005.11(c)(1)",
            ),
            RegulatoryTarget(
                Metric.REG_E_RESOLUTION,
                Unit.CALENDAR_DAYS,
                90 if extended else 45,
                "12 CFR 1005.11(c)(3)(ii)" if extended else "12 CFR 1005.11(c)(2)",
            ),
        ]
    if case_type == CaseType.COMPLAINTS:
        return [
            RegulatoryTarget(
                Metric.CFPB_RESPONSE, Unit.CALENDAR_DAYS, 15, "CFPB complaint process: 15 days"
            ),
            RegulatoryTarget(
                Metric.CFPB_FINAL_RESPONSE,
                Unit.CALENDAR_DAYS,
                60,
                "CFPB complaint process: final response within 60 days",
            ),
        ]
    return []


async def start_case_clocks(
    conn: AsyncConnection[Any],
    case_id: UUID,
    *,
    actor: Actor,
    reported_at: datetime | None = None,
    notice_message_id: UUID | None = None,
    new_account: bool = False,
    point_of_sale: bool = False,
    foreign_initiated: bool = False,
) -> list[Clock]:
    """Start the case's regulatory clocks from the time the customer first reported: given,
    or the received time of the inbound message the agent marks as the notice (one of the
    two). A clock the case has had already (in any state but cancelled) is not started
    again. The clocks started."""
    if (reported_at is None) == (notice_message_id is None):
        raise InvalidInput(
            "say when the customer first reported",
            hint="give reported_at or notice_message_id, not both",
        )
    async with within_transaction(conn):
        subject = await repository.case_subject(conn, case_id)
        if subject is None:
            raise CaseNotFound(f"no case {case_id}")
        case_type, customer, case_conversation = subject
        if notice_message_id is not None:
            reported_at = await _notice_time(conn, notice_message_id, customer, case_conversation)
        if reported_at is None:  # checked above: one of the two was given
            raise InvalidInput("say when the customer first reported")
        if reported_at.tzinfo is None or reported_at.utcoffset() is None:
            raise InvalidInput("reported_at has no time zone", hint="an aware datetime (UTC)")
        if reported_at > datetime.now(UTC) + CLOCK_SKEW:
            raise InvalidInput("the customer cannot have reported in the future")
        targets = targets_for(
            member_of(CaseType, case_type, "case type"),
            new_account=new_account,
            point_of_sale=point_of_sale,
            foreign_initiated=foreign_initiated,
        )
        if not targets:
            raise InvalidInput(
                f"a {case_type} case has no regulatory clock",
                hint="disputes (Regulation E) and complaints (CFPB) have them",
            )
        calendar = await Calendars(conn).get(CALENDAR)
        existing = {
            c.metric
            for c in await repository.lock_clocks(conn, case_id=case_id)
            if c.state != ClockState.CANCELLED
        }
        started = []
        for target in targets:
            if target.metric in existing:
                continue
            clock = await repository.insert_clock(
                conn,
                conversation_id=None,
                case_id=case_id,
                metric=target.metric,
                unit=target.unit,
                target=timedelta(days=target.days),
                calendar_name=CALENDAR,
                queue_name=None,
                policy_name=None,
                priority=None,
                basis=target.basis,
                started_at=reported_at,
                due_at=due_time(target.unit, reported_at, timedelta(days=target.days), calendar),
            )
            if clock is not None:
                started.append(clock)
        await repository.insert_events(
            conn, [clock_event(c, ClockEvent.STARTED, reported_at, actor) for c in started]
        )
        await audit_clocks(
            conn,
            "sla.regulatory_clocks_started",
            actor,
            started,
            case_id=case_id,
            input={
                "reported_at": reported_at.isoformat(),
                "notice_message_id": notice_message_id,
                "new_account": new_account,
                "point_of_sale": point_of_sale,
                "foreign_initiated": foreign_initiated,
            },
        )
    return started


async def _notice_time(
    conn: AsyncConnection[Any],
    message_id: UUID,
    customer: UUID | None,
    case_conversation: UUID | None,
) -> datetime:
    """The notice's received time: an inbound message of the case's own conversation (when the
    case has one), from the case's customer. Any other message is answered as none at all."""
    found = await repository.inbound_message(conn, message_id)
    if found is None or (case_conversation is not None and found[1] != case_conversation):
        raise InvalidInput(
            f"no inbound message {message_id} in this case's conversation",
            hint="the notice is a message the customer sent in the case's conversation",
        )
    received_at, _, sender = found
    if customer is not None and sender is not None and sender != customer:
        raise InvalidInput("the notice message is from another customer than the case's")
    return received_at


async def fulfil_case_clock(
    conn: AsyncConnection[Any], case_id: UUID, metric: str, *, at: datetime, actor: Actor
) -> list[Clock]:
    """The bank met the obligation (determined the error or credited provisionally; resolved;
    responded): the clock is fulfilled at `at`, or, if already breached, stamped with it."""
    wanted = member_of(Metric, metric, "clock")
    if wanted not in REGULATORY_METRICS:
        raise InvalidInput(f"{metric} is not a regulatory clock")
    return await end_clocks(
        conn,
        case_id=case_id,
        at=at,
        actor=actor,
        metrics={wanted},
        to=ClockState.FULFILLED,
        audit_event="sla.regulatory_fulfilled",
    )
