"""The providers' status callbacks find a message the worker sent by (provider,
provider_message_id) and move it forward."""

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
from switchboard.outbound.models import OutboundRequest
from switchboard.outbound.service import queue_message
from switchboard.preferences.models import ContactChannel, Purpose
from switchboard.settings import Settings
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
    async for client in running(create_app(settings, database_url=migrated_db)):
        yield client


async def test_a_twilio_status_callback_advances_a_message_the_worker_sent(
    conn: AsyncConnection[Any],
    migrated_db: str,
    live_settings: Settings,
    twilio: TwilioServer,
    client: httpx.AsyncClient,
) -> None:
    request = OutboundRequest(ContactChannel.SMS, "+447700900123", Purpose.SERVICE, "Hello")
    queued = await queue_message(conn, AGENT, request, now=NOON)
    await drain(live_settings, migrated_db)
    sid = message_row(migrated_db, queued.message_id)["provider_message_id"]
    path = "/webhooks/twilio/status"
    params = {
        "MessageSid": sid,
        "MessageStatus": "delivered",
        "AccountSid": "AC" + "0a1b2c3d" * 4,
        "To": "+447700900123",
        "From": "+447700900999",
        "ApiVersion": "2010-04-01",
    }

    response = await client.post(path, **twilio_post_args(path, params, token=AUTH_TOKEN))

    assert response.status_code == 200
    row = message_row(migrated_db, queued.message_id)
    assert (row["status"], row["provider_status"]) == ("delivered", "delivered")
    assert audit_events(migrated_db)[-1] == ("message.status", True, None, "provider")


async def test_a_sendgrid_delivered_event_advances_an_email_the_worker_sent(
    conn: AsyncConnection[Any],
    migrated_db: str,
    live_settings: Settings,
    sendgrid: SendGridServer,
    client: httpx.AsyncClient,
) -> None:
    request = OutboundRequest(
        ContactChannel.EMAIL, "ada@example.com", Purpose.SERVICE, "Hello", subject="Hi"
    )
    queued = await queue_message(conn, AGENT, request, now=NOON)
    await drain(live_settings, migrated_db)
    x_message_id = message_row(migrated_db, queued.message_id)["provider_message_id"]
    event = {
        "email": "ada@example.com",
        "timestamp": int(time.time()),
        "event": "delivered",
        "sg_event_id": "ZGVsaXZlcmVkLTAtMTIzNDU2Nzg5",
        "sg_message_id": f"{x_message_id}.filterdrecv-5645d9c87f-4xqzc-1-5F5FC76C-9.0",
        "smtp-id": f"<{x_message_id}@ismtpd0001p1lon1.sendgrid.net>",
        "response": "250 OK",
        "switchboard_message_id": str(queued.message_id),
    }

    response = await post_events(client, EVENT_KEY, [event])

    assert response.status_code == 200
    row = message_row(migrated_db, queued.message_id)
    assert (row["status"], row["provider_status"]) == ("delivered", "delivered")
