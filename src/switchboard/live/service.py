"""What an agent's stream sends for a burst of changes: those the agent may see, read again
under the agent's row-level security in one transaction and one statement, whatever the
burst holds (50 streams and a burst of 100 messages: 50 reads, not 5,000)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from switchboard.live import repository
from switchboard.live.models import Change, Event, Kind
from switchboard.row_security import AgentClaims, act_as_agent


async def visible_events(
    pool: AsyncConnectionPool[Any], claims: AgentClaims, changes: list[Change]
) -> list[Event]:
    """The events for `changes` that the agent may see, in the order they came (an assignment
    or a case once, as it is now)."""
    wanted: dict[str, set[UUID]] = {
        "assignment": set(),
        "conversation": set(),
        "case": set(),
        "agent": set(),
    }
    for change in changes:
        for kind, row_id in _subjects(change):
            wanted[kind].add(row_id)
    if not any(wanted.values()):
        return []
    async with pool.connection() as conn, conn.transaction():
        await act_as_agent(conn, claims)
        rows = await repository.visible_rows(
            conn,
            assignments=sorted(wanted["assignment"]),
            conversations=sorted(wanted["conversation"]),
            cases=sorted(wanted["case"]),
            agents=sorted(wanted["agent"]),
        )
    seen = {(row.kind, row.id): row for row in rows}
    events: list[Event] = []
    sent: set[tuple[Kind, UUID | None]] = set()
    for change in changes:
        # An assignment or a case is sent as it is now: once is enough. A presence is sent as
        # it was notified: each, in order, so that the last one holds.
        key = (change.kind, change.id())
        if change.kind in (Kind.ASSIGNMENT, Kind.CASE) and key in sent:
            continue
        event = _event(change, seen)
        if event is not None:
            sent.add(key)
            events.append(event)
    return events


def _subjects(change: Change) -> list[tuple[str, UUID]]:
    """The rows whose visibility decides whether the agent is told of `change`."""
    subjects: list[tuple[str, UUID | None]]
    match change.kind:
        case Kind.ASSIGNMENT:
            subjects = [("assignment", change.id())]
        case Kind.MESSAGE | Kind.NOTE | Kind.VERIFICATION:
            subjects = [("conversation", change.id("conversation_id"))]
        case Kind.CASE:
            subjects = [("case", change.id())]
        case Kind.SLA:
            subjects = [
                ("conversation", change.id("conversation_id")),
                ("case", change.id("case_id")),
            ]
        case Kind.PRESENCE:
            subjects = [("agent", change.id("agent_id"))]
        case _:
            subjects = []
    return [(kind, row_id) for kind, row_id in subjects if row_id is not None]


def _text(value: UUID | None) -> str | None:
    return None if value is None else str(value)


def _event(change: Change, seen: dict[tuple[str, UUID], repository.Seen]) -> Event | None:
    """The event for `change` if the agent may see what it names; its data ids and states."""

    def visible(kind: str, field: str = "id") -> repository.Seen | None:
        row_id = change.id(field)
        return None if row_id is None else seen.get((kind, row_id))

    data: dict[str, str | None] | None = None
    match change.kind:
        case Kind.ASSIGNMENT:
            if (item := visible("assignment")) is not None:
                data = {
                    "id": str(item.id),
                    "conversation_id": _text(item.conversation_id),
                    "case_id": _text(item.case_id),
                    "queue": item.queue,
                    "state": item.state,
                }
        case Kind.MESSAGE | Kind.NOTE | Kind.VERIFICATION:
            if visible("conversation", "conversation_id") is not None:
                data = {
                    "id": _text(change.id()),
                    "conversation_id": _text(change.id("conversation_id")),
                }
        case Kind.CASE:
            if (case := visible("case")) is not None:
                data = {"id": str(case.id), "conversation_id": _text(case.conversation_id)}
        case Kind.SLA:
            conversation = visible("conversation", "conversation_id")
            case = visible("case", "case_id")
            if conversation is not None or case is not None:
                # Only the subjects read again as the agent: a notification's other one (a
                # case of another queue, or any uuid a forged one names) is not passed on.
                data = {
                    "id": _text(change.id()),
                    "clock_id": _text(change.id("clock_id")),
                    "conversation_id": None if conversation is None else str(conversation.id),
                    "case_id": None if case is None else str(case.id),
                    "event": change.values["event"],
                }
        case Kind.PRESENCE:
            if visible("agent", "agent_id") is not None:
                data = {
                    "agent_id": _text(change.id("agent_id")),
                    "presence": change.values["presence"],
                }
    return None if data is None else Event(change.kind.value, data)
