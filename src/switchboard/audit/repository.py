"""SQL for cc_audit_logs. Inserts only: the table refuses anything else."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb


def _json_value(value: object) -> str:
    """Ids may be passed as UUIDs: stored as their text."""
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot be stored in an audit payload")


# Payloads as JSON text. json.dumps(value, default=...) would build a new encoder each call.
payload_json = json.JSONEncoder(default=_json_value).encode


# One record; a statement that writes it with another row (WITH ... INSERT) ends with it.
INSERT_AUDIT_LOG = (
    "INSERT INTO cc_audit_logs (actor_type, actor_id, event_type, event_version,"
    " input_redacted, output_redacted, success, error_code, error_message,"
    " conversation_id, case_id, bank_customer_id)"
    " VALUES (%(actor_type)s, %(actor_id)s, %(event_type)s, %(event_version)s,"
    " %(input)s, %(output)s, %(success)s, %(error_code)s, %(error_message)s,"
    " %(conversation_id)s, %(case_id)s, %(bank_customer_id)s)"
)


def audit_parameters(values: dict[str, Any]) -> dict[str, Any]:
    """INSERT_AUDIT_LOG's parameters, from the record's columns (audit.service.record_values)."""
    return {
        **values,
        "input": Jsonb(values["input"], dumps=payload_json),
        "output": Jsonb(values["output"], dumps=payload_json),
    }


async def insert_audit_log(conn: AsyncConnection[Any], values: dict[str, Any]) -> UUID | int:
    """The record's id: a uuid, or a bigint in a database adopted with a bigserial audit id
    (docs/migrations.md); either way the service never reads a record back by it."""
    cursor = await conn.execute(INSERT_AUDIT_LOG + " RETURNING id", audit_parameters(values))
    row = await cursor.fetchone()
    if row is None:  # INSERT ... RETURNING always returns the row it wrote
        raise RuntimeError("cc_audit_logs insert returned no row")
    audit_id: UUID | int = row[0]  # psycopg loads uuid and bigint as UUID and int already
    return audit_id
