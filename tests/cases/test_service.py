"""The case workflow: every legal and illegal move, stamps, audit before/after, notes."""

from __future__ import annotations

import itertools
from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection

from switchboard.audit.models import Actor, ActorType
from switchboard.cases import service
from switchboard.cases.models import TRANSITIONS, CaseStatus
from switchboard.errors import CaseNotFound, IllegalCaseTransition, InvalidInput
from tests.builders import execute

pytestmark = pytest.mark.anyio
AGENT = Actor(ActorType.AGENT, "agent-7")
# The shortest way from new to each status, through the workflow itself.
PATH = {
    CaseStatus.NEW: [],
    CaseStatus.TRIAGE: [CaseStatus.TRIAGE],
    CaseStatus.IN_PROGRESS: [CaseStatus.TRIAGE, CaseStatus.IN_PROGRESS],
    CaseStatus.WAITING_CUSTOMER: [
        CaseStatus.TRIAGE,
        CaseStatus.IN_PROGRESS,
        CaseStatus.WAITING_CUSTOMER,
    ],
    CaseStatus.RESOLVED: [CaseStatus.TRIAGE, CaseStatus.IN_PROGRESS, CaseStatus.RESOLVED],
    CaseStatus.CLOSED: [
        CaseStatus.TRIAGE,
        CaseStatus.IN_PROGRESS,
        CaseStatus.RESOLVED,
        CaseStatus.CLOSED,
    ],
}


async def case_at(conn: AsyncConnection[Any], status: CaseStatus) -> Any:
    case = await service.open_case(conn, AGENT, case_type="cards", summary="Card declined")
    for step in PATH[status]:
        case = await service.move_case(conn, AGENT, case.id, step)
    return case


@pytest.mark.parametrize(
    ("start", "target"),
    [(a, b) for a, b in itertools.product(CaseStatus, CaseStatus) if b in TRANSITIONS[a]],
)
async def test_every_legal_move_is_made_and_audited_with_before_and_after(
    conn: AsyncConnection[Any], migrated_db: str, start: CaseStatus, target: CaseStatus
) -> None:
    case = await case_at(conn, start)

    moved = await service.move_case(conn, AGENT, case.id, target)

    assert moved.status == target
    last = execute(
        migrated_db,
        "SELECT output_redacted, actor_type, actor_id, case_id"
        " FROM cc_audit_logs WHERE event_type = 'case.status_changed'"
        " ORDER BY created_at DESC LIMIT 1",
    )
    assert last == [({"before": start, "after": target}, "agent", "agent-7", case.id)]


@pytest.mark.parametrize(
    ("start", "target"),
    [(a, b) for a, b in itertools.product(CaseStatus, CaseStatus) if b not in TRANSITIONS[a]],
)
async def test_every_illegal_move_is_refused_and_changes_nothing(
    conn: AsyncConnection[Any], migrated_db: str, start: CaseStatus, target: CaseStatus
) -> None:
    case = await case_at(conn, start)
    audited = execute(migrated_db, "SELECT count(*) FROM cc_audit_logs")

    with pytest.raises(IllegalCaseTransition, match=f"cannot move to {target}") as refused:
        await service.move_case(conn, AGENT, case.id, target)

    assert refused.value.http_status == 409
    assert execute(migrated_db, "SELECT status FROM cc_cases WHERE id = %s", (case.id,)) == [
        (start,)
    ]
    assert execute(migrated_db, "SELECT count(*) FROM cc_audit_logs") == audited


async def test_resolving_and_closing_stamp_the_case_and_reopening_clears_resolved_at(
    conn: AsyncConnection[Any],
) -> None:
    resolved = await case_at(conn, CaseStatus.RESOLVED)
    assert resolved.resolved_at is not None
    assert resolved.closed_at is None

    reopened = await service.move_case(conn, AGENT, resolved.id, CaseStatus.IN_PROGRESS)
    assert reopened.resolved_at is None

    closed = await case_at(conn, CaseStatus.CLOSED)
    assert closed.resolved_at is not None
    assert closed.closed_at is not None
    assert closed.updated_at >= closed.created_at


async def test_a_legacy_open_case_enters_the_workflow_as_new(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    (case_id,) = execute(
        migrated_db, "INSERT INTO cc_cases (case_type, status) VALUES ('card', 'open') RETURNING id"
    )[0]

    moved = await service.move_case(conn, AGENT, case_id, CaseStatus.TRIAGE)

    assert moved.status == "triage"


async def test_notes_are_appended_masked_and_never_edited(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    case = await case_at(conn, CaseStatus.TRIAGE)

    await service.add_note(conn, AGENT, case.id, "Customer read out 4111 1111 1111 1111")

    assert execute(migrated_db, "SELECT body, author_type, author_id FROM cc_case_notes") == [
        ("Customer read out •••• •••• •••• 1111", "agent", "agent-7")
    ]
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        execute(migrated_db, "UPDATE cc_case_notes SET body = 'edited'")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        execute(migrated_db, "DELETE FROM cc_case_notes")


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"case_type": "lottery", "summary": "x"}, "'lottery' is not a case type"),
        ({"case_type": "fraud", "priority": "whenever", "summary": "x"}, "not a priority"),
        ({"case_type": "fraud", "summary": "   "}, "the summary is empty"),
        ({"case_type": "fraud", "summary": "x" * 501}, "longer than 500"),
    ],
)
async def test_invalid_cases_are_refused_before_anything_is_written(
    conn: AsyncConnection[Any], migrated_db: str, arguments: dict[str, str], message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        await service.open_case(conn, AGENT, **arguments)

    assert execute(migrated_db, "SELECT count(*) FROM cc_cases") == [(0,)]


async def test_moving_an_unknown_case_is_a_404(conn: AsyncConnection[Any]) -> None:
    with pytest.raises(CaseNotFound) as missing:
        await service.move_case(conn, AGENT, "00000000-0000-0000-0000-000000000000", "triage")  # type: ignore[arg-type]

    assert missing.value.http_status == 404
