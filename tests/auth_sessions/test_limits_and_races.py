"""At most 5 codes per destination per hour, even when starts race; checks of one code take
turns, so two cannot both succeed and none is left uncounted."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import pytest
from psycopg import AsyncConnection

from switchboard.auth_sessions.models import CodeMethod, SessionStatus
from switchboard.auth_sessions.service import check_verification, start_verification
from switchboard.errors import OtpAlreadyUsed, OtpRateLimited
from tests.auth_sessions.conftest import (
    ASSISTANT,
    CONFIG,
    T0,
    Customer,
    RecordingSender,
    audit_events,
    make_conversation,
    make_customer,
    wrong,
)
from tests.builders import execute

pytestmark = pytest.mark.anyio


async def send_code(
    conn: AsyncConnection[Any],
    customer: Customer,
    sender: RecordingSender,
    *,
    at: Any = T0,
    channel: str = "sms",
    conversation_id: Any = None,
) -> Any:
    return await start_verification(
        conn,
        ASSISTANT,
        conversation_id=conversation_id or customer.conversation_id,
        bank_customer_id=customer.id,
        channel=channel,
        destination=customer.email if channel == "email" else customer.phone,
        method=CodeMethod.BUILTIN,
        sender=sender,
        verify=None,
        config=CONFIG,
        now=at,
    )


async def check(url: str, customer: Customer, code: str) -> Any:
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        return await check_verification(
            conn,
            ASSISTANT,
            conversation_id=customer.conversation_id,
            code=code,
            verify=None,
            config=CONFIG,
            now=T0,
        )


async def test_the_sixth_code_to_a_destination_within_an_hour_is_refused(
    conn: AsyncConnection[Any], migrated_db: str, sender: RecordingSender
) -> None:
    customer = make_customer(migrated_db)
    for minute in range(5):
        await send_code(conn, customer, sender, at=T0 + timedelta(minutes=minute))

    with pytest.raises(OtpRateLimited) as refused:
        await send_code(conn, customer, sender, at=T0 + timedelta(minutes=30))

    # The oldest of the five leaves the window 30 minutes later.
    assert refused.value.retry_after == 30 * 60
    assert len(sender.queued) == 5
    assert execute(migrated_db, "SELECT count(*) FROM cc_auth_sessions") == [(5,)]
    [row] = execute(
        migrated_db,
        "SELECT success, error_code, output_redacted->>'destination' FROM cc_audit_logs"
        " WHERE event_type = 'auth.send_refused'",
    )
    assert row == (False, "otp_rate_limited", customer.phone[:3] + "••••••" + customer.phone[-4:])


async def test_another_destination_is_not_held_back_by_the_limit(
    conn: AsyncConnection[Any], migrated_db: str, sender: RecordingSender
) -> None:
    customer, other = make_customer(migrated_db), make_customer(migrated_db)
    for _ in range(5):
        await send_code(conn, customer, sender)

    by_email = await send_code(conn, customer, sender, channel="email")
    other_phone = await send_code(conn, other, sender)

    assert (by_email.status, other_phone.status) == (SessionStatus.SENT, SessionStatus.SENT)


async def test_an_hour_later_a_code_may_be_sent_again(
    conn: AsyncConnection[Any], migrated_db: str, sender: RecordingSender
) -> None:
    customer = make_customer(migrated_db)
    for _ in range(5):
        await send_code(conn, customer, sender)
    with pytest.raises(OtpRateLimited):
        await send_code(conn, customer, sender, at=T0 + timedelta(minutes=59, seconds=59))

    started = await send_code(conn, customer, sender, at=T0 + timedelta(hours=1))

    assert started.status is SessionStatus.SENT


async def test_the_limit_holds_when_starts_to_one_destination_race(
    migrated_db: str, sender: RecordingSender
) -> None:
    customer = make_customer(migrated_db)
    conversations = [make_conversation(migrated_db, customer.id) for _ in range(8)]

    async def start(conversation_id: Any) -> Any:
        async with await AsyncConnection.connect(migrated_db, autocommit=True) as conn:
            try:
                return await send_code(conn, customer, sender, conversation_id=conversation_id)
            except OtpRateLimited as exc:
                return exc

    outcomes = await asyncio.gather(*(start(c) for c in conversations))

    assert sum(isinstance(o, OtpRateLimited) for o in outcomes) == 3
    assert execute(migrated_db, "SELECT count(*) FROM cc_auth_sessions") == [(5,)]
    # Each code replaced the one before it: one is open.
    assert execute(
        migrated_db, "SELECT status, count(*) FROM cc_auth_sessions GROUP BY 1 ORDER BY 1"
    ) == [("cancelled", 4), ("sent", 1)]


async def hold_row_lock(url: str, ready: asyncio.Event, release: asyncio.Event) -> None:
    """Hold the session's row lock until told, so that the checks queue up behind it."""
    async with await AsyncConnection.connect(url) as conn:
        await conn.execute("SELECT 1 FROM cc_auth_sessions FOR UPDATE")
        ready.set()
        await release.wait()
        await conn.rollback()


async def checks_behind_a_lock(url: str, customer: Customer, codes: list[str]) -> list[Any]:
    ready, release = asyncio.Event(), asyncio.Event()
    holder = asyncio.create_task(hold_row_lock(url, ready, release))
    await ready.wait()

    async def attempt(code: str) -> Any:
        try:
            return await check(url, customer, code)
        except OtpAlreadyUsed as exc:
            return exc

    checks = [asyncio.create_task(attempt(code)) for code in codes]
    await asyncio.sleep(0.5)  # every check is now waiting for the row
    waiting = execute(
        url,
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
        " AND wait_event_type = 'Lock'",
    )
    release.set()
    await holder
    outcomes = await asyncio.gather(*checks)
    assert waiting == [(len(codes),)]
    return outcomes


async def test_two_concurrent_checks_of_the_right_code_verify_once(
    conn: AsyncConnection[Any], migrated_db: str, sender: RecordingSender
) -> None:
    customer = make_customer(migrated_db)
    await send_code(conn, customer, sender)
    code = sender.last_code()

    outcomes = await checks_behind_a_lock(migrated_db, customer, [code, code])

    assert sorted(type(o).__name__ for o in outcomes) == ["CheckResult", "OtpAlreadyUsed"]
    assert execute(migrated_db, "SELECT status, check_attempts FROM cc_auth_sessions") == [
        ("verified", 1)
    ]
    events = [e for e, *_ in audit_events(migrated_db, customer.conversation_id)]
    assert events.count("auth.verified") == 1


async def test_concurrent_wrong_codes_each_count(
    conn: AsyncConnection[Any], migrated_db: str, sender: RecordingSender
) -> None:
    customer = make_customer(migrated_db)
    await send_code(conn, customer, sender)
    bad = wrong(sender.last_code())

    outcomes = await checks_behind_a_lock(migrated_db, customer, [bad, bad, bad])

    assert sorted(o.attempts_left for o in outcomes) == [2, 3, 4]
    assert execute(migrated_db, "SELECT check_attempts FROM cc_auth_sessions") == [(3,)]
