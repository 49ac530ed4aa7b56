"""The providers' status callbacks find a message the worker sent by (provider,
provider_message_id), or by our id in the callback's URL when they arrive before the worker
stored the provider's, and move it forward."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from psycopg import AsyncConnection

from switchboard.app import create_app
from switchboard.outbound.config import Outbound
from switchboard.outbound.models import OutboundRequest
from switchboard.outbound.repository import mark_accepted
from switchboard.outbound.service import queue_message
from switchboard.preferences.models import ContactChannel, Purpose
from switchboard.settings import Settings
from tests.conftest import service_url
from tests.outbound.conftest import AGENT, audit_events, drain, message_row
from tests.providers.servers import AUTH_TOKEN, SendGridServer, TwilioServer
from tests.webhooks.conftest import running, sendgrid_public_key, twilio_post_args
from tests.webhooks.test_sendgrid import post_events

pytestmark = pytest.mark.anyio
NOON = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)
EVENT_KEY = ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
async def client(migrated_db: str, live_settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    settings = live_settings.model_copy(
        update={"sendgrid_event_public_key": sendgrid_public_key(EVENT_KEY)}
    )
    async for client in running(create_app(settings, database_url=service_url(migrated_db))):
        yield client


def _twilio_report(sid: str, status: str) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "MessageStatus": status,
        "AccountSid": "AC" + "0a1b2c3d" * 4,
        "To": "+447700900123",
        "From": "+447700900999",
        "ApiVersion": "2010-04-01",
    }


async def test_a_twilio_status_callback_advances_a_message_the_worker_sent(
    conn: AsyncConnection[Any],
    migrated_db: str,
    live_settings: Settings,
    twilio: TwilioServer,
    client: httpx.AsyncClient,
    *,
    outbound: Outbound,
) -> None:
    request = OutboundRequest(ContactChannel.SMS, "+447700900123", Purpose.SERVICE, "Hello")
    queued = await queue_message(conn, AGENT, request, now=NOON, outbound=outbound)
    await drain(live_settings, migrated_db)
    sid = message_row(migrated_db, queued.message_id)["provider_message_id"]
    path = "/webhooks/twilio/status"
    params = _twilio_report(sid, "delivered")

    response = await client.post(path, **twilio_post_args(path, params, token=AUTH_TOKEN))

    assert response.status_code == 200
    row = message_row(migrated_db, queued.message_id)
    assert (row["status"], row["provider_status"]) == ("delivered", "delivered")
    assert audit_events(migrated_db)[-1] == ("message.status", True, None, "provider")


def _sendgrid_event(x_message_id: str, message_id: Any, event: str) -> dict[str, Any]:
    return {
        "email": "ada@example.com",
        "timestamp": int(time.time()),
        "event": event,
        "sg_event_id": f"{event}-{x_message_id}",
        "sg_message_id": f"{x_message_id}.filterdrecv-5645d9c87f-4xqzc-1-5F5FC76C-9.0",
        "smtp-id": f"<{x_message_id}@ismtpd0001p1lon1.sendgrid.net>",
        "response": "250 OK",
        "switchboard_message_id": str(message_id),
    }


async def test_a_sendgrid_delivered_event_advances_an_email_the_worker_sent(
    conn: AsyncConnection[Any],
    migrated_db: str,
    live_settings: Settings,
    sendgrid: SendGridServer,
    client: httpx.AsyncClient,
    *,
    outbound: Outbound,
) -> None:
    request = OutboundRequest(
        ContactChannel.EMAIL, "ada@example.com", Purpose.SERVICE, "Hello", subject="Hi"
    )
    queued = await queue_message(conn, AGENT, request, now=NOON, outbound=outbound)
    await drain(live_settings, migrated_db)
    x_message_id = message_row(migrated_db, queued.message_id)["provider_message_id"]
    event = _sendgrid_event(x_message_id, queued.message_id, "delivered")

    response = await post_events(client, EVENT_KEY, [event])

    assert response.status_code == 200
    row = message_row(migrated_db, queued.message_id)
    assert (row["status"], row["provider_status"]) == ("delivered", "delivered")


async def test_the_worker_asks_twilio_to_report_with_our_id_in_the_url(
    outbound: Outbound,
    conn: AsyncConnection[Any],
    migrated_db: str,
    live_settings: Settings,
    twilio: TwilioServer,
) -> None:
    request = OutboundRequest(ContactChannel.SMS, "+447700900123", Purpose.SERVICE, "Hello")
    queued = await queue_message(conn, AGENT, request, now=NOON, outbound=outbound)
    await drain(live_settings, migrated_db)

    (sent,) = twilio.received
    assert sent.form is not None
    assert sent.form["StatusCallback"] == (
        f"{live_settings.public_url}/webhooks/twilio/status?message_id={queued.message_id}"
    )


async def test_a_report_before_the_worker_stored_the_sid_is_applied_and_kept_by_the_worker(
    outbound: Outbound, conn: AsyncConnection[Any], migrated_db: str, client: httpx.AsyncClient
) -> None:
    request = OutboundRequest(ContactChannel.SMS, "+447700900123", Purpose.SERVICE, "Hello")
    queued = await queue_message(conn, AGENT, request, now=NOON, outbound=outbound)
    # Twilio took the message and reported it undelivered before the worker's commit.
    assert message_row(migrated_db, queued.message_id)["provider"] == "twilio"
    path = f"/webhooks/twilio/status?message_id={queued.message_id}"
    params = _twilio_report("SM" + "e" * 32, "undelivered") | {"ErrorCode": "30003"}

    response = await client.post(path, **twilio_post_args(path, params, token=AUTH_TOKEN))

    assert response.status_code == 200
    row = message_row(migrated_db, queued.message_id)
    assert (row["status"], row["provider_message_id"], row["error_code"]) == (
        "failed",
        "SM" + "e" * 32,
        "30003",
    )
    # Then the worker's commit: it records the send and keeps the further status.
    assert await mark_accepted(
        conn,
        queued.message_id,
        provider="twilio",
        provider_message_id="SM" + "e" * 32,
        provider_status="queued",
        status="sent",
        from_address="+447700900999",
    )
    row = message_row(migrated_db, queued.message_id)
    assert (row["status"], row["provider_status"], row["error_code"]) == (
        "failed",
        "undelivered",
        "30003",
    )


async def test_our_id_does_not_reach_a_message_twilio_knows_by_another_sid(
    conn: AsyncConnection[Any],
    migrated_db: str,
    live_settings: Settings,
    twilio: TwilioServer,
    client: httpx.AsyncClient,
    *,
    outbound: Outbound,
) -> None:
    request = OutboundRequest(ContactChannel.SMS, "+447700900123", Purpose.SERVICE, "Hello")
    queued = await queue_message(conn, AGENT, request, now=NOON, outbound=outbound)
    await drain(live_settings, migrated_db)
    before = message_row(migrated_db, queued.message_id)
    path = f"/webhooks/twilio/status?message_id={queued.message_id}"
    params = _twilio_report("SM" + "f" * 32, "failed")

    response = await client.post(path, **twilio_post_args(path, params, token=AUTH_TOKEN))

    assert response.status_code == 200
    after = message_row(migrated_db, queued.message_id)
    assert (after["status"], after["provider_message_id"]) == (
        before["status"],
        before["provider_message_id"],
    )
    assert audit_events(migrated_db)[-1] == (
        "message.status",
        False,
        "unknown_message",
        "provider",
    )


async def test_a_sendgrid_event_before_the_worker_stored_the_id_finds_the_email_by_ours(
    outbound: Outbound, conn: AsyncConnection[Any], migrated_db: str, client: httpx.AsyncClient
) -> None:
    request = OutboundRequest(
        ContactChannel.EMAIL, "ada@example.com", Purpose.SERVICE, "Hello", subject="Hi"
    )
    queued = await queue_message(conn, AGENT, request, now=NOON, outbound=outbound)
    assert message_row(migrated_db, queued.message_id)["provider_message_id"] is None

    response = await post_events(
        client, EVENT_KEY, [_sendgrid_event("x5ZxW4rTQ1aOqX0dm1ZbWw", queued.message_id, "bounce")]
    )

    assert response.status_code == 200
    row = message_row(migrated_db, queued.message_id)
    assert (row["status"], row["provider_status"], row["provider_message_id"]) == (
        "failed",
        "bounce",
        "x5ZxW4rTQ1aOqX0dm1ZbWw",
    )
