"""Assurance: 0 unknown caller, 1 the conversation was matched to the customer, 2 a code of
this conversation and customer verified in the last 15 minutes (email only when allowed)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from psycopg import AsyncConnection

from switchboard.auth_sessions.models import AssuranceLevel, CodeMethod
from switchboard.auth_sessions.service import assurance, check_verification, start_verification
from tests.auth_sessions.conftest import (
    ASSISTANT,
    CONFIG,
    T0,
    Customer,
    RecordingSender,
    make_conversation,
    make_customer,
)

pytestmark = pytest.mark.anyio
VERIFIED_AT = T0 + timedelta(minutes=1)


async def verify_code(
    conn: AsyncConnection[Any],
    customer: Customer,
    *,
    channel: str = "sms",
    conversation_id: UUID | None = None,
) -> None:
    sender = RecordingSender()
    conversation = conversation_id or customer.conversation_id
    await start_verification(
        conn,
        ASSISTANT,
        conversation_id=conversation,
        bank_customer_id=customer.id,
        channel=channel,
        destination=customer.email if channel == "email" else customer.phone,
        method=CodeMethod.BUILTIN,
        sender=sender,
        verify=None,
        config=CONFIG,
        now=T0,
    )
    result = await check_verification(
        conn,
        ASSISTANT,
        conversation_id=conversation,
        code=sender.last_code(),
        verify=None,
        config=CONFIG,
        now=VERIFIED_AT,
    )
    assert result.verified


async def level(
    conn: AsyncConnection[Any],
    customer_id: UUID | None,
    conversation_id: UUID,
    *,
    at: Any = VERIFIED_AT,
    email_otp_level_2: bool = False,
) -> Any:
    found = await assurance(
        conn,
        conversation_id=conversation_id,
        bank_customer_id=customer_id,
        now=at,
        email_otp_level_2=email_otp_level_2,
    )
    return found.level, found.bank_customer_id, found.verified_until


async def test_an_unknown_caller_is_level_0(conn: AsyncConnection[Any], migrated_db: str) -> None:
    conversation = make_conversation(migrated_db, None)

    assert await level(conn, None, conversation) == (AssuranceLevel.UNKNOWN, None, None)


async def test_a_caller_matched_by_a_linked_address_is_level_1(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    customer = make_customer(migrated_db)

    assert await level(conn, customer.id, customer.conversation_id) == (1, customer.id, None)


async def test_a_customer_the_conversation_was_not_matched_to_is_level_0(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    customer, other = make_customer(migrated_db), make_customer(migrated_db)
    unmatched = make_conversation(migrated_db, None)

    assert await level(conn, other.id, customer.conversation_id) == (0, None, None)
    assert await level(conn, customer.id, unmatched) == (0, None, None)
    assert await level(conn, customer.id, uuid4()) == (0, None, None)


async def test_a_verified_code_is_level_2_for_15_minutes(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    customer = make_customer(migrated_db)
    await verify_code(conn, customer)
    until = VERIFIED_AT + timedelta(minutes=15)

    assert await level(conn, customer.id, customer.conversation_id) == (2, customer.id, until)
    assert await level(
        conn, customer.id, customer.conversation_id, at=until - timedelta(seconds=1)
    ) == (2, customer.id, until)
    assert await level(conn, customer.id, customer.conversation_id, at=until) == (
        1,
        customer.id,
        None,
    )


async def test_a_code_verified_by_an_unknown_caller_is_level_2_for_that_customer_only(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    customer, other = make_customer(migrated_db), make_customer(migrated_db)
    anonymous = make_conversation(migrated_db, None)
    await verify_code(conn, customer, conversation_id=anonymous)

    assert (await level(conn, customer.id, anonymous))[0] == 2
    assert (await level(conn, other.id, anonymous))[0] == 0
    assert (await level(conn, None, anonymous))[0] == 0


async def test_a_code_verified_in_another_conversation_does_not_count(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    customer = make_customer(migrated_db)
    other_conversation = make_conversation(migrated_db, customer.id)
    await verify_code(conn, customer, conversation_id=other_conversation)

    assert (await level(conn, customer.id, customer.conversation_id))[0] == 1
    assert (await level(conn, customer.id, other_conversation))[0] == 2


async def test_an_emailed_code_reaches_level_2_only_when_the_setting_allows(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    customer = make_customer(migrated_db)
    await verify_code(conn, customer, channel="email")

    assert (await level(conn, customer.id, customer.conversation_id))[0] == 1
    assert (await level(conn, customer.id, customer.conversation_id, email_otp_level_2=True))[
        0
    ] == 2
