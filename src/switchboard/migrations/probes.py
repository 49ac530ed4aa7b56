"""Probe rows for the checklist: the least a table needs to accept an insert.

A bank's own schema may add NOT NULL columns, or narrower value lists, to what 001-005 made
(a customer table with a KYC level, say). Each probe row therefore fills every NOT NULL column
that has no default, and picks a value a column's list-of-values CHECK allows, so that the
checklist tests the property it names and not the probe's guesses.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from psycopg import sql

from switchboard.db import Conn

PROBE = "switchboard-verify"
_LITERAL = re.compile(r"'((?:[^']|'')*)'")
# Values by type category (pg_type.typcategory) for columns nobody told us about.
_BY_CATEGORY: dict[str, object] = {"N": 0, "B": False}


@dataclass
class Parents:
    customer_id: object
    conversation_id: object
    case_id: object


def insert_row(conn: Conn, table: str, values: dict[str, object]) -> object:
    """Insert a probe row; its id as the database made it (a uuid, or a bigint: the
    specification allows either), or as this function made it where there is no default."""
    columns = _columns(conn, table)
    present = {column for column, *_ in columns}
    # Values for columns this database does not have (a bank's own customer table) are left out.
    row = {k: v for k, v in values.items() if k in present}
    required = _required(conn, table)
    for column, type_name, category, allowed in columns:
        if column in row:
            if allowed and row[column] not in allowed:
                row[column] = allowed[0]
        elif column in required:
            row[column] = allowed[0] if allowed else _value_for(type_name, category)
    statement = (
        sql.SQL("INSERT INTO {} ({}) VALUES ({}) RETURNING id").format(
            sql.Identifier(table),
            sql.SQL(", ").join(map(sql.Identifier, row)),
            sql.SQL(", ").join(sql.Placeholder() * len(row)),
        )
        if row
        else sql.SQL("INSERT INTO {} DEFAULT VALUES RETURNING id").format(sql.Identifier(table))
    )
    found = conn.execute(statement, tuple(row.values())).fetchone()
    if found is None:  # INSERT ... RETURNING always returns the row it wrote
        raise RuntimeError(f"{table} probe insert returned no row")
    return found[0]


def insert_parents(conn: Conn) -> Parents:
    customer = insert_row(conn, "cc_bank_customers", {"customer_ref": f"{PROBE}-{uuid.uuid4()}"})
    conversation = insert_row(
        conn,
        "cc_conversations",
        {"bank_customer_id": customer, "channel": "sms", "status": "open"},
    )
    case = insert_row(
        conn,
        "cc_cases",
        {"bank_customer_id": customer, "case_type": "general", "status": "new", "summary": PROBE},
    )
    return Parents(customer, conversation, case)


def insert_audit(conn: Conn) -> object:
    return insert_row(
        conn,
        "cc_audit_logs",
        {
            "actor_type": "system",
            "actor_id": PROBE,
            "event_type": "verify.probe",
            "event_version": 1,
            "success": True,
        },
    )


def _message(conn: Conn, p: Parents, tag: str) -> object:
    return insert_row(
        conn,
        "cc_messages",
        {
            "conversation_id": p.conversation_id,
            "direction": "inbound",
            "provider": "other",
            "provider_message_id": f"{PROBE}-{p.conversation_id}-{tag}",
            "status": "received",
        },
    )


def _identity_link(conn: Conn, p: Parents, tag: str) -> object:
    return insert_row(
        conn,
        "cc_identity_links",
        {
            "bank_customer_id": p.customer_id,
            "channel": "email",
            "address": f"{tag}-{p.customer_id}@verify.invalid",
        },
    )


def _auth_session(conn: Conn, p: Parents, tag: str) -> object:
    return insert_row(
        conn,
        "cc_auth_sessions",
        {
            "bank_customer_id": p.customer_id,
            "conversation_id": p.conversation_id,
            "status": "created",
            "expires_at": datetime.now(UTC) + timedelta(minutes=10),
            "provider": "other",
            "provider_request_id": f"{PROBE}-{p.customer_id}-{tag}",
        },
    )


INSERTERS: dict[str, Callable[[Conn, Parents, str], object]] = {
    "cc_bank_customers": lambda c, p, t: insert_row(
        c, "cc_bank_customers", {"customer_ref": f"{PROBE}-{uuid.uuid4()}"}
    ),
    "cc_conversations": lambda c, p, t: insert_row(
        c,
        "cc_conversations",
        {"bank_customer_id": p.customer_id, "channel": "sms", "status": "open"},
    ),
    "cc_messages": _message,
    "cc_cases": lambda c, p, t: insert_row(
        c,
        "cc_cases",
        {
            "bank_customer_id": p.customer_id,
            "case_type": "general",
            "status": "new",
            "summary": PROBE,
        },
    ),
    "cc_auth_sessions": _auth_session,
    "cc_audit_logs": lambda c, p, t: insert_audit(c),
    "cc_identity_links": _identity_link,
    "cc_comm_preferences": lambda c, p, t: insert_row(
        c, "cc_comm_preferences", {"bank_customer_id": p.customer_id, "do_not_contact": False}
    ),
    "cc_assignments": lambda c, p, t: insert_row(
        c,
        "cc_assignments",
        {"conversation_id": p.conversation_id, "case_id": p.case_id, "queue_name": PROBE},
    ),
}
UNIQUE_PROBES: dict[str, Callable[[Conn, Parents, str], object]] = {
    "cc_messages (provider, provider_message_id)": _message,
    "cc_identity_links (channel, address)": _identity_link,
    "cc_auth_sessions (provider, provider_request_id)": _auth_session,
}


def _columns(conn: Conn, table: str) -> list[tuple[str, str, str, list[str]]]:
    """(name, type, type category, values its own list-of-values CHECK allows) per column."""
    rows = conn.execute(
        "SELECT a.attname::text, format_type(a.atttypid, a.atttypmod), t.typcategory::text,"
        " (SELECT pg_get_constraintdef(c.oid) FROM pg_constraint AS c"
        "   WHERE c.conrelid = a.attrelid AND c.contype = 'c' AND c.conkey = ARRAY[a.attnum]"
        "   AND pg_get_constraintdef(c.oid) LIKE '%% = ANY (%%' LIMIT 1)"
        " FROM pg_attribute AS a JOIN pg_type AS t ON t.oid = a.atttypid"
        " WHERE a.attrelid = to_regclass(%s) AND a.attnum > 0 AND NOT a.attisdropped",
        (table,),
    ).fetchall()
    return [
        (
            name,
            type_name,
            category,
            [v.replace("''", "'") for v in _LITERAL.findall(check)] if check else [],
        )
        for name, type_name, category, check in rows
    ]


def _required(conn: Conn, table: str) -> set[str]:
    rows = conn.execute(
        "SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0"
        " AND NOT attisdropped AND attnotnull AND NOT atthasdef AND attidentity = ''"
        " AND attgenerated = ''",
        (table,),
    ).fetchall()
    return {name for (name,) in rows}


def _value_for(type_name: str, category: str) -> object:
    if type_name == "uuid":
        return uuid.uuid4()
    if category == "D":
        return datetime.now(UTC)
    if type_name in {"json", "jsonb"}:
        return "{}"
    # Text gets a value of its own each time: it may well be a unique key (a customer ref).
    return _BY_CATEGORY.get(category, f"{PROBE}-{uuid.uuid4().hex[:12]}")
