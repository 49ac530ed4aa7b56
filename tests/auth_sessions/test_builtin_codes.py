"""Built-in codes: made here, queued through the sender, kept only as an HMAC bound to the
session, accepted once within 10 minutes, failed after 5 wrong tries."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from typing import Any

import pytest
from psycopg import AsyncConnection

from switchboard.auth_sessions import codes
from switchboard.auth_sessions.models import CodeMethod, SessionStatus
from switchboard.auth_sessions.service import check_verification, start_verification
from switchboard.errors import (
    InvalidInput,
    OtpAlreadyUsed,
    OtpDestinationNotLinked,
    OtpExpired,
    OtpFailed,
    OtpNoLiveSession,
    OtpNotSent,
)
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
    channel: str = "sms",
    at: Any = T0,
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


async def check(conn: AsyncConnection[Any], customer: Customer, code: str, *, at: Any = T0) -> Any:
    return await check_verification(
        conn,
        ASSISTANT,
        conversation_id=customer.conversation_id,
        code=code,
        verify=None,
        config=CONFIG,
        now=at,
    )


async def test_a_code_is_queued_and_its_session_stores_the_destination_masked(
    conn: AsyncConnection[Any], migrated_db: str, sender: RecordingSender
) -> None:
    customer = make_customer(migrated_db)

    started = await send_code(conn, customer, sender)

    masked = customer.phone[:3] + "••••••" + customer.phone[-4:]
    assert (started.status, started.destination) == (SessionStatus.SENT, masked)
    assert started.expires_at == T0 + timedelta(minutes=10)
    [queued] = sender.queued
    code = sender.last_code()
    assert (queued.channel, queued.to_address) == ("sms", customer.phone)
    assert queued.text == (
        f"Your Northwind Bank verification code is {code}. It expires in 10 minutes."
        " We will never ask you for it."
    )
    assert queued.stored_text == queued.text.replace(code, "••••••")
    assert (queued.conversation_id, queued.bank_customer_id) == (
        customer.conversation_id,
        customer.id,
    )
    [row] = execute(
        migrated_db,
        "SELECT status, channel, destination, provider, provider_request_id, check_attempts,"
        " length(code_hmac), length(destination_hmac), created_at, updated_at IS NOT NULL"
        " FROM cc_auth_sessions",
    )
    assert row == (
        "sent",
        "sms",
        masked,
        "other",
        f"switchboard:{started.session_id}",
        0,
        32,
        32,
        T0,
        True,
    )
    [audit] = execute(
        migrated_db,
        "SELECT event_type, success, input_redacted, output_redacted->>'destination',"
        " bank_customer_id FROM cc_audit_logs",
    )
    assert audit == ("auth.code_sent", True, {"method": "builtin"}, masked, customer.id)


async def test_an_emailed_code_masks_the_address(
    conn: AsyncConnection[Any], migrated_db: str, sender: RecordingSender
) -> None:
    customer = make_customer(migrated_db)

    started = await send_code(conn, customer, sender, channel="email")

    assert started.destination == customer.email[0] + "•••@example.com"
    assert sender.queued[0].to_address == customer.email


async def test_the_right_code_is_accepted_once(
    conn: AsyncConnection[Any], migrated_db: str, sender: RecordingSender
) -> None:
    customer = make_customer(migrated_db)
    await send_code(conn, customer, sender)
    code = sender.last_code()

    result = await check(conn, customer, f"{code[:3]} {code[3:]}", at=T0 + timedelta(minutes=2))
    with pytest.raises(OtpAlreadyUsed):
        await check(conn, customer, code, at=T0 + timedelta(minutes=3))

    assert (result.verified, result.status, result.attempts_left, result.reason) == (
        True,
        SessionStatus.VERIFIED,
        4,
        None,
    )
    assert execute(
        migrated_db, "SELECT status, verified_at, check_attempts FROM cc_auth_sessions"
    ) == [("verified", T0 + timedelta(minutes=2), 1)]
    assert audit_events(migrated_db, customer.conversation_id) == [
        ("auth.code_sent", True, None),
        ("auth.verified", True, None),
        ("auth.check_refused", False, "otp_already_used"),
    ]


async def test_a_code_is_accepted_until_ten_minutes_have_passed(
    conn: AsyncConnection[Any], migrated_db: str, sender: RecordingSender
) -> None:
    customer = make_customer(migrated_db)
    await send_code(conn, customer, sender)

    result = await check(conn, customer, sender.last_code(), at=T0 + timedelta(seconds=599))

    assert result.verified


async def test_a_code_expires_after_ten_minutes(
    conn: AsyncConnection[Any], migrated_db: str, sender: RecordingSender
) -> None:
    customer = make_customer(migrated_db)
    await send_code(conn, customer, sender)

    with pytest.raises(OtpExpired):
        await check(conn, customer, sender.last_code(), at=T0 + timedelta(minutes=10))
    with pytest.raises(OtpExpired):  # and stays expired
        await check(conn, customer, sender.last_code(), at=T0 + timedelta(minutes=11))

    assert execute(migrated_db, "SELECT status, check_attempts FROM cc_auth_sessions") == [
        ("expired", 0)
    ]
    assert audit_events(migrated_db, customer.conversation_id)[1:] == [
        ("auth.expired", False, "otp_expired"),
        ("auth.check_refused", False, "otp_expired"),
    ]


async def test_five_wrong_codes_fail_the_session_and_the_right_one_is_then_refused(
    conn: AsyncConnection[Any], migrated_db: str, sender: RecordingSender
) -> None:
    customer = make_customer(migrated_db)
    await send_code(conn, customer, sender)
    code = sender.last_code()

    results = [await check(conn, customer, wrong(code)) for _ in range(5)]
    with pytest.raises(OtpFailed):
        await check(conn, customer, code)

    assert [(r.verified, r.status, r.attempts_left, r.reason) for r in results] == [
        (False, SessionStatus.SENT, 4, "wrong_code"),
        (False, SessionStatus.SENT, 3, "wrong_code"),
        (False, SessionStatus.SENT, 2, "wrong_code"),
        (False, SessionStatus.SENT, 1, "wrong_code"),
        (False, SessionStatus.FAILED, 0, "too_many_attempts"),
    ]
    assert execute(migrated_db, "SELECT status, check_attempts FROM cc_auth_sessions") == [
        ("failed", 5)
    ]
    events = [event for event, *_ in audit_events(migrated_db, customer.conversation_id)]
    assert events == ["auth.code_sent"] + ["auth.check_failed"] * 4 + [
        "auth.failed",
        "auth.check_refused",
    ]


async def test_the_right_code_on_the_fifth_try_is_accepted(
    conn: AsyncConnection[Any], migrated_db: str, sender: RecordingSender
) -> None:
    customer = make_customer(migrated_db)
    await send_code(conn, customer, sender)
    code = sender.last_code()
    for _ in range(4):
        await check(conn, customer, wrong(code))

    result = await check(conn, customer, code)

    assert (result.verified, result.attempts_left) == (True, 0)


async def test_codes_are_compared_in_constant_time(
    conn: AsyncConnection[Any],
    migrated_db: str,
    sender: RecordingSender,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = codes.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(codes, "compare_digest", recording)
    customer = make_customer(migrated_db)
    await send_code(conn, customer, sender)

    await check(conn, customer, wrong(sender.last_code()))
    await check(conn, customer, sender.last_code())

    [(stored,)] = execute(migrated_db, "SELECT code_hmac FROM cc_auth_sessions")
    assert len(compared) == 2
    assert all(len(a) == 32 and b == stored for a, b in compared)


async def test_no_code_and_no_full_address_is_stored_and_no_hash_is_audited(
    conn: AsyncConnection[Any], migrated_db: str, sender: RecordingSender
) -> None:
    customer = make_customer(migrated_db)
    await send_code(conn, customer, sender)
    code = sender.last_code()
    await check(conn, customer, wrong(code))
    await check(conn, customer, code)

    sessions = execute(migrated_db, "SELECT to_jsonb(s)::text FROM cc_auth_sessions AS s")
    audits = execute(migrated_db, "SELECT to_jsonb(a)::text FROM cc_audit_logs AS a")
    [(code_hmac, destination_hmac)] = execute(
        migrated_db, "SELECT code_hmac, destination_hmac FROM cc_auth_sessions"
    )
    for (text,) in sessions + audits:
        assert code not in text
        assert wrong(code) not in text
        assert customer.phone not in text
        assert customer.phone.removeprefix("+") not in text
    for (text,) in audits:
        assert code_hmac.hex() not in text
        assert destination_hmac.hex() not in text
    # A hash anyone could recompute from the code alone would be no protection.
    assert code_hmac != hashlib.sha256(code.encode()).digest()


async def test_a_hash_copied_into_another_session_does_not_accept_its_code(
    conn: AsyncConnection[Any], migrated_db: str, sender: RecordingSender
) -> None:
    first, second = make_customer(migrated_db), make_customer(migrated_db)
    await send_code(conn, first, sender)
    first_code = sender.last_code()
    await send_code(conn, second, sender)
    execute(
        migrated_db,
        "UPDATE cc_auth_sessions SET code_hmac ="
        " (SELECT code_hmac FROM cc_auth_sessions WHERE bank_customer_id = %s)"
        " WHERE bank_customer_id = %s",
        (first.id, second.id),
    )

    result = await check(conn, second, first_code)

    assert (result.verified, result.reason) == (False, "wrong_code")


async def test_a_destination_not_linked_to_the_customer_gets_no_code(
    conn: AsyncConnection[Any], migrated_db: str, sender: RecordingSender
) -> None:
    customer, stranger = make_customer(migrated_db), make_customer(migrated_db)

    with pytest.raises(OtpDestinationNotLinked):
        await start_verification(
            conn,
            ASSISTANT,
            conversation_id=customer.conversation_id,
            bank_customer_id=customer.id,
            channel="sms",
            destination=stranger.phone,
            method="builtin",
            sender=sender,
            verify=None,
            config=CONFIG,
            now=T0,
        )

    assert sender.queued == []
    assert execute(migrated_db, "SELECT count(*) FROM cc_auth_sessions") == [(0,)]
    assert execute(migrated_db, "SELECT count(*) FROM cc_audit_logs") == [(0,)]


async def test_a_refused_message_fails_the_session_and_is_audited(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    customer = make_customer(migrated_db)

    with pytest.raises(OtpNotSent):
        await send_code(conn, customer, RecordingSender(accept=False))

    assert execute(migrated_db, "SELECT status FROM cc_auth_sessions") == [("failed",)]
    assert audit_events(migrated_db, customer.conversation_id) == [
        ("auth.send_failed", False, "otp_not_sent")
    ]
    with pytest.raises(OtpNoLiveSession):
        await check(conn, customer, "123456")


async def test_a_new_code_cancels_the_one_before(
    conn: AsyncConnection[Any], migrated_db: str, sender: RecordingSender
) -> None:
    customer = make_customer(migrated_db)
    first = await send_code(conn, customer, sender)
    old_code = sender.last_code()
    second = await send_code(conn, customer, sender, at=T0 + timedelta(minutes=1))
    new_code = sender.last_code()

    stale = await check(conn, customer, old_code, at=T0 + timedelta(minutes=2))
    fresh = await check(conn, customer, new_code, at=T0 + timedelta(minutes=2))

    # (One chance in a million that the new code repeats the old one.)
    assert (stale.reason, fresh.verified) == ("wrong_code", True)
    assert dict(execute(migrated_db, "SELECT id, status FROM cc_auth_sessions")) == {
        first.session_id: "cancelled",
        second.session_id: "verified",
    }
    assert ("auth.cancelled", True, None) in audit_events(migrated_db, customer.conversation_id)


async def test_a_code_to_the_same_address_from_another_conversation_replaces_it(
    conn: AsyncConnection[Any], migrated_db: str, sender: RecordingSender
) -> None:
    customer = make_customer(migrated_db)
    first = await send_code(conn, customer, sender)
    other = make_conversation(migrated_db, customer.id)

    await send_code(conn, customer, sender, conversation_id=other)

    assert execute(
        migrated_db, "SELECT status FROM cc_auth_sessions WHERE id = %s", (first.session_id,)
    ) == [("cancelled",)]


async def test_a_check_without_a_code_is_refused_and_audited(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    customer = make_customer(migrated_db)

    with pytest.raises(OtpNoLiveSession):
        await check(conn, customer, "123456")

    assert audit_events(migrated_db, customer.conversation_id) == [
        ("auth.check_refused", False, "otp_no_live_session")
    ]


@pytest.mark.parametrize("typed", ["", "12a456", "123", "12345678901", "one two three"])
async def test_something_that_is_not_a_code_is_refused_without_using_a_try(
    conn: AsyncConnection[Any], migrated_db: str, sender: RecordingSender, typed: str
) -> None:
    customer = make_customer(migrated_db)
    await send_code(conn, customer, sender)

    with pytest.raises(InvalidInput):
        await check(conn, customer, typed)

    assert execute(migrated_db, "SELECT check_attempts FROM cc_auth_sessions") == [(0,)]
