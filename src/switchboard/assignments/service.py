"""Handing a conversation (or a case) to a human queue, audited."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.assignments import repository
from switchboard.assignments.models import DEFAULT_SLA, SLA, Assignment, Queue
from switchboard.audit import service as audit
from switchboard.audit.models import Actor, AuditEntry
from switchboard.enum_input import member_of
from switchboard.errors import InvalidInput
from switchboard.privacy import mask_card_numbers

MAX_REASON = 500


async def hand_to_queue(
    conn: AsyncConnection[Any],
    actor: Actor,
    *,
    queue: str,
    reason: str,
    conversation_id: UUID | None = None,
    case_id: UUID | None = None,
    bank_customer_id: UUID | None = None,
) -> Assignment:
    """Put the work in the queue's list with its pick-up deadline (the queue's SLA)."""
    target = member_of(Queue, queue, "queue")
    reason = mask_card_numbers(reason.strip())
    if not reason:
        raise InvalidInput("say why the work is handed over", hint="a reason of a few words")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"the reason is longer than {MAX_REASON} characters")
    if conversation_id is None and case_id is None:
        raise InvalidInput("an assignment needs a conversation or a case")
    async with conn.transaction():
        assignment = await repository.insert_assignment(
            conn,
            conversation_id=conversation_id,
            case_id=case_id,
            queue_name=target,
            reason=reason,
            within=SLA.get(target, DEFAULT_SLA),
        )
        await audit.append(
            conn,
            AuditEntry(
                actor_type=actor.type,
                actor_id=actor.id,
                event_type="assignment.queued",
                success=True,
                input={"queue": target, "reason_chars": len(reason)},
                output={
                    "assignment_id": str(assignment.id),
                    "sla_due_at": assignment.sla_due_at.isoformat(),
                },
                conversation_id=conversation_id,
                case_id=case_id,
                bank_customer_id=bank_customer_id,
            ),
        )
    return assignment
