"""The worker against local servers speaking Twilio's Messages API and SendGrid's Mail Send:
provider ids and statuses recorded, 5xx and 429 retried with backoff, 4xx failed at once."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from psycopg import AsyncConnection

from switchboard.outbound.config import Outbound, outbound_for
from switchboard.outbound.models import OutboundRequest
from switchboard.outbound.queue import defer_send
from switchboard.outbound.service import queue_message
from switchboard.preferences.models import ContactChannel, Purpose
from switchboard.settings import Settings
from tests.builders import execute
from tests.outbound.conftest import (
    AGENT,
    MAX_ATTEMPTS,
    OUR_EMAIL,
    OUR_NUMBER,
    PUBLIC_URL,
    audit_events,
    drain,
    make_settings,
    message_row,
)
from tests.providers.servers import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    SendGridServer,
    TwilioServer,
    unused_base_url,
)

pytestmark = pytest.mark.anyio
PHONE = "+447700900123"
EMAIL = "ada@example.com"
NOON = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


async def queue_sms(
    conn: AsyncConnection[Any], outbound: Outbound, text: str = "Your card is on its way"
) -> Any:
    queued = await queue_message(
        conn,
        AGENT,
        OutboundRequest(ContactChannel.SMS, PHONE, Purpose.SERVICE, text),
        now=NOON,
        outbound=outbound,
    )
    assert queued.allowed
    return queued.message_id


async def queue_email(conn: AsyncConnection[Any], outbound: Outbound) -> Any:
    request = OutboundRequest(
        ContactChannel.EMAIL,
        EMAIL,
        Purpose.SERVICE,
        "Your statement is ready.",
        subject="Statement",
    )
    queued = await queue_message(conn, AGENT, request, now=NOON, outbound=outbound)
    assert queued.allowed
    return queued.message_id


def sent_fields(url: str, message_id: Any) -> tuple[Any, ...]:
    row = message_row(url, message_id)
    return row["provider"], row["provider_status"], row["status"], row["error_code"]


async def test_twilio_takes_the_sms_and_its_sid_and_status_are_recorded(
    outbound: Outbound,
    conn: AsyncConnection[Any],
    migrated_db: str,
    live_settings: Settings,
    twilio: TwilioServer,
) -> None:
    message_id = await queue_sms(conn, outbound)

    await drain(live_settings, migrated_db)

    (request,) = twilio.received
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.form == {
        "To": PHONE,
        "From": OUR_NUMBER,
        "Body": "Your card is on its way",
        "StatusCallback": f"{PUBLIC_URL}/webhooks/twilio/status?message_id={message_id}",
    }
    row = message_row(migrated_db, message_id)
    assert row["provider_message_id"].startswith("SM")
    assert sent_fields(migrated_db, message_id) == ("twilio", "queued", "sent", None)
    assert audit_events(migrated_db) == [
        ("message.queued", True, None, "agent"),
        ("message.sent", True, None, "system"),
    ]
    assert execute(migrated_db, "SELECT count(*) FROM procrastinate_jobs") == [(0,)]


async def test_a_500_then_a_201_is_retried_and_sent(
    outbound: Outbound,
    conn: AsyncConnection[Any],
    migrated_db: str,
    live_settings: Settings,
    twilio: TwilioServer,
) -> None:
    twilio.answer(500)
    message_id = await queue_sms(conn, outbound)

    await drain(live_settings, migrated_db)

    assert len(twilio.received) == 2
    assert sent_fields(migrated_db, message_id) == ("twilio", "queued", "sent", None)
    assert audit_events(migrated_db) == [
        ("message.queued", True, None, "agent"),
        ("message.send_retrying", False, "20500", "system"),
        ("message.sent", True, None, "system"),
    ]


async def test_a_429_is_retried_with_growing_waits(
    outbound: Outbound,
    conn: AsyncConnection[Any],
    migrated_db: str,
    live_settings: Settings,
    twilio: TwilioServer,
) -> None:
    twilio.answer(429, 429)
    message_id = await queue_sms(conn, outbound)

    await drain(live_settings, migrated_db)

    assert len(twilio.received) == 3
    assert sent_fields(migrated_db, message_id)[2] == "sent"
    waits = execute(
        migrated_db,
        "SELECT (output_redacted->>'retry_in_seconds')::float FROM cc_audit_logs"
        " WHERE event_type = 'message.send_retrying' ORDER BY created_at",
    )
    assert waits == [(0.02,), (0.04,)]


async def test_a_400_fails_at_once_with_twilios_error_and_is_not_retried(
    outbound: Outbound,
    conn: AsyncConnection[Any],
    migrated_db: str,
    live_settings: Settings,
    twilio: TwilioServer,
) -> None:
    twilio.answer(400)
    message_id = await queue_sms(conn, outbound)

    await drain(live_settings, migrated_db)

    assert len(twilio.received) == 1
    assert sent_fields(migrated_db, message_id) == ("twilio", "rejected", "failed", "21211")
    failed = execute(
        migrated_db,
        "SELECT error_code, error_message FROM cc_audit_logs"
        " WHERE event_type = 'message.send_failed'",
    )
    assert failed == [
        ("21211", "Twilio answered 400: The 'To' number +15005550001 is not a valid phone number.")
    ]


async def test_after_the_last_try_the_message_fails_with_the_providers_error(
    outbound: Outbound,
    conn: AsyncConnection[Any],
    migrated_db: str,
    live_settings: Settings,
    twilio: TwilioServer,
) -> None:
    twilio.answer(*[503] * MAX_ATTEMPTS)
    message_id = await queue_sms(conn, outbound)

    await drain(live_settings, migrated_db)

    assert len(twilio.received) == MAX_ATTEMPTS
    row = message_row(migrated_db, message_id)
    assert (row["status"], row["provider_status"], row["error_code"]) == (
        "failed",
        "gave_up",
        "20503",
    )
    events = [event for event, *_ in audit_events(migrated_db)]
    assert events == ["message.queued"] + ["message.send_retrying"] * (MAX_ATTEMPTS - 1) + [
        "message.send_failed"
    ]


async def test_an_unreachable_provider_is_retried_then_failed(
    outbound: Outbound,
    conn: AsyncConnection[Any],
    migrated_db: str,
    live_settings: Settings,
    tmp_path: Path,
) -> None:
    unreachable = live_settings.model_copy(update={"twilio_api_base_url": unused_base_url()})
    message_id = await queue_sms(conn, outbound)

    await drain(unreachable, migrated_db)

    row = message_row(migrated_db, message_id)
    assert (row["status"], row["provider_status"], row["error_code"]) == (
        "failed",
        "gave_up",
        "network",
    )


async def test_sendgrid_takes_the_email_and_its_x_message_id_is_recorded(
    outbound: Outbound,
    conn: AsyncConnection[Any],
    migrated_db: str,
    live_settings: Settings,
    sendgrid: SendGridServer,
) -> None:
    message_id = await queue_email(conn, outbound)

    await drain(live_settings, migrated_db)

    (request,) = sendgrid.received
    assert request.headers["authorization"] == "Bearer SG.test-key.local-only"
    assert request.json == {
        "personalizations": [
            {"to": [{"email": EMAIL}], "custom_args": {"switchboard_message_id": str(message_id)}}
        ],
        "from": {"email": OUR_EMAIL},
        "subject": "Statement",
        "content": [{"type": "text/plain", "value": "Your statement is ready."}],
    }
    row = message_row(migrated_db, message_id)
    assert len(row["provider_message_id"]) == 22
    assert sent_fields(migrated_db, message_id) == ("sendgrid", "accepted", "sent", None)


async def test_sendgrid_500_then_202_is_retried(
    outbound: Outbound,
    conn: AsyncConnection[Any],
    migrated_db: str,
    live_settings: Settings,
    sendgrid: SendGridServer,
) -> None:
    sendgrid.answer(500)
    message_id = await queue_email(conn, outbound)

    await drain(live_settings, migrated_db)

    assert len(sendgrid.received) == 2
    assert sent_fields(migrated_db, message_id) == ("sendgrid", "accepted", "sent", None)


async def test_sendgrid_400_fails_with_its_error_and_is_not_retried(
    outbound: Outbound,
    conn: AsyncConnection[Any],
    migrated_db: str,
    live_settings: Settings,
    sendgrid: SendGridServer,
) -> None:
    sendgrid.answer(400)
    message_id = await queue_email(conn, outbound)

    await drain(live_settings, migrated_db)

    assert len(sendgrid.received) == 1
    assert sent_fields(migrated_db, message_id)[1:] == ("rejected", "failed", "http_400")
    assert execute(
        migrated_db,
        "SELECT error_message FROM cc_audit_logs WHERE event_type = 'message.send_failed'",
    ) == [("SendGrid answered 400: The from object must be provided for every email send. (from)",)]


async def test_a_message_already_sent_is_never_sent_again(
    outbound: Outbound,
    conn: AsyncConnection[Any],
    migrated_db: str,
    live_settings: Settings,
    twilio: TwilioServer,
) -> None:
    message_id = await queue_sms(conn, outbound)
    await drain(live_settings, migrated_db)
    first = message_row(migrated_db, message_id)["provider_message_id"]

    await defer_send(
        outbound.queue, conn, message_id, None
    )  # the job runs again, as after a worker died
    await drain(live_settings, migrated_db)

    assert len(twilio.received) == 1
    assert message_row(migrated_db, message_id)["provider_message_id"] == first
    assert [e for e, *_ in audit_events(migrated_db)].count("message.sent") == 1


async def test_nothing_is_sent_for_a_message_whose_transaction_rolled_back(
    outbound: Outbound,
    conn: AsyncConnection[Any],
    migrated_db: str,
    live_settings: Settings,
    twilio: TwilioServer,
) -> None:
    class CallerFailed(Exception):
        pass

    async def queue_then_fail() -> None:
        async with conn.transaction():
            await queue_sms(conn, outbound)
            raise CallerFailed

    with pytest.raises(CallerFailed):
        await queue_then_fail()
    await drain(live_settings, migrated_db)

    assert twilio.received == []
    assert execute(migrated_db, "SELECT count(*) FROM cc_messages") == [(0,)]


async def test_a_sealed_code_reaches_the_customer_and_no_log(
    conn: AsyncConnection[Any],
    migrated_db: str,
    live_settings: Settings,
    twilio: TwilioServer,
    caplog: pytest.LogCaptureFixture,
    *,
    outbound: Outbound,
) -> None:
    caplog.set_level(logging.DEBUG)
    request = OutboundRequest(
        ContactChannel.SMS,
        PHONE,
        Purpose.OTP,
        "Your code is 482913",
        stored_text="Your code is ••••••",
    )
    queued = await queue_message(conn, AGENT, request, outbound=outbound)

    await drain(live_settings, migrated_db)

    assert twilio.received[0].form["Body"] == "Your code is 482913"
    assert message_row(migrated_db, queued.message_id)["body_text"] == "Your code is ••••••"
    logged = "\n".join(f"{record.getMessage()} {vars(record)}" for record in caplog.records)
    assert "switchboard.outbound.send_message" in logged  # procrastinate did log the job
    assert "482913" not in logged
    assert "sealed:v1:[redacted]" in logged
    sealed_values = [
        v for v in logged.split() if v.startswith("sealed:v1:") and "[redacted]" not in v
    ]
    assert sealed_values == []


async def test_a_code_sealed_under_another_key_fails_the_message_without_sending(
    outbound: Outbound,
    conn: AsyncConnection[Any],
    migrated_db: str,
    live_settings: Settings,
    twilio: TwilioServer,
) -> None:
    request = OutboundRequest(
        ContactChannel.SMS,
        PHONE,
        Purpose.OTP,
        "Your code is 482913",
        stored_text="Your code is ••••••",
    )
    queued = await queue_message(conn, AGENT, request, outbound=outbound)
    rotated = live_settings.model_copy(update={"switchboard_secret_key": "another key entirely"})

    await drain(rotated, migrated_db)

    assert twilio.received == []
    row = message_row(migrated_db, queued.message_id)
    assert (row["status"], row["error_code"]) == ("failed", "unseal_failed")


async def test_the_sandbox_records_the_send_and_marks_it_sent(
    outbound: Outbound,
    conn: AsyncConnection[Any],
    migrated_db: str,
    sandbox_settings: Settings,
    capsys: pytest.CaptureFixture[str],
) -> None:
    message_id = await queue_sms(conn, outbound)
    code = await queue_message(
        conn,
        AGENT,
        OutboundRequest(
            ContactChannel.SMS, PHONE, Purpose.OTP, "Code 482913", stored_text="Code ••••••"
        ),
        outbound=outbound,
    )

    await drain(sandbox_settings, migrated_db)

    outbox = execute(
        migrated_db,
        "SELECT message_id, provider_message_id, channel, from_address, to_address, body_text,"
        " sealed FROM cc_sandbox_outbox ORDER BY body_text",
    )
    assert [row[0] for row in outbox] == [code.message_id, message_id]
    assert [row[2:] for row in outbox] == [
        ("sms", OUR_NUMBER, PHONE, "Code ••••••", True),
        ("sms", OUR_NUMBER, PHONE, "Your card is on its way", False),
    ]
    for row in outbox:
        assert message_row(migrated_db, row[0])["provider_message_id"] == row[1]
        assert sent_fields(migrated_db, row[0]) == ("sandbox", "sent", "sent", None)
    # The code a developer reads out comes from the terminal, never from a table.
    assert f"sandbox sms to {PHONE}: Code 482913" in capsys.readouterr().out


async def test_whatsapp_goes_through_twilio_with_the_whatsapp_prefix(
    outbound: Outbound,
    conn: AsyncConnection[Any],
    migrated_db: str,
    live_settings: Settings,
    twilio: TwilioServer,
) -> None:
    request = OutboundRequest(ContactChannel.WHATSAPP, PHONE, Purpose.SERVICE, "Hello")
    queued = await queue_message(conn, AGENT, request, now=NOON, outbound=outbound)

    await drain(live_settings, migrated_db)

    assert (twilio.received[0].form["To"], twilio.received[0].form["From"]) == (
        f"whatsapp:{PHONE}",
        f"whatsapp:{OUR_NUMBER}",
    )
    assert sent_fields(migrated_db, queued.message_id)[2] == "sent"


async def test_a_messaging_service_picks_the_sender(
    conn: AsyncConnection[Any], migrated_db: str, twilio: TwilioServer, tmp_path: Path
) -> None:
    settings = make_settings(
        tmp_path,
        OUTBOUND_PROVIDER="live",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_FROM_NUMBER="",
        TWILIO_MESSAGING_SERVICE_SID="MG" + "ab" * 16,
        TWILIO_API_BASE_URL=twilio.base_url,
        SENDGRID_API_KEY="unused",
    )
    with outbound_for(settings) as outbound:
        message_id = await queue_sms(conn, outbound)

    await drain(settings, migrated_db)

    form = twilio.received[0].form
    assert form["MessagingServiceSid"] == "MG" + "ab" * 16
    assert "From" not in form
    assert sent_fields(migrated_db, message_id)[1:3] == ("accepted", "sent")


async def test_a_job_left_running_by_a_dead_worker_is_run_again(
    outbound: Outbound,
    conn: AsyncConnection[Any],
    migrated_db: str,
    live_settings: Settings,
    twilio: TwilioServer,
) -> None:
    message_id = await queue_sms(conn, outbound)
    dead = execute(
        migrated_db,
        "INSERT INTO procrastinate_workers (last_heartbeat) VALUES (now() - interval '1 hour')"
        " RETURNING id",
    )[0][0]
    execute(
        migrated_db,
        "UPDATE procrastinate_jobs SET status = 'doing', worker_id = %s",
        (dead,),
    )

    await drain(live_settings, migrated_db)

    assert len(twilio.received) == 1
    assert sent_fields(migrated_db, message_id) == ("twilio", "queued", "sent", None)
