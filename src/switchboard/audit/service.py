"""Appending to the audit trail, inside the caller's transaction."""

from __future__ import annotations

from dataclasses import fields
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.audit import repository
from switchboard.audit.models import AuditEntry
from switchboard.privacy import mask_cards_in
from switchboard.request_ids import current_request_id


async def append(conn: AsyncConnection[Any], entry: AuditEntry) -> UUID | int:
    """Write one record. Card numbers are masked in its payloads whatever the caller passed.
    Written while a request is served, its input carries the request's id (request_id)."""
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
