"""Changing contact preferences: validated, merged with what was there, audited."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg import AsyncConnection

from switchboard.audit.models import Actor, ActorType
from switchboard.errors import InvalidInput
from switchboard.preferences import service
from switchboard.preferences.models import ContactChannel
from tests.builders import execute, link_customer

pytestmark = pytest.mark.anyio
ASSISTANT = Actor(ActorType.AI_AGENT, "assistant-1")


async def test_a_customer_without_preferences_gets_the_defaults(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    customer = link_customer(migrated_db, phone="+447700900010", email="p@example.com")

    preferences = await service.get_preferences(conn, customer)

    assert (preferences.do_not_contact, preferences.allowed_channels, preferences.timezone) == (
        False,
        None,
        "Europe/London",
    )


async def test_changes_merge_with_what_was_there_and_are_audited(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    customer = link_customer(migrated_db, phone="+447700900011", email="q@example.com")
    await service.set_preferences(conn, ASSISTANT, customer, timezone="America/New_York")

    after = await service.set_preferences(
        conn, ASSISTANT, customer, allowed_channels=["email", "sms"]
    )

    assert after.timezone == "America/New_York"
    assert after.allowed_channels == frozenset({ContactChannel.EMAIL, ContactChannel.SMS})
    audits = execute(
        migrated_db,
        "SELECT actor_type, output_redacted->'after'->>'timezone',"
        " output_redacted->'before'->'allowed_channels'"
        " FROM cc_audit_logs WHERE event_type = 'preferences.updated'"
        " ORDER BY created_at",
    )
    assert audits == [
        ("ai_agent", "America/New_York", None),
        ("ai_agent", "America/New_York", None),
    ]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"timezone": "Mars/Olympus"}, "not an IANA time zone"),
        ({"timezone": "../../etc/passwd"}, "not an IANA time zone"),
        ({"allowed_channels": ["sms", "pigeon"]}, "unknown channel"),
    ],
)
async def test_invalid_preferences_are_refused_and_nothing_changes(
    conn: AsyncConnection[Any], migrated_db: str, change: dict[str, Any], message: str
) -> None:
    customer = link_customer(migrated_db, phone="+447700900012", email="r@example.com")

    with pytest.raises(InvalidInput, match=message):
        await service.set_preferences(conn, ASSISTANT, customer, **change)

    assert execute(migrated_db, "SELECT count(*) FROM cc_comm_preferences") == [(0,)]
    assert execute(migrated_db, "SELECT count(*) FROM cc_audit_logs") == [(0,)]
