"""SLA clocks of a conversation: start, pause, resume, fulfil, cancel, breach; each change an
event row, each call that changes something one audit record, in the caller's transaction
when it has one (routing calls these inside its own), else in one of its own.

Every function takes the time the thing happened (`at`): the caller knows it (a message's
received time, the moment an agent's reply was sent), and tests can set it.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.audit import service as audit
from switchboard.audit.models import Actor, ActorType, AuditEntry
from switchboard.cases.models import CasePriority
from switchboard.db import within_transaction
from switchboard.enum_input import member_of
from switchboard.errors import ConversationNotFound, InvalidInput
from switchboard.sla import repository
from switchboard.sla.calendar import (
    Calendar,
    add_business_days,
    add_business_time,
    add_calendar_days,
    business_time_between,
)
from switchboard.sla.models import (
    RESPONSE_METRICS,
    Clock,
    ClockEvent,
    ClockEventRow,
    ClockState,
    ClockView,
    Metric,
    Unit,
)

SYSTEM = Actor(ActorType.SYSTEM, "sla")
SWEEP_BATCH = 500
# How far back the sweep looks for customers' messages its clocks have not heeded: far more
# than the 5 s between sweeps, so that sweeps that fail or fall behind for a while miss none;
# a worker's first sweep looks at all of them (heed_customer_messages).
HEED_WITHIN = timedelta(hours=1)
# The clocks a conversation starts when it enters a human queue.
ENTRY_METRICS = (Metric.FIRST_RESPONSE, Metric.RESOLUTION)

Event = tuple[UUID, str, datetime, datetime | None, timedelta, str, str]


class Calendars:
    """Calendars by name, each loaded once per use case."""

    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self.conn = conn
        self.loaded: dict[str, Calendar] = {}

    async def get(self, name: str) -> Calendar:
        if name not in self.loaded:
            found = await repository.load_calendar(self.conn, name)
            if found is None:
                known = ", ".join(await repository.calendar_names(self.conn))
                raise InvalidInput(f"no calendar {name!r}", hint=f"one of: {known}")
            self.loaded[name] = found
        return self.loaded[name]


def due_time(clock_unit: str, start: datetime, left: timedelta, calendar: Calendar) -> datetime:
    """When a clock started (or resumed) at `start` with `left` of its target is due."""
    if clock_unit == Unit.BUSINESS_DAYS:
        return add_business_days(start, left.days, calendar)
    if clock_unit == Unit.CALENDAR_DAYS:
        return add_calendar_days(start, left.days, calendar)
    return add_business_time(start, left, calendar)


def running_since(clock: Clock) -> datetime:
    if clock.running_since is None:  # the table's CHECK gives every running clock one
        raise RuntimeError(f"running clock {clock.id} has no running_since")
    return clock.running_since


def clock_event(
    clock: Clock, event: ClockEvent, at: datetime, actor: Actor, *, due_at: datetime | None = None
) -> Event:
    """The event row; `due_at`, the due time the clock had then when the change cleared it
    (a pause)."""
    due = due_at if due_at is not None else clock.due_at
    return (clock.id, event, at, due, clock.business_used, str(actor.type), actor.id)


def _aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise InvalidInput("a clock's time has no time zone", hint="pass an aware datetime (UTC)")
    return at


async def start_clocks(
    conn: AsyncConnection[Any],
    conversation_id: UUID,
    *,
    queue: str,
    priority: str,
    at: datetime,
    actor: Actor,
) -> list[Clock]:
    """The conversation enters `queue`: first response and resolution start, with the queue's
    policy targets for `priority`, in the queue's calendar. A conversation whose resolution
    clock is live already (a transfer to another queue) keeps its clocks: nothing starts.
    The clocks started (none when they were kept)."""
    at = _aware(at)
    urgency = member_of(CasePriority, priority, "priority")
    async with within_transaction(conn):
        clocks = await repository.lock_clocks(conn, conversation_id=conversation_id)
        if any(c.metric == Metric.RESOLUTION and c.live for c in clocks):
            return []
        found = await repository.queue_targets(conn, queue, urgency)
        if found is None:
            known = ", ".join(await repository.queue_names(conn))
            raise InvalidInput(f"no queue {queue!r}", hint=f"one of: {known}")
        policy, calendar_name, targets = found
        calendar = await Calendars(conn).get(calendar_name)
        if not clocks and not await repository.conversation_exists(conn, conversation_id):
            raise ConversationNotFound(f"no conversation {conversation_id}")
        started = []
        for metric in ENTRY_METRICS:
            if metric not in targets or any(c.metric == metric and c.live for c in clocks):
                continue
            clock = await repository.insert_clock(
                conn,
                conversation_id=conversation_id,
                case_id=None,
                metric=metric,
                unit=Unit.BUSINESS_TIME,
                target=targets[metric],
                calendar_name=calendar_name,
                queue_name=queue,
                policy_name=policy,
                priority=urgency,
                basis=f"queue {queue}, policy {policy}, priority {urgency}",
                started_at=at,
                due_at=add_business_time(at, targets[metric], calendar),
            )
            if clock is not None:
                started.append(clock)
        await _record(
            conn,
            [clock_event(c, ClockEvent.STARTED, at, actor) for c in started],
            "sla.clocks_started",
            actor,
            started,
            conversation_id=conversation_id,
            input={"queue": queue, "priority": urgency},
        )
    return started


async def pause_clocks(
    conn: AsyncConnection[Any], conversation_id: UUID, *, at: datetime, actor: Actor
) -> list[Clock]:
    """The conversation waits on the customer: its running clocks stop counting. A clock
    already past its due time is breached instead (at its due time). The clocks paused."""
    at = _aware(at)
    async with within_transaction(conn):
        clocks = await _running_settled(conn, conversation_id, at)
        calendars = Calendars(conn)
        paused, events = [], []
        for clock in clocks:
            if clock.state != ClockState.RUNNING or clock.metric not in _PAUSABLE:
                continue
            spent = business_time_between(
                running_since(clock), at, await calendars.get(clock.calendar_name)
            )
            done = replace(
                clock,
                state=ClockState.PAUSED,
                paused_at=at,
                running_since=None,
                due_at=None,
                business_used=clock.business_used + spent,
            )
            await repository.save_clock(conn, done)
            paused.append(done)
            events.append(clock_event(done, ClockEvent.PAUSED, at, actor, due_at=clock.due_at))
        await _record(
            conn, events, "sla.clocks_paused", actor, paused, conversation_id=conversation_id
        )
    return paused


# Regulatory clocks never pause: the regulation's days run whoever is waiting.
_PAUSABLE = frozenset({Metric.FIRST_RESPONSE, Metric.NEXT_RESPONSE, Metric.RESOLUTION})


async def customer_wrote(
    conn: AsyncConnection[Any], conversation_id: UUID, *, at: datetime, actor: Actor
) -> list[Clock]:
    """The customer wrote (on any channel): paused clocks resume with a new due time, and,
    once a human has answered in this episode (since the live resolution clock started), a
    next-response clock starts unless one is running. The clocks resumed or started."""
    at = _aware(at)
    async with within_transaction(conn):
        clocks = await _running_settled(conn, conversation_id, at)
        calendars = Calendars(conn)
        changed, events = [], []
        for clock in clocks:
            if clock.state != ClockState.PAUSED:
                continue
            left = clock.target - clock.business_used
            resumed = replace(
                clock,
                state=ClockState.RUNNING,
                running_since=at,
                paused_at=None,
                due_at=due_time(clock.unit, at, left, await calendars.get(clock.calendar_name)),
            )
            await repository.save_clock(conn, resumed)
            changed.append(resumed)
            events.append(clock_event(resumed, ClockEvent.RESUMED, at, actor))
        started = await _start_next_response(conn, clocks, conversation_id, at, calendars)
        if started is not None:
            changed.append(started)
            events.append(clock_event(started, ClockEvent.STARTED, at, actor))
        await _record(
            conn, events, "sla.customer_wrote", actor, changed, conversation_id=conversation_id
        )
    return changed


async def heed_customer_messages(
    conn: AsyncConnection[Any],
    *,
    actor: Actor,
    limit: int = SWEEP_BATCH,
    within: timedelta | None = HEED_WITHIN,
) -> int:
    """For each conversation whose customer wrote since its clocks last took notice (the
    inbound path writes messages without looking at clocks): customer_wrote, at the time of
    their first such message. Only messages of the last `within` are looked for (None: all,
    for a worker catching up after time away). How many conversations."""
    unheeded = await repository.customer_messages_unheeded(conn, limit, within)
    for conversation_id, at in unheeded:
        await customer_wrote(conn, conversation_id, at=at, actor=actor)
    return len(unheeded)


async def _start_next_response(
    conn: AsyncConnection[Any],
    clocks: list[Clock],
    conversation_id: UUID,
    at: datetime,
    calendars: Calendars,
) -> Clock | None:
    resolution = next((c for c in clocks if c.metric == Metric.RESOLUTION and c.live), None)
    if resolution is None or any(c.metric in RESPONSE_METRICS and c.live for c in clocks):
        return None
    answered = any(
        c.metric in RESPONSE_METRICS
        and c.fulfilled_at is not None
        and c.started_at >= resolution.started_at
        for c in clocks
    )
    if not answered or resolution.policy_name is None or resolution.priority is None:
        return None
    target = await repository.policy_target(
        conn, resolution.policy_name, resolution.priority, Metric.NEXT_RESPONSE
    )
    if target is None:
        return None
    return await repository.insert_clock(
        conn,
        conversation_id=conversation_id,
        case_id=None,
        metric=Metric.NEXT_RESPONSE,
        unit=Unit.BUSINESS_TIME,
        target=target,
        calendar_name=resolution.calendar_name,
        queue_name=resolution.queue_name,
        policy_name=resolution.policy_name,
        priority=resolution.priority,
        basis=resolution.basis,
        started_at=at,
        due_at=add_business_time(at, target, await calendars.get(resolution.calendar_name)),
    )


async def reply_sent(
    conn: AsyncConnection[Any], conversation_id: UUID, *, at: datetime, by: Actor
) -> list[Clock]:
    """A reply went to the customer. Only a human agent's (`by.type` agent) fulfils the
    first- or next-response clock; the assistant's, a provider's or the system's change
    nothing. A response clock already breached keeps its breach and gets the reply's time as
    fulfilled_at. The clocks fulfilled."""
    at = _aware(at)
    if by.type != ActorType.AGENT:
        return []
    return await end_clocks(
        conn,
        conversation_id=conversation_id,
        at=at,
        actor=by,
        metrics=RESPONSE_METRICS,
        to=ClockState.FULFILLED,
        audit_event="sla.replied",
    )


async def resolve_clocks(
    conn: AsyncConnection[Any], conversation_id: UUID, *, at: datetime, actor: Actor
) -> list[Clock]:
    """The conversation is done: resolution is fulfilled; a response clock still live is
    cancelled (nobody owes a reply to a resolved conversation). The clocks ended."""
    at = _aware(at)
    async with within_transaction(conn):
        fulfilled = await end_clocks(
            conn,
            conversation_id=conversation_id,
            at=at,
            actor=actor,
            metrics={Metric.RESOLUTION},
            to=ClockState.FULFILLED,
            audit_event=None,
        )
        cancelled = await end_clocks(
            conn,
            conversation_id=conversation_id,
            at=at,
            actor=actor,
            metrics=RESPONSE_METRICS,
            to=ClockState.CANCELLED,
            audit_event=None,
        )
        await audit_clocks(
            conn, "sla.resolved", actor, fulfilled + cancelled, conversation_id=conversation_id
        )
    return fulfilled + cancelled


async def cancel_clocks(
    conn: AsyncConnection[Any], conversation_id: UUID, *, at: datetime, actor: Actor
) -> list[Clock]:
    """Every live clock of the conversation stops without counting as met or missed (merged,
    spam, closed by mistake). The clocks cancelled."""
    at = _aware(at)
    return await end_clocks(
        conn,
        conversation_id=conversation_id,
        at=at,
        actor=actor,
        metrics=_PAUSABLE,
        to=ClockState.CANCELLED,
        audit_event="sla.cancelled",
    )


async def end_clocks(
    conn: AsyncConnection[Any],
    *,
    conversation_id: UUID | None = None,
    case_id: UUID | None = None,
    at: datetime,
    actor: Actor,
    metrics: frozenset[str] | set[Metric],
    to: ClockState,
    audit_event: str | None,
) -> list[Clock]:
    """Fulfil or cancel the subject's live clocks of `metrics` at `at` (breaching first those
    due by then); a breached clock being fulfilled gets only its fulfilled_at."""
    async with within_transaction(conn):
        clocks = await _running_settled(conn, conversation_id, at, case_id=case_id)
        calendars = Calendars(conn)
        ended, events = [], []
        for clock in clocks:
            if clock.metric not in metrics:
                continue
            if clock.live:
                spent = timedelta(0)
                if clock.state == ClockState.RUNNING and clock.unit == Unit.BUSINESS_TIME:
                    calendar = await calendars.get(clock.calendar_name)
                    spent = business_time_between(running_since(clock), at, calendar)
                done = replace(
                    clock,
                    state=to,
                    running_since=None,
                    paused_at=None,
                    business_used=clock.business_used + spent,
                    fulfilled_at=at if to == ClockState.FULFILLED else None,
                    cancelled_at=at if to == ClockState.CANCELLED else None,
                )
            elif (
                to == ClockState.FULFILLED
                and clock.state == ClockState.BREACHED
                and clock.fulfilled_at is None
            ):
                done = replace(clock, fulfilled_at=at)  # met late: the breach stands
            else:
                continue
            await repository.save_clock(conn, done)
            ended.append(done)
            kind = ClockEvent.FULFILLED if to == ClockState.FULFILLED else ClockEvent.CANCELLED
            events.append(clock_event(done, kind, at, actor))
        await repository.insert_events(conn, events)
        if audit_event is not None:
            await audit_clocks(
                conn, audit_event, actor, ended, conversation_id=conversation_id, case_id=case_id
            )
    return ended


async def _running_settled(
    conn: AsyncConnection[Any],
    conversation_id: UUID | None,
    at: datetime,
    *,
    case_id: UUID | None = None,
) -> list[Clock]:
    """The conversation's clocks, locked, after breaching those due by `at`: a change made
    after the due time never hides a breach the sweep has not reached yet."""
    clocks = await repository.lock_clocks(conn, conversation_id=conversation_id, case_id=case_id)
    overdue = [
        c.id
        for c in clocks
        if c.state == ClockState.RUNNING and c.due_at is not None and c.due_at <= at
    ]
    if not overdue:
        return clocks
    breached = await _breach(conn, now=at, limit=len(overdue), clock_ids=overdue)
    by_id = {c.id: c for c in breached}
    return [by_id.get(c.id, c) for c in clocks]


async def sweep_breaches(
    conn: AsyncConnection[Any], *, now: datetime | None = None, limit: int = SWEEP_BATCH
) -> int:
    """Record the breach of every running clock due by `now` (the database's now when None),
    at most `limit` of them, each exactly once, each audited (actor system); clocks another
    transaction holds are left to the next sweep. How many were breached."""
    async with within_transaction(conn):
        breached = await _breach(conn, now=now, limit=limit, clock_ids=None)
    return len(breached)


async def _breach(
    conn: AsyncConnection[Any],
    *,
    now: datetime | None,
    limit: int,
    clock_ids: list[UUID] | None,
) -> list[Clock]:
    breached = await repository.breach_due(conn, now=now, limit=limit, clock_ids=clock_ids)
    await repository.insert_events(
        conn,
        [
            clock_event(c, ClockEvent.BREACHED, c.breached_at, SYSTEM)  # type: ignore[arg-type]
            for c in breached
        ],
    )
    for clock in breached:
        await audit.append(
            conn,
            AuditEntry(
                actor_type=SYSTEM.type,
                actor_id=SYSTEM.id,
                event_type="sla.breached",
                success=True,
                input={"clock_id": clock.id, "metric": clock.metric},
                output={
                    "due_at": clock.due_at.isoformat() if clock.due_at else None,
                    "basis": clock.basis,
                },
                conversation_id=clock.conversation_id,
                case_id=clock.case_id,
            ),
        )
    return breached


async def _record(
    conn: AsyncConnection[Any],
    events: list[Event],
    event_type: str,
    actor: Actor,
    clocks: list[Clock],
    *,
    conversation_id: UUID | None = None,
    case_id: UUID | None = None,
    input: dict[str, Any] | None = None,
) -> None:
    await repository.insert_events(conn, events)
    await audit_clocks(
        conn,
        event_type,
        actor,
        clocks,
        conversation_id=conversation_id,
        case_id=case_id,
        input=input,
    )


async def audit_clocks(
    conn: AsyncConnection[Any],
    event_type: str,
    actor: Actor,
    clocks: list[Clock],
    *,
    conversation_id: UUID | None = None,
    case_id: UUID | None = None,
    input: dict[str, Any] | None = None,
) -> None:
    """One record for the call, naming each clock it changed; nothing when none changed."""
    if not clocks:
        return
    await audit.append(
        conn,
        AuditEntry(
            actor_type=actor.type,
            actor_id=actor.id,
            event_type=event_type,
            success=True,
            input=input or {},
            output={
                "clocks": [
                    {
                        "clock_id": c.id,
                        "metric": c.metric,
                        "state": c.state,
                        "due_at": c.due_at.isoformat() if c.due_at else None,
                    }
                    for c in clocks
                ]
            },
            conversation_id=conversation_id,
            case_id=case_id,
        ),
    )


# -- Reading, for the API -------------------------------------------------------------------


async def conversation_clocks(
    conn: AsyncConnection[Any], conversation_id: UUID, *, now: datetime | None = None
) -> list[ClockView]:
    """Every clock of the conversation, oldest first, with the time left at `now`."""
    clocks = await repository.clocks_of(conn, conversation_id=conversation_id)
    return await _views(conn, clocks, now)


async def case_clocks(
    conn: AsyncConnection[Any], case_id: UUID, *, now: datetime | None = None
) -> list[ClockView]:
    clocks = await repository.clocks_of(conn, case_id=case_id)
    return await _views(conn, clocks, now)


async def clock_events(conn: AsyncConnection[Any], clock_id: UUID) -> list[ClockEventRow]:
    return await repository.events_of(conn, clock_id)


async def _views(
    conn: AsyncConnection[Any], clocks: list[Clock], at: datetime | None
) -> list[ClockView]:
    now = _aware(at) if at is not None else datetime.now(UTC)
    calendars = Calendars(conn)
    views = []
    for clock in clocks:
        remaining: timedelta | None = None
        if clock.state == ClockState.PAUSED:
            remaining = clock.target - clock.business_used
        elif clock.state == ClockState.RUNNING and clock.due_at is not None:
            if clock.unit == Unit.BUSINESS_TIME:
                calendar = await calendars.get(clock.calendar_name)
                remaining = business_time_between(now, clock.due_at, calendar)
            else:
                remaining = clock.due_at - now
        overdue = clock.state == ClockState.BREACHED or (
            clock.state == ClockState.RUNNING and clock.due_at is not None and clock.due_at <= now
        )
        views.append(ClockView(clock=clock, remaining=remaining, overdue=overdue))
    return views


# -- Calendars ------------------------------------------------------------------------------


async def add_closed_day(
    conn: AsyncConnection[Any],
    actor: Actor,
    *,
    calendar_name: str,
    on_date: date,
    label: str,
) -> int:
    """Close `on_date` in the calendar (a bank holiday), and give every running clock of the
    calendar its due time under the new calendar (a `recomputed` event each). How many
    clocks moved."""
    label = label.strip()
    if not label:
        raise InvalidInput("name the day closed", hint="e.g. 'Christmas Day'")
    async with within_transaction(conn):
        calendars = Calendars(conn)
        await calendars.get(calendar_name)  # exists, or InvalidInput naming those that do
        added = await repository.insert_closed_day(conn, calendar_name, on_date, label)
        moved = await _recompute(conn, calendar_name, actor, datetime.now(UTC)) if added else []
        await audit.append(
            conn,
            AuditEntry(
                actor_type=actor.type,
                actor_id=actor.id,
                event_type="sla.calendar_day_closed",
                success=True,
                input={"calendar": calendar_name, "on_date": on_date.isoformat(), "label": label},
                output={"added": added, "clocks_recomputed": len(moved)},
            ),
        )
    return len(moved)


async def recompute_due(
    conn: AsyncConnection[Any], calendar_name: str, *, actor: Actor, at: datetime | None = None
) -> list[Clock]:
    """After a change to the calendar: each running clock's due time from its last start or
    resume under the calendar as it is now. History (business_used) is not rewritten."""
    async with within_transaction(conn):
        moved = await _recompute(conn, calendar_name, actor, at or datetime.now(UTC))
        await audit_clocks(
            conn, "sla.clocks_recomputed", actor, moved, input={"calendar": calendar_name}
        )
    return moved


async def _recompute(
    conn: AsyncConnection[Any], calendar_name: str, actor: Actor, moment: datetime
) -> list[Clock]:
    calendar = await repository.load_calendar(conn, calendar_name)
    if calendar is None:
        raise InvalidInput(f"no calendar {calendar_name!r}")
    moved, events = [], []
    for clock in await repository.lock_running_on_calendar(conn, calendar_name):
        due = due_time(
            clock.unit, running_since(clock), clock.target - clock.business_used, calendar
        )
        if due != clock.due_at:
            updated = replace(clock, due_at=due)
            await repository.save_clock(conn, updated)
            moved.append(updated)
            events.append(clock_event(updated, ClockEvent.RECOMPUTED, moment, actor))
    await repository.insert_events(conn, events)
    return moved
