"""Appending to the audit trail, inside the caller's transaction; and folding the records of
one use case into one (one_record)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from contextvars import ContextVar
from dataclasses import fields, replace
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.audit import repository
from switchboard.audit.models import AuditEntry
from switchboard.privacy import mask_cards_in
from switchboard.request_ids import current_request_id


class _Folding:
    """The record a use case is writing, and what its later steps recorded."""

    def __init__(self, conn: AsyncConnection[Any]) -> None:
        self.conn = conn
        self.first: AuditEntry | None = None
        self.later: list[AuditEntry] = []

    def takes(self, conn: AsyncConnection[Any], entry: AuditEntry) -> bool:
        if conn is not self.conn:
            return False
        if self.first is None:
            self.first = entry
            return True
        if (entry.actor_type, entry.actor_id) != (self.first.actor_type, self.first.actor_id):
            return False  # another's (the system's breach found on the way): its own record
        self.later.append(entry)
        return True

    def folded(self, first: AuditEntry) -> AuditEntry:
        if not self.later:
            return first
        also = [
            {"event_type": e.event_type, **({"input": e.input} if e.input else {}), **e.output}
            for e in self.later
        ]
        return replace(
            first,
            output={**first.output, "also": also},
            conversation_id=first.conversation_id
            or next((e.conversation_id for e in self.later if e.conversation_id), None),
            case_id=first.case_id or next((e.case_id for e in self.later if e.case_id), None),
            bank_customer_id=first.bank_customer_id
            or next((e.bank_customer_id for e in self.later if e.bank_customer_id), None),
        )


# The use case folding its records on this task, if any (one_record): per task, like the
# request's id, so concurrent requests never see each other's.
_FOLDING: ContextVar[_Folding | None] = ContextVar("audit_folding", default=None)


@asynccontextmanager
async def one_record(conn: AsyncConnection[Any]) -> AsyncIterator[None]:
    """One record for the use case run inside, on `conn`, within its transaction: its first
    record, written when the use case ends without error, with what the later records of the
    same actor said under output["also"] (an agent's reply and the SLA clocks it met). Records
    of another actor are written as they come. Nothing is written if the use case fails."""
    folding = _Folding(conn)
    token = _FOLDING.set(folding)
    try:
        yield
    finally:
        _FOLDING.reset(token)
    if folding.first is not None:
        await repository.insert_audit_log(conn, values_now(folding.folded(folding.first)))


async def append(conn: AsyncConnection[Any], entry: AuditEntry) -> UUID | int | None:
    """Write one record (None: folded into the record of the use case, see one_record). Card
    numbers are masked in its payloads whatever the caller passed. Written while a request is
    served, its input carries the request's id (request_id)."""
    folding = _FOLDING.get()
    if folding is not None and folding.takes(conn, entry):
        return None
    return await repository.insert_audit_log(conn, values_now(entry))


def values_now(entry: AuditEntry) -> dict[str, Any]:
    """The record's columns as append would store them now, for a statement that writes it
    with another row: masked, with the id of the request being served."""
    return record_values(entry, current_request_id())


def record_values(entry: AuditEntry, request_id: str | None) -> dict[str, Any]:
    """The record's columns as they are stored, for a statement that writes it with others;
    `request_id`, that of the request it was written for (docs/channels.md)."""
    # Shallow: mask_cards_in below builds the payload copies; asdict would deep-copy them first.
    values = {field.name: getattr(entry, field.name) for field in fields(entry)}
    values["actor_type"] = str(entry.actor_type)
    values["input"] = mask_cards_in(entry.input)
    if request_id is not None:
        # After the masking: an id is checked for card numbers when it is taken (request_ids.py).
        values["input"]["request_id"] = request_id
    values["output"] = mask_cards_in(entry.output)
    if entry.error_message:
        values["error_message"] = mask_cards_in(entry.error_message)
    return values
