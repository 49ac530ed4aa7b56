"""Queueing outbound messages: the preferences decide, refusals are audited with their rule,
and a message and its job commit or roll back together."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from psycopg import AsyncConnection

from switchboard.errors import ConfigurationError, InvalidInput
from switchboard.outbound.config import Outbound, outbound_for
from switchboard.outbound.models import OutboundRequest
from switchboard.outbound.service import queue_message
from switchboard.preferences import service as preferences
from switchboard.preferences.models import ContactChannel, Purpose
from tests.builders import execute, link_customer
from tests.outbound.conftest import AGENT, OUR_NUMBER, audit_events, make_settings, message_row

pytestmark = pytest.mark.anyio
CUSTOMER_PHONE = "+447700900123"
CUSTOMER_EMAIL = "ada@example.com"
NOON_LONDON = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)


def sms(
    purpose: Purpose = Purpose.SERVICE, text: str = "Your card is on its way", **extra: Any
) -> OutboundRequest:
    return OutboundRequest(ContactChannel.SMS, CUSTOMER_PHONE, purpose, text, **extra)


def jobs(url: str) -> list[tuple[Any, ...]]:
    return execute(url, "SELECT task_name, args->>'message_id', status FROM procrastinate_jobs")


async def test_a_process_that_built_no_outbound_cannot_queue_and_nothing_goes_to_the_sandbox(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    link_customer(migrated_db, phone=CUSTOMER_PHONE, email=CUSTOMER_EMAIL)

    with pytest.raises(TypeError, match="outbound"):
        await queue_message(conn, AGENT, sms(), now=NOON_LONDON)  # type: ignore[call-arg]

    assert execute(migrated_db, "SELECT count(*) FROM cc_messages") == [(0,)]
    assert jobs(migrated_db) == []
    assert audit_events(migrated_db) == []


async def test_an_allowed_message_is_stored_queued_and_audited(
    outbound: Outbound, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    customer = link_customer(migrated_db, phone=CUSTOMER_PHONE, email=CUSTOMER_EMAIL)

    queued = await queue_message(conn, AGENT, sms(), now=NOON_LONDON, outbound=outbound)

    assert queued.allowed
    assert queued.rule is None
    row = message_row(migrated_db, queued.message_id)
    assert {k: row[k] for k in ("direction", "provider", "from_address", "to_address")} == {
        "direction": "outbound",
        "provider": "sandbox",
        "from_address": OUR_NUMBER,
        "to_address": CUSTOMER_PHONE,
    }
    assert (row["status"], row["provider_status"], row["provider_message_id"]) == (
        None,
        "pending",
        None,
    )
    assert row["body_text"] == "Your card is on its way"
    assert row["body_json"] == {"purpose": "service", "sealed": False}
    assert jobs(migrated_db) == [
        ("switchboard.outbound.send_message", str(queued.message_id), "todo")
    ]
    assert audit_events(migrated_db) == [("message.queued", True, None, "agent")]
    audited = execute(
        migrated_db,
        "SELECT bank_customer_id, input_redacted->>'to', input_redacted::text"
        " FROM cc_audit_logs WHERE event_type = 'message.queued'",
    )
    assert audited[0][:2] == (customer, "+44••••••0123")
    assert "on its way" not in audited[0][2]


@pytest.mark.parametrize(
    ("change", "channel", "rule"),
    [
        ({"do_not_contact": True}, ContactChannel.SMS, "do_not_contact"),
        ({"allowed_channels": ["email"]}, ContactChannel.SMS, "channel_not_allowed"),
        ({"allowed_channels": ["sms"]}, ContactChannel.EMAIL, "channel_not_allowed"),
    ],
)
async def test_a_refusal_is_returned_audited_with_its_rule_and_stores_nothing(
    outbound: Outbound,
    conn: AsyncConnection[Any],
    migrated_db: str,
    *,
    change: dict[str, Any],
    channel: ContactChannel,
    rule: str,
) -> None:
    customer = link_customer(migrated_db, phone=CUSTOMER_PHONE, email=CUSTOMER_EMAIL)
    await preferences.set_preferences(conn, AGENT, customer, **change)
    address = CUSTOMER_EMAIL if channel is ContactChannel.EMAIL else CUSTOMER_PHONE
    request = OutboundRequest(
        channel, address, Purpose.MARKETING, "Our new savings account", subject="New"
    )

    queued = await queue_message(conn, AGENT, request, now=NOON_LONDON, outbound=outbound)

    assert (queued.allowed, queued.message_id, queued.rule) == (False, None, rule)
    assert queued.detail
    assert execute(migrated_db, "SELECT count(*) FROM cc_messages") == [(0,)]
    assert jobs(migrated_db) == []
    assert audit_events(migrated_db) == [("message.send_refused", False, rule, "agent")]
    refused = execute(
        migrated_db,
        "SELECT bank_customer_id, error_message, input_redacted->>'purpose'"
        " FROM cc_audit_logs WHERE event_type = 'message.send_refused'",
    )
    assert refused == [(customer, queued.detail, "marketing")]


async def test_the_customer_is_recognised_by_address_when_the_caller_names_none(
    outbound: Outbound, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    customer = link_customer(migrated_db, phone=CUSTOMER_PHONE, email=CUSTOMER_EMAIL)
    await preferences.set_preferences(conn, AGENT, customer, do_not_contact=True)

    queued = await queue_message(conn, AGENT, sms(), now=NOON_LONDON, outbound=outbound)

    assert (queued.allowed, queued.rule) == (False, "do_not_contact")


@pytest.mark.parametrize(
    ("timezone", "purpose", "allowed"),
    [
        ("Europe/London", Purpose.MARKETING, False),  # 21:30 in London
        ("America/New_York", Purpose.MARKETING, True),  # 16:30 in New York
        ("Asia/Tokyo", Purpose.SERVICE, False),  # 06:30 the next morning in Tokyo
        ("Australia/Sydney", Purpose.SERVICE, True),  # 08:30 the next morning in Sydney
        ("Europe/London", Purpose.OTP, True),  # a code the customer asked for goes out
        ("Asia/Tokyo", Purpose.FRAUD_ALERT, True),  # and so does a fraud alert
    ],
)
async def test_quiet_hours_are_the_customers_own_across_time_zones(
    conn: AsyncConnection[Any],
    migrated_db: str,
    *,
    outbound: Outbound,
    timezone: str,
    purpose: Purpose,
    allowed: bool,
) -> None:
    customer = link_customer(migrated_db, phone=CUSTOMER_PHONE, email=CUSTOMER_EMAIL)
    await preferences.set_preferences(conn, AGENT, customer, timezone=timezone)
    evening_in_london = datetime(2026, 1, 15, 21, 30, tzinfo=UTC)

    queued = await queue_message(
        conn,
        AGENT,
        sms(purpose, bank_customer_id=customer),
        now=evening_in_london,
        outbound=outbound,
    )

    assert queued.allowed is allowed
    assert queued.rule == (None if allowed else "quiet_hours")
    assert len(jobs(migrated_db)) == (1 if allowed else 0)
    expected = (
        ("message.queued", True, None, "agent")
        if allowed
        else (
            "message.send_refused",
            False,
            "quiet_hours",
            "agent",
        )
    )
    assert audit_events(migrated_db)[-1] == expected


async def test_inside_the_callers_transaction_a_rollback_leaves_no_message_and_no_job(
    outbound: Outbound, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    class CallerFailed(Exception):
        pass

    async def queue_then_fail() -> None:
        async with conn.transaction():
            queued = await queue_message(conn, AGENT, sms(), now=NOON_LONDON, outbound=outbound)
            assert queued.allowed
            raise CallerFailed

    with pytest.raises(CallerFailed):
        await queue_then_fail()

    assert execute(migrated_db, "SELECT count(*) FROM cc_messages") == [(0,)]
    assert jobs(migrated_db) == []
    assert audit_events(migrated_db) == []


async def test_a_refusal_inside_the_callers_transaction_is_kept_when_it_commits(
    outbound: Outbound, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    customer = link_customer(migrated_db, phone=CUSTOMER_PHONE, email=CUSTOMER_EMAIL)
    await preferences.set_preferences(conn, AGENT, customer, do_not_contact=True)

    async with conn.transaction():
        queued = await queue_message(
            conn, AGENT, sms(Purpose.MARKETING), now=NOON_LONDON, outbound=outbound
        )

    assert not queued.allowed
    assert audit_events(migrated_db)[-1] == (
        "message.send_refused",
        False,
        "do_not_contact",
        "agent",
    )


async def test_a_secret_with_no_key_to_seal_it_is_refused_before_anything_is_written(
    conn: AsyncConnection[Any], migrated_db: str, tmp_path: Path
) -> None:
    keyless = make_settings(tmp_path, OUTBOUND_PROVIDER="sandbox", SWITCHBOARD_SECRET_KEY="")
    link_customer(migrated_db, phone=CUSTOMER_PHONE, email=CUSTOMER_EMAIL)
    request = sms(Purpose.OTP, "Your code is 482913", stored_text="Your code is ••••••")

    with outbound_for(keyless) as outbound:
        async with conn.transaction():  # the caller carries on after the refusal, and commits
            with pytest.raises(ConfigurationError):
                await queue_message(conn, AGENT, request, now=NOON_LONDON, outbound=outbound)

    assert execute(migrated_db, "SELECT count(*) FROM cc_conversations") == [(0,)]
    assert execute(migrated_db, "SELECT count(*) FROM cc_messages") == [(0,)]
    assert jobs(migrated_db) == []


async def test_a_secret_rests_only_as_the_stored_text_and_travels_sealed(
    outbound: Outbound, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    request = sms(Purpose.OTP, "Your code is 482913", stored_text="Your code is ••••••")

    queued = await queue_message(conn, AGENT, request, outbound=outbound)

    assert message_row(migrated_db, queued.message_id)["body_text"] == "Your code is ••••••"
    (args,) = execute(migrated_db, "SELECT args::text FROM procrastinate_jobs")[0]
    assert "sealed:v1:" in args
    everything = execute(
        migrated_db,
        "SELECT (SELECT string_agg(to_jsonb(m)::text, '') FROM cc_messages AS m)"
        " || (SELECT string_agg(to_jsonb(a)::text, '') FROM cc_audit_logs AS a) || %s",
        (args,),
    )[0][0]
    assert "482913" not in everything


async def test_card_numbers_are_masked_at_rest_but_sent_as_written(
    conn: AsyncConnection[Any], migrated_db: str, outbound: Outbound
) -> None:
    queued = await queue_message(
        conn,
        AGENT,
        sms(text="Card 4111 1111 1111 1111 is blocked"),
        now=NOON_LONDON,
        outbound=outbound,
    )

    row = message_row(migrated_db, queued.message_id)
    assert row["body_text"] == "Card •••• •••• •••• 1111 is blocked"
    assert row["body_json"]["sealed"] is True


async def test_an_sms_continues_the_thread_the_customer_writes_to(
    outbound: Outbound, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    thread = execute(
        migrated_db,
        "INSERT INTO cc_conversations (channel, provider, provider_conversation_id, status)"
        " VALUES ('sms', 'twilio', %s, 'open') RETURNING id",
        (f"{CUSTOMER_PHONE}|{OUR_NUMBER}",),
    )[0][0]

    queued = await queue_message(conn, AGENT, sms(), now=NOON_LONDON, outbound=outbound)

    assert message_row(migrated_db, queued.message_id)["conversation_id"] == str(thread)


async def test_an_sms_asked_for_during_a_call_joins_the_sms_thread_and_names_the_call(
    outbound: Outbound, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    call = execute(
        migrated_db,
        "INSERT INTO cc_conversations (channel, provider, provider_conversation_id, status)"
        " VALUES ('voice', 'vapi', 'call-1', 'open') RETURNING id",
    )[0][0]

    queued = await queue_message(
        conn, AGENT, sms(conversation_id=call), now=NOON_LONDON, outbound=outbound
    )

    row = message_row(migrated_db, queued.message_id)
    assert row["conversation_id"] != str(call)
    assert row["body_json"]["requested_in_conversation_id"] == str(call)
    assert execute(
        migrated_db,
        "SELECT channel, provider_conversation_id FROM cc_conversations WHERE id = %s",
        (row["conversation_id"],),
    ) == [("sms", f"{CUSTOMER_PHONE}|{OUR_NUMBER}")]


async def test_a_reply_in_a_conversation_of_its_channel_stays_in_it(
    outbound: Outbound, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    thread = execute(
        migrated_db,
        "INSERT INTO cc_conversations (channel, provider, provider_conversation_id, status)"
        " VALUES ('email', 'sendgrid', '<a@mail.example>', 'open') RETURNING id",
    )[0][0]
    request = OutboundRequest(
        ContactChannel.EMAIL,
        CUSTOMER_EMAIL,
        Purpose.SERVICE,
        "We have refunded the charge.",
        subject="Re: a charge I do not recognise",
        conversation_id=thread,
    )

    queued = await queue_message(conn, AGENT, request, now=NOON_LONDON, outbound=outbound)

    row = message_row(migrated_db, queued.message_id)
    assert row["conversation_id"] == str(thread)
    assert row["body_json"]["subject"] == "Re: a charge I do not recognise"


@pytest.mark.parametrize(
    ("request_", "complaint"),
    [
        (OutboundRequest(ContactChannel.VOICE, CUSTOMER_PHONE, Purpose.SERVICE, "hi"), "voice"),
        (OutboundRequest(ContactChannel.EMAIL, CUSTOMER_EMAIL, Purpose.SERVICE, "hi"), "subject"),
        (OutboundRequest(ContactChannel.SMS, "07700 900123", Purpose.SERVICE, "hi"), "E.164"),
        (OutboundRequest(ContactChannel.SMS, CUSTOMER_PHONE, Purpose.SERVICE, "  "), "empty"),
        (OutboundRequest(ContactChannel.SMS, CUSTOMER_PHONE, Purpose.SERVICE, "x" * 1601), "1600"),
        (
            OutboundRequest(
                ContactChannel.SMS, CUSTOMER_PHONE, Purpose.SERVICE, "hi", conversation_id=uuid4()
            ),
            "no conversation",
        ),
    ],
)
async def test_a_request_that_cannot_be_sent_is_invalid_input_and_changes_nothing(
    outbound: Outbound,
    conn: AsyncConnection[Any],
    migrated_db: str,
    request_: OutboundRequest,
    complaint: str,
) -> None:
    with pytest.raises(InvalidInput, match=complaint):
        await queue_message(conn, AGENT, request_, now=NOON_LONDON, outbound=outbound)

    assert execute(migrated_db, "SELECT count(*) FROM cc_messages") == [(0,)]
    assert audit_events(migrated_db) == []
