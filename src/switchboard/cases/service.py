"""Opening cases, moving them through the workflow, and adding notes; each one transaction,
each audited."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.audit import service as audit
from switchboard.audit.models import Actor, AuditEntry
from switchboard.cases import repository
from switchboard.cases.models import (
    LEGACY_STATUS,
    TRANSITIONS,
    Case,
    CasePriority,
    CaseStatus,
    CaseType,
)
from switchboard.db import within_transaction
from switchboard.enum_input import member_of
from switchboard.errors import CaseNotFound, IllegalCaseTransition, InvalidInput
from switchboard.privacy import mask_card_numbers

MAX_SUMMARY = 500
MAX_NOTE = 4000


async def open_case(
    conn: AsyncConnection[Any],
    actor: Actor,
    *,
    case_type: str,
    priority: str = CasePriority.NORMAL,
    summary: str,
    bank_customer_id: UUID | None = None,
    conversation_id: UUID | None = None,
) -> Case:
    kind = member_of(CaseType, case_type, "case type")
    urgency = member_of(CasePriority, priority, "priority")
    text = mask_card_numbers(_text(summary, "summary", MAX_SUMMARY))
    async with within_transaction(conn):  # everything that may raise is checked above
        case = await repository.insert_case(
            conn,
            bank_customer_id=bank_customer_id,
            conversation_id=conversation_id,
            case_type=kind,
            priority=urgency,
            summary=text,
        )
        await audit.append(
            conn,
            _entry(
                actor,
                "case.opened",
                case,
                input={"case_type": kind, "priority": urgency, "summary_chars": len(text)},
                output={"case_id": str(case.id), "status": case.status},
            ),
        )
    return case


def next_states(status: str) -> list[str]:
    """Where a case in `status` may move next (the workflow's order), none for one unknown."""
    current = LEGACY_STATUS.get(status) or CaseStatus._value2member_map_.get(status)
    if not isinstance(current, CaseStatus):
        return []
    return [str(s) for s in CaseStatus if s in TRANSITIONS[current]]


async def move_case(
    conn: AsyncConnection[Any], actor: Actor, case_id: UUID, to_status: str
) -> Case:
    """Move a case to its next status, if the workflow allows it."""
    target = member_of(CaseStatus, to_status, "case status")
    async with conn.transaction():
        case = await repository.lock_case(conn, case_id)
        if case is None:
            raise CaseNotFound(f"no case {case_id}")
        current = LEGACY_STATUS.get(case.status) or CaseStatus(case.status)
        if target not in TRANSITIONS[current]:
            allowed = ", ".join(sorted(TRANSITIONS[current])) or "none: closed is final"
            raise IllegalCaseTransition(
                f"a case in {case.status} cannot move to {target}",
                hint=f"from {case.status} it may move to: {allowed}",
            )
        moved = await repository.update_status(conn, case_id, target)
        await audit.append(
            conn,
            _entry(
                actor,
                "case.status_changed",
                moved,
                input={"to": target},
                output={"before": case.status, "after": moved.status},
            ),
        )
    return moved


async def add_note(conn: AsyncConnection[Any], actor: Actor, case_id: UUID, body: str) -> UUID:
    """Append a note; notes are never edited (the table refuses UPDATE and DELETE)."""
    text = mask_card_numbers(_text(body, "note", MAX_NOTE))
    async with within_transaction(conn):  # a missing case raises before anything is written
        case = await repository.lock_case(conn, case_id)
        if case is None:
            raise CaseNotFound(f"no case {case_id}")
        note_id = await repository.insert_note(conn, case_id, actor.type, actor.id, text)
        await audit.append(
            conn,
            _entry(
                actor,
                "case.note_added",
                case,
                input={"note_chars": len(text)},
                output={"note_id": str(note_id)},
            ),
        )
    return note_id


async def customer_cases(
    conn: AsyncConnection[Any],
    bank_customer_id: UUID,
    *,
    include_closed: bool = False,
    limit: int = 20,
) -> list[Case]:
    return await repository.list_customer_cases(
        conn, bank_customer_id, include_closed=include_closed, limit=limit
    )


async def customer_case(
    conn: AsyncConnection[Any], bank_customer_id: UUID, case_id: UUID
) -> tuple[Case, int]:
    """One of the customer's cases and how many notes it has. Another customer's case is
    answered exactly as a missing one, so its existence is not given away."""
    case = await repository.find_case(conn, case_id)
    if case is None or case.bank_customer_id != bank_customer_id:
        raise CaseNotFound(f"the customer has no case {case_id}")
    return case, await repository.count_notes(conn, case_id)


def _entry(
    actor: Actor, event_type: str, case: Case, *, input: dict[str, Any], output: dict[str, Any]
) -> AuditEntry:
    return AuditEntry(
        actor_type=actor.type,
        actor_id=actor.id,
        event_type=event_type,
        success=True,
        input=input,
        output=output,
        case_id=case.id,
        conversation_id=case.conversation_id,
        bank_customer_id=case.bank_customer_id,
    )


def _text(value: str, what: str, limit: int) -> str:
    text = value.strip()
    if not text:
        raise InvalidInput(f"the {what} is empty")
    if len(text) > limit:
        raise InvalidInput(f"the {what} is longer than {limit} characters")
    return text
