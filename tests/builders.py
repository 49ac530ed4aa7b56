"""Plain functions that build and inspect databases for the tests."""

from __future__ import annotations

import json
import subprocess
import uuid
from pathlib import Path
from typing import Any

import psycopg

from switchboard.db import embedded_tool

LEGACY_TABLES = (
    "cc_bank_customers",
    "cc_conversations",
    "cc_messages",
    "cc_cases",
    "cc_auth_sessions",
    "cc_audit_logs",
    "cc_preferences",
)
TABLES_AFTER_006 = (
    "cc_bank_customers",
    "cc_conversations",
    "cc_messages",
    "cc_cases",
    "cc_auth_sessions",
    "cc_audit_logs",
    "cc_comm_preferences",
    "cc_identity_links",
    "cc_assignments",
)
# What 006 renames, as (table, old column, new column).
RENAMES = (
    ("cc_messages", "provider_msg_id", "provider_message_id"),
    ("cc_messages", "text", "body_text"),
    ("cc_audit_logs", "actor", "actor_type"),
    ("cc_audit_logs", "action", "event_type"),
    ("cc_audit_logs", "payload_redacted", "input_redacted"),
)


def execute(url: str, statement: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(statement.encode(), params or None)
        return cursor.fetchall() if cursor.description else []


def fill_legacy(url: str, *, customers: int = 3) -> None:
    """Rows in the pre-006 shape, including every legacy status and type and some NULLs."""
    with psycopg.connect(url) as conn:
        for n in range(customers):
            customer = uuid.uuid4()
            conn.execute(
                "INSERT INTO cc_bank_customers (id, customer_ref, full_name, email, phone)"
                " VALUES (%s, %s, %s, %s, %s)",
                (customer, f"C{n:05d}", f"Zoë Ñúñez {n}", f"c{n}@example.com", f"+4477009{n:05d}"),
            )
            conn.execute(
                "INSERT INTO cc_preferences (bank_customer_id, do_not_contact) VALUES (%s, %s)",
                (customer, n % 2 == 0),
            )
            for status in ("active", "closed", "archived"):
                conversation = uuid.uuid4()
                conn.execute(
                    "INSERT INTO cc_conversations (id, bank_customer_id, channel, status)"
                    " VALUES (%s, %s, %s, %s)",
                    (conversation, customer, ("sms", "email", "voice")[n % 3], status),
                )
                for m in range(3):
                    conn.execute(
                        "INSERT INTO cc_messages"
                        " (conversation_id, direction, provider_msg_id, text)"
                        " VALUES (%s, %s, %s, %s)",
                        (
                            conversation,
                            ("inbound", "outbound")[m % 2],
                            None if m == 2 else f"SM{uuid.uuid4().hex}",
                            f"message {m} — “quoted”",
                        ),
                    )
                conn.execute(
                    "INSERT INTO cc_audit_logs (conversation_id, actor, action, payload_redacted)"
                    " VALUES (%s, 'agent', 'conversation.viewed', %s)",
                    (conversation, json.dumps({"status": status, "n": n})),
                )
            for case_type, status in (
                ("card", "open"),
                ("account", "in_progress"),
                ("fraud", "resolved"),
            ):
                conn.execute(
                    "INSERT INTO cc_cases (bank_customer_id, case_type, status, description,"
                    " resolved_at) VALUES (%s, %s, %s, %s, %s)",
                    (
                        customer,
                        case_type,
                        status,
                        f"{case_type} problem",
                        "2026-01-02T03:04:05Z" if status == "resolved" else None,
                    ),
                )
            conn.execute(
                "INSERT INTO cc_auth_sessions (bank_customer_id, status, expires_at)"
                " VALUES (%s, 'pending', now() + interval '10 minutes'),"
                "        (%s, 'verified', now() - interval '1 day')",
                (customer, customer),
            )


def link_customer(url: str, *, phone: str, email: str) -> uuid.UUID:
    """A bank customer with a linked phone number and email address."""
    customer = uuid.uuid4()
    execute(
        url,
        "INSERT INTO cc_bank_customers (id, customer_ref) VALUES (%s, %s)",
        (customer, f"C-{customer}"),
    )
    execute(
        url,
        "INSERT INTO cc_identity_links (bank_customer_id, channel, address)"
        " VALUES (%s, 'phone', %s), (%s, 'email', %s)",
        (customer, phone, customer, email),
    )
    return customer


def rows(url: str, table: str) -> dict[str, dict[str, Any]]:
    """Every row of a table as JSON, keyed by id."""
    result = execute(url, f"SELECT id::text, to_jsonb(t) FROM {table} AS t")
    return dict(result)


def snapshot(url: str, tables: tuple[str, ...] = LEGACY_TABLES) -> dict[str, dict[str, Any]]:
    return {table: rows(url, table) for table in tables}


def column_names(url: str, table: str) -> list[str]:
    result = execute(
        url,
        "SELECT attname::text FROM pg_attribute WHERE attrelid = to_regclass(%s)"
        " AND attnum > 0 AND NOT attisdropped ORDER BY attnum",
        (table,),
    )
    return [name for (name,) in result]


def schema_snapshot(url: str) -> dict[str, Any]:
    """Everything about the cc_ tables a migration could change, including their storage."""
    queries = {
        "columns": "SELECT attrelid::regclass::text, attname, format_type(atttypid, atttypmod),"
        " attnotnull, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute AS a"
        " LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
        " WHERE attrelid::regclass::text LIKE 'cc\\_%' AND attnum > 0"
        " AND NOT attisdropped ORDER BY 1, 2",
        "constraints": "SELECT conrelid::regclass::text, conname, convalidated,"
        " pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid::regclass::text LIKE 'cc\\_%' ORDER BY 1, 2",
        "indexes": "SELECT indexrelid::regclass::text, indisvalid, pg_get_indexdef(indexrelid)"
        " FROM pg_index WHERE indrelid::regclass::text LIKE 'cc\\_%' ORDER BY 1",
        "triggers": "SELECT tgrelid::regclass::text, tgname, tgenabled FROM pg_trigger"
        " WHERE NOT tgisinternal ORDER BY 1, 2",
        "policies": "SELECT polrelid::regclass::text, polname FROM pg_policy ORDER BY 1, 2",
        "tables": "SELECT relname, relrowsecurity, relfilenode FROM pg_class"
        " WHERE relname LIKE 'cc\\_%' AND relkind = 'r' ORDER BY 1",
        "grants": "SELECT table_name, grantee, privilege_type"
        " FROM information_schema.table_privileges WHERE table_name LIKE 'cc\\_%' ORDER BY 1, 2, 3",
    }
    return {name: execute(url, query) for name, query in queries.items()}


def relfilenodes(url: str) -> dict[str, int]:
    """The files behind each table: a table rewrite gives a table a new one."""
    result = execute(
        url,
        "SELECT relname::text, relfilenode::int FROM pg_class"
        " WHERE relname LIKE 'cc\\_%' AND relkind = 'r'",
    )
    return dict(result)


def run_psql(url: str, path: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            str(embedded_tool("psql")),
            "-X",
            "-q",
            "-v",
            "ON_ERROR_STOP=1",
            *extra,
            "-d",
            url,
            "-f",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
