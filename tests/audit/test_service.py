"""Appending audit records: payloads masked, ids kept exactly."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from psycopg import AsyncConnection

from switchboard.audit import service as audit
from switchboard.audit.models import ActorType, AuditEntry
from switchboard.privacy import Identifier, mask_card_numbers

pytestmark = pytest.mark.anyio


def entry(**payloads: Any) -> AuditEntry:
    return AuditEntry(ActorType.SYSTEM, "test", "test.event", success=True, **payloads)


async def stored(conn: AsyncConnection[Any], record_id: uuid.UUID) -> tuple[Any, Any]:
    cursor = await conn.execute(
        "SELECT input_redacted, output_redacted FROM cc_audit_logs WHERE id = %s", (record_id,)
    )
    row = await cursor.fetchone()
    assert row is not None
    return row[0], row[1]


async def test_card_numbers_in_payloads_are_masked(conn: AsyncConnection[Any]) -> None:
    record_id = await audit.append(
        conn, entry(input={"note": "card 4111 1111 1111 1111"}, output={"4111111111111111": 1})
    )

    assert await stored(conn, record_id) == (
        {"note": "card •••• •••• •••• 1111"},
        {"••••••••••••1111": 1},
    )


async def test_uuid_ids_are_stored_as_their_text_even_when_their_digits_pass_luhn(
    conn: AsyncConnection[Any],
) -> None:
    # About one UUID in 350 holds a Luhn-valid run of 13+ digits: the masking knows a UUID's
    # shape and leaves it whole, as text too.
    unlucky = uuid.UUID("04654177-7571-43b0-80cd-76a80ff5cf57")
    assert mask_card_numbers(str(unlucky)) == str(unlucky)
    # The same digits not in a UUID's shape are masked.
    assert mask_card_numbers("04654177-7571-43b0") == "••••••••-••71-43b0"

    record_id = await audit.append(conn, entry(output={"message_id": unlucky}))

    assert await stored(conn, record_id) == ({}, {"message_id": str(unlucky)})


async def test_identifiers_are_stored_as_sent_while_the_text_beside_them_is_masked(
    conn: AsyncConnection[Any],
) -> None:
    record_id = await audit.append(
        conn,
        entry(
            input={
                "tool_call_id": Identifier("call_4111111111111111"),
                "note": "card 4111.1111.1111.1111",
            },
            output={"call_id": Identifier("4111-1111-1111-1111")},
        ),
    )

    assert await stored(conn, record_id) == (
        {"tool_call_id": "call_4111111111111111", "note": "card ••••.••••.••••.1111"},
        {"call_id": "4111-1111-1111-1111"},
    )


async def test_a_value_json_cannot_hold_is_refused(conn: AsyncConnection[Any]) -> None:
    with pytest.raises(TypeError, match="set cannot be stored"):
        await audit.append(conn, entry(input={"tags": {"a"}}))
