"""Appending to the audit trail, inside the caller's transaction."""

from __future__ import annotations

from dataclasses import fields
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.audit import repository
from switchboard.audit.models import AuditEntry
from switchboard.privacy import mask_cards_in


async def append(conn: AsyncConnection[Any], entry: AuditEntry) -> UUID | int:
    """Write one record. Card numbers are masked in its payloads whatever the caller passed."""
    return await repository.insert_audit_log(conn, record_values(entry))


def record_values(entry: AuditEntry) -> dict[str, Any]:
    """The record's columns as they are stored, for a statement that writes it with others."""
    # Shallow: mask_cards_in below builds the payload copies; asdict would deep-copy them first.
    values = {field.name: getattr(entry, field.name) for field in fields(entry)}
    values["actor_type"] = str(entry.actor_type)
    values["input"] = mask_cards_in(entry.input)
    values["output"] = mask_cards_in(entry.output)
    if entry.error_message:
        values["error_message"] = mask_cards_in(entry.error_message)
    return values
