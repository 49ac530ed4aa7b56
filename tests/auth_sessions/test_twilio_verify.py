"""Codes sent and checked by Twilio Verify (a local server speaking its API): the VE sid kept,
statuses mapped onto ours, its errors (20404, 60202, 60203, 5xx) explained, and our own
count of checks enforced as well."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

import httpx
import pytest
from psycopg import AsyncConnection

from switchboard.auth_sessions.models import CodeMethod, SessionStatus
from switchboard.auth_sessions.service import check_verification, start_verification
from switchboard.errors import (
    OtpExpired,
    OtpFailed,
    OtpRateLimited,
    VerifyRejected,
    VerifyUnavailable,
)
from switchboard.providers.twilio_verify import TwilioVerifyClient
from tests.auth_sessions.conftest import (
    ASSISTANT,
    CONFIG,
    T0,
    Customer,
    audit_events,
    make_customer,
    wrong,
)
from tests.builders import execute
from tests.providers.twilio_verify_server import (
    ACCOUNT_SID,
    SERVICE_SID,
    VerifyService,
)

pytestmark = pytest.mark.anyio
PATH = f"/v2/Services/{SERVICE_SID}"


async def send_code(
    conn: AsyncConnection[Any], customer: Customer, verify: Any, *, at: Any = T0
) -> Any:
    return await start_verification(
        conn,
        ASSISTANT,
        conversation_id=customer.conversation_id,
        bank_customer_id=customer.id,
        channel="sms",
        destination=customer.phone,
        method=CodeMethod.TWILIO_VERIFY,
        sender=None,
        verify=verify,
        config=CONFIG,
        now=at,
    )


async def check(conn: AsyncConnection[Any], customer: Customer, verify: Any, code: str) -> Any:
    return await check_verification(
        conn,
        ASSISTANT,
        conversation_id=customer.conversation_id,
        code=code,
        verify=verify,
        config=CONFIG,
        now=T0 + timedelta(minutes=1),
    )


def session_row(url: str) -> tuple[Any, ...]:
    [row] = execute(
        url,
        "SELECT status, provider, provider_request_id, check_attempts, destination"
        " FROM cc_auth_sessions ORDER BY created_at DESC LIMIT 1",
    )
    return row


async def test_a_started_verification_keeps_its_sid_and_counts_as_sent(
    conn: AsyncConnection[Any],
    migrated_db: str,
    verify: TwilioVerifyClient,
    verify_server: VerifyService,
) -> None:
    customer = make_customer(migrated_db)

    started = await send_code(conn, customer, verify)

    [request] = verify_server.requests
    assert (request.method, request.path) == ("POST", f"{PATH}/Verifications")
    assert request.form == {"To": customer.phone, "Channel": "sms"}
    assert request.authorization is not None
    assert request.authorization.startswith("Basic ")
    [sid] = list(verify_server.verifications)
    assert started.status is SessionStatus.SENT
    assert session_row(migrated_db) == ("sent", "twilio_verify", sid, 0, started.destination)
    assert [e for e, *_ in audit_events(migrated_db, customer.conversation_id)] == [
        "auth.code_requested",
        "auth.code_sent",
    ]


async def test_the_right_code_is_approved_by_verify_and_verifies_the_session(
    conn: AsyncConnection[Any],
    migrated_db: str,
    verify: TwilioVerifyClient,
    verify_server: VerifyService,
) -> None:
    customer = make_customer(migrated_db)
    await send_code(conn, customer, verify)
    [sid] = list(verify_server.verifications)

    result = await check(conn, customer, verify, verify_server.code_for(customer.phone))

    assert (result.verified, result.status, result.attempts_left) == (True, "verified", 4)
    assert verify_server.requests[-1].form == {
        "VerificationSid": sid,
        "Code": verify_server.code_for(customer.phone),
    }
    assert session_row(migrated_db)[:4] == ("verified", "twilio_verify", sid, 1)


async def test_five_wrong_codes_fail_it_here_and_the_sixth_never_reaches_verify(
    conn: AsyncConnection[Any],
    migrated_db: str,
    verify: TwilioVerifyClient,
    verify_server: VerifyService,
) -> None:
    customer = make_customer(migrated_db)
    await send_code(conn, customer, verify)
    bad = wrong(verify_server.code_for(customer.phone))

    results = [await check(conn, customer, verify, bad) for _ in range(5)]
    with pytest.raises(OtpFailed):
        await check(conn, customer, verify, verify_server.code_for(customer.phone))

    assert [(r.status, r.attempts_left) for r in results][-2:] == [("sent", 1), ("failed", 0)]
    checks = [r for r in verify_server.requests if r.path.endswith("VerificationCheck")]
    assert len(checks) == 5
    assert session_row(migrated_db)[0] == "failed"


async def test_max_check_attempts_at_verify_60202_fails_the_session(
    conn: AsyncConnection[Any],
    migrated_db: str,
    verify: TwilioVerifyClient,
    verify_server: VerifyService,
) -> None:
    customer = make_customer(migrated_db)
    await send_code(conn, customer, verify)
    verify_server.fail_next("check", 429, 60202)

    with pytest.raises(OtpFailed, match="60202"):
        await check(conn, customer, verify, verify_server.code_for(customer.phone))

    assert session_row(migrated_db)[0::3] == ("failed", 1)
    [row] = execute(
        migrated_db,
        "SELECT success, error_code, output_redacted->>'provider_error_code' FROM cc_audit_logs"
        " WHERE event_type = 'auth.failed'",
    )
    assert row == (False, "otp_failed", "60202")


async def test_max_send_attempts_at_verify_60203_is_a_refused_send(
    conn: AsyncConnection[Any],
    migrated_db: str,
    verify: TwilioVerifyClient,
    verify_server: VerifyService,
) -> None:
    customer = make_customer(migrated_db)
    verify_server.fail_next("start", 429, 60203)

    with pytest.raises(OtpRateLimited, match="60203"):
        await send_code(conn, customer, verify)

    assert session_row(migrated_db)[:3] == ("failed", "twilio_verify", None)
    assert audit_events(migrated_db, customer.conversation_id)[-1] == (
        "auth.send_refused",
        False,
        "otp_rate_limited",
    )


async def test_a_verification_gone_at_verify_20404_expires_the_session(
    conn: AsyncConnection[Any],
    migrated_db: str,
    verify: TwilioVerifyClient,
    verify_server: VerifyService,
) -> None:
    customer = make_customer(migrated_db)
    await send_code(conn, customer, verify)
    [sid] = list(verify_server.verifications)
    verify_server.expire(sid)

    with pytest.raises(OtpExpired, match="20404"):
        await check(conn, customer, verify, verify_server.code_for(customer.phone))

    assert session_row(migrated_db)[0::3] == ("expired", 1)
    assert audit_events(migrated_db, customer.conversation_id)[-1] == (
        "auth.expired",
        False,
        "otp_expired",
    )


async def test_a_server_error_on_start_fails_the_session(
    conn: AsyncConnection[Any],
    migrated_db: str,
    verify: TwilioVerifyClient,
    verify_server: VerifyService,
) -> None:
    customer = make_customer(migrated_db)
    verify_server.fail_next("start", 503)  # no body, as from a load balancer

    with pytest.raises(VerifyUnavailable, match="503"):
        await send_code(conn, customer, verify)

    assert session_row(migrated_db)[0] == "failed"
    assert audit_events(migrated_db, customer.conversation_id)[-1] == (
        "auth.send_failed",
        False,
        "verify_unavailable",
    )


async def test_a_server_error_on_check_counts_the_try_and_keeps_the_code_open(
    conn: AsyncConnection[Any],
    migrated_db: str,
    verify: TwilioVerifyClient,
    verify_server: VerifyService,
) -> None:
    customer = make_customer(migrated_db)
    await send_code(conn, customer, verify)
    verify_server.fail_next("check", 500, 20500)

    with pytest.raises(VerifyUnavailable):
        await check(conn, customer, verify, verify_server.code_for(customer.phone))
    result = await check(conn, customer, verify, verify_server.code_for(customer.phone))

    assert (result.verified, result.attempts_left) == (True, 3)


async def test_verify_that_does_not_answer_in_time_is_unavailable(
    conn: AsyncConnection[Any], migrated_db: str, verify_server: VerifyService
) -> None:
    customer = make_customer(migrated_db)
    verify_server.delay_next(2.0)
    async with TwilioVerifyClient(
        base_url=verify_server.url,
        service_sid=SERVICE_SID,
        account_sid=ACCOUNT_SID,
        auth_token="whatever",  # noqa: S106 - never checked: the call times out first
        timeout=httpx.Timeout(0.3),
    ) as slow:
        with pytest.raises(VerifyUnavailable, match="in time"):
            await send_code(conn, customer, slow)

    assert session_row(migrated_db)[0] == "failed"


async def test_wrong_credentials_are_a_rejection_not_an_outage(
    conn: AsyncConnection[Any], migrated_db: str, verify_server: VerifyService
) -> None:
    customer = make_customer(migrated_db)
    async with TwilioVerifyClient(
        base_url=verify_server.url,
        service_sid=SERVICE_SID,
        account_sid=ACCOUNT_SID,
        auth_token="not-the-token",  # noqa: S106 - a wrong test credential
    ) as misconfigured:
        with pytest.raises(VerifyRejected, match="20003"):
            await send_code(conn, customer, misconfigured)


@pytest.mark.parametrize(
    ("verify_says", "status", "reason"),
    [
        ("approved", "verified", None),
        ("pending", "sent", "wrong_code"),
        ("canceled", "cancelled", "cancelled"),
        ("max_attempts_reached", "failed", "too_many_attempts"),
        ("failed", "failed", "failed"),
        ("expired", "expired", "expired"),
        ("deleted", "expired", "expired"),
        ("something_new", "failed", "failed"),
    ],
)
async def test_verify_statuses_map_onto_ours(
    conn: AsyncConnection[Any],
    migrated_db: str,
    *,
    verify: TwilioVerifyClient,
    verify_server: VerifyService,
    verify_says: str,
    status: str,
    reason: str | None,
) -> None:
    customer = make_customer(migrated_db)
    await send_code(conn, customer, verify)
    verify_server.answer_next_check_with(verify_says)

    result = await check(conn, customer, verify, "123456")

    assert (result.status, result.reason, result.verified) == (status, reason, status == "verified")
    assert session_row(migrated_db)[0] == status


async def test_a_new_code_cancels_the_previous_verification_at_twilio(
    conn: AsyncConnection[Any],
    migrated_db: str,
    verify: TwilioVerifyClient,
    verify_server: VerifyService,
) -> None:
    customer = make_customer(migrated_db)
    first = await send_code(conn, customer, verify)
    [first_sid] = list(verify_server.verifications)

    second = await send_code(conn, customer, verify, at=T0 + timedelta(minutes=1))

    cancel = verify_server.requests[1]
    assert cancel.path == f"{PATH}/Verifications/{first_sid}"
    assert cancel.form == {"Status": "canceled"}
    assert verify_server.verifications[first_sid].status == "canceled"
    rows = dict(execute(migrated_db, "SELECT id, status FROM cc_auth_sessions"))
    assert rows == {first.session_id: "cancelled", second.session_id: "sent"}


async def test_a_verification_twilio_hands_out_again_moves_to_the_new_session(
    conn: AsyncConnection[Any],
    migrated_db: str,
    verify: TwilioVerifyClient,
    verify_server: VerifyService,
) -> None:
    customer = make_customer(migrated_db)
    first = await send_code(conn, customer, verify)
    [sid] = list(verify_server.verifications)
    verify_server.fail_next("cancel", 500, 20500)  # so Twilio resends the pending one

    second = await send_code(conn, customer, verify, at=T0 + timedelta(minutes=1))
    result = await check(conn, customer, verify, verify_server.code_for(customer.phone))

    assert list(verify_server.verifications) == [sid]
    assert dict(execute(migrated_db, "SELECT id, provider_request_id FROM cc_auth_sessions")) == {
        first.session_id: None,
        second.session_id: sid,
    }
    assert result.verified


async def test_a_code_replaced_while_twilio_was_sending_it_keeps_no_sid(
    migrated_db: str, verify: TwilioVerifyClient, verify_server: VerifyService
) -> None:
    customer = make_customer(migrated_db)
    verify_server.delay_next(1.0)  # the first start waits at Twilio ...

    async def start(at: Any) -> Any:
        async with await AsyncConnection.connect(migrated_db, autocommit=True) as conn:
            return await send_code(conn, customer, verify, at=at)

    slow = asyncio.create_task(start(T0))
    while not execute(migrated_db, "SELECT 1 FROM cc_auth_sessions"):
        await asyncio.sleep(0.02)
    fast = await start(T0 + timedelta(seconds=1))  # ... while a second one goes through
    replaced = await slow

    [sid] = list(verify_server.verifications)  # Twilio resent the pending one
    assert (replaced.status, fast.status) == ("cancelled", "sent")
    assert dict(execute(migrated_db, "SELECT id, provider_request_id FROM cc_auth_sessions")) == {
        replaced.session_id: None,
        fast.session_id: sid,
    }
    [late] = execute(
        migrated_db,
        "SELECT output_redacted->>'verification_sid' FROM cc_audit_logs"
        " WHERE output_redacted ? 'replaced_before_sent'",
    )
    assert late == (sid,)
