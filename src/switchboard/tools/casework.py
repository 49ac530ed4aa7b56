"""list_cases, get_case, create_case, add_case_note: a verified caller's own cases only."""

from __future__ import annotations

from typing import Any

from switchboard.cases import service as cases
from switchboard.cases.models import Case
from switchboard.tools.arguments import AddCaseNote, CreateCase, GetCase, ListCases
from switchboard.tools.context import ToolRun
from switchboard.tools.models import Outcome


async def list_cases(run: ToolRun, args: ListCases) -> Outcome:
    customer_id = run.require_verified()
    found = await cases.customer_cases(run.conn, customer_id, include_closed=args.include_closed)
    return Outcome(
        {"cases": [_brief(case) for case in found]},
        audit={"case_ids": [str(case.id) for case in found]},
    )


async def get_case(run: ToolRun, args: GetCase) -> Outcome:
    customer_id = run.require_verified()
    case, notes = await cases.customer_case(run.conn, customer_id, args.case_id)
    detail = {
        **_brief(case),
        "updated_at": case.updated_at.isoformat(timespec="seconds"),
        "resolved_at": case.resolved_at.isoformat(timespec="seconds") if case.resolved_at else None,
        "closed_at": case.closed_at.isoformat(timespec="seconds") if case.closed_at else None,
        "notes": notes,
    }
    return Outcome(
        {"case": detail}, audit={"case_id": str(case.id), "status": case.status}, case_id=case.id
    )


async def create_case(run: ToolRun, args: CreateCase) -> Outcome:
    customer_id = run.require_verified()
    case = await cases.open_case(
        run.conn,
        run.actor,
        case_type=args.case_type,
        priority=args.priority,
        summary=args.summary,
        bank_customer_id=customer_id,
        conversation_id=run.caller.conversation_id,
    )
    return Outcome(
        {"case": _brief(case)},
        audit={"case_id": str(case.id), "status": case.status},
        case_id=case.id,
    )


async def add_case_note(run: ToolRun, args: AddCaseNote) -> Outcome:
    customer_id = run.require_verified()
    case, _ = await cases.customer_case(run.conn, customer_id, args.case_id)
    note_id = await cases.add_note(run.conn, run.actor, case.id, args.note)
    return Outcome(
        {"note_added": True, "case_id": str(case.id)},
        audit={"case_id": str(case.id), "note_id": str(note_id)},
        case_id=case.id,
    )


def _brief(case: Case) -> dict[str, Any]:
    return {
        "case_id": str(case.id),
        "case_type": case.case_type,
        "status": case.status,
        "priority": case.priority,
        "summary": case.summary,
        "created_at": case.created_at.isoformat(timespec="seconds"),
    }
