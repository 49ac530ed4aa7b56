"""Demo customers, identities and a little history, so a new database has something to show.

Loading is idempotent: every row has a fixed id derived from its name, and a second load
inserts nothing. Phone numbers are from Ofcom's range reserved for drama (+44 7700 900xxx)
and addresses use example.com, so no demo message can reach a real person.
"""

from __future__ import annotations

import uuid

from psycopg.types.json import Jsonb

from switchboard.db import Conn, connect

_NAMESPACE = uuid.UUID("6f1c2a7e-3f0b-4d5e-9a51-5b3c0e1d2f40")

CUSTOMERS = (
    ("CUST-0001", "Ada Lovelace", "ada@example.com", "+447700900001", "Europe/London"),
    ("CUST-0002", "Grace Hopper", "grace@example.com", "+447700900002", "America/New_York"),
    ("CUST-0003", "Alan Turing", "alan@example.com", "+447700900003", "Europe/London"),
)


def demo_id(name: str) -> uuid.UUID:
    return uuid.uuid5(_NAMESPACE, name)


def load_demo_data(url: str) -> dict[str, int]:
    """Insert the demo rows that are missing; returns how many of each the database now has."""
    with connect(url) as conn, conn.transaction():
        for ref, name, email, phone, timezone in CUSTOMERS:
            customer_id = demo_id(ref)
            _insert(
                conn,
                "cc_bank_customers",
                id=customer_id,
                customer_ref=ref,
                full_name=name,
                email=email,
                phone=phone,
            )
            _insert(
                conn,
                "cc_identity_links",
                id=demo_id(f"{ref}/phone"),
                bank_customer_id=customer_id,
                channel="phone",
                address=phone,
            )
            _insert(
                conn,
                "cc_identity_links",
                id=demo_id(f"{ref}/email"),
                bank_customer_id=customer_id,
                channel="email",
                address=email,
            )
            _insert(
                conn,
                "cc_comm_preferences",
                id=demo_id(f"{ref}/prefs"),
                bank_customer_id=customer_id,
                do_not_contact=False,
                allowed_channels=Jsonb(["sms", "email", "voice"]),
                timezone=timezone,
            )
        _load_history(conn)
        return {
            table: _count(conn, table)
            for table in (
                "cc_bank_customers",
                "cc_identity_links",
                "cc_conversations",
                "cc_messages",
                "cc_cases",
                "cc_assignments",
                "cc_audit_logs",
            )
        }


def _load_history(conn: Conn) -> None:
    ada = demo_id("CUST-0001")
    sms = demo_id("conversation/ada-sms")
    _insert(
        conn,
        "cc_conversations",
        id=sms,
        bank_customer_id=ada,
        channel="sms",
        status="open",
        provider="twilio",
        provider_conversation_id="+447700900001|+447700900999",
    )
    _insert(
        conn,
        "cc_messages",
        id=demo_id("message/ada-1"),
        conversation_id=sms,
        direction="inbound",
        provider="twilio",
        provider_message_id="SM00000000000000000000000000000001",
        from_address="+447700900001",
        to_address="+447700900999",
        body_text="My card was declined abroad, is it blocked?",
        status="received",
    )
    _insert(
        conn,
        "cc_messages",
        id=demo_id("message/ada-2"),
        conversation_id=sms,
        direction="outbound",
        provider="twilio",
        provider_message_id="SM00000000000000000000000000000002",
        from_address="+447700900999",
        to_address="+447700900001",
        body_text="We're looking into it. A specialist will reply shortly.",
        status="delivered",
    )
    case = demo_id("case/ada-card")
    _insert(
        conn,
        "cc_cases",
        id=case,
        bank_customer_id=ada,
        case_type="cards",
        status="triage",
        priority="high",
        summary="Card declined abroad",
    )
    _insert(
        conn,
        "cc_assignments",
        id=demo_id("assignment/ada-card"),
        conversation_id=sms,
        case_id=case,
        queue_name="cards",
    )
    _insert(
        conn,
        "cc_audit_logs",
        id=demo_id("audit/ada-case-opened"),
        conversation_id=sms,
        case_id=case,
        bank_customer_id=ada,
        actor_type="system",
        actor_id="demo",
        event_type="case.opened",
        event_version=1,
        input_redacted=Jsonb({"case_type": "cards"}),
        output_redacted=Jsonb({"case_id": str(case)}),
        success=True,
    )


def _count(conn: Conn, table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


def _insert(conn: Conn, table: str, **values: object) -> None:
    columns = ", ".join(values)
    placeholders = ", ".join(["%s"] * len(values))
    conn.execute(
        f"INSERT INTO {table} ({columns}) VALUES ({placeholders}) ON CONFLICT DO NOTHING",
        tuple(values.values()),
    )
