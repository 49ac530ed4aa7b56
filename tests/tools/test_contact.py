"""send_message and set_contact_preferences: a verified caller's own address only, and the
customer's preferences decide what may go."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.builders import execute
from tests.outbound.conftest import drain
from tests.providers.servers import TwilioServer
from tests.tools.conftest import KNOWN_NUMBER, audit_rows, caller, shift_clock

pytestmark = pytest.mark.anyio


def _until(hour: int, zone: str) -> timedelta:
    """How far to move the clock for it to be `hour`:00 today in `zone`."""
    now = datetime.now(UTC)
    local = now.astimezone(ZoneInfo(zone)).replace(hour=hour, minute=0, second=0, microsecond=0)
    return local.astimezone(UTC) - now


async def test_a_service_message_goes_to_the_callers_number_on_file(
    client: httpx.AsyncClient, migrated_db: str, twilio: TwilioServer
) -> None:
    call = caller(client, KNOWN_NUMBER)
    shift_clock(client, _until(12, "Europe/London"))
    await call.verify_by_sms(twilio)

    answer = await call.use("send_message", channel="sms", text="Your new card is on its way.")

    assert answer["queued"] is True
    await drain(call.settings, call.url)
    last = twilio.received[-1].form
    assert (last["To"], last["Body"]) == (KNOWN_NUMBER, "Your new card is on its way.")
    assert execute(
        migrated_db,
        "SELECT status, body_json->>'purpose' FROM cc_messages WHERE id = %s",
        (answer["message_id"],),
    ) == [("sent", "service")]


async def test_a_channel_the_customer_turned_off_is_refused_and_audited(
    client: httpx.AsyncClient, migrated_db: str, twilio: TwilioServer
) -> None:
    call = caller(client, KNOWN_NUMBER)
    shift_clock(client, _until(12, "Europe/London"))
    await call.verify_by_sms(twilio)
    await call.use("set_contact_preferences", allowed_channels=["email"])

    refused = await call.use("send_message", channel="sms", text="Hello")
    emailed = await call.use("send_message", channel="email", text="Hello", subject="Hi")

    assert refused["queued"] is False
    assert refused["refused_by"] == "channel_not_allowed"
    assert emailed["queued"] is True
    tool_audits = audit_rows(migrated_db, "tool.send_message")
    assert [(r[3], r[4]) for r in tool_audits] == [(False, "channel_not_allowed"), (True, None)]
    assert [(r[3], r[4]) for r in audit_rows(migrated_db, "message.send_refused")] == [
        (False, "channel_not_allowed")
    ]


@pytest.mark.parametrize(
    ("zone", "hour", "allowed"),
    [
        ("Europe/London", 22, False),
        ("Europe/London", 9, True),
        ("Asia/Tokyo", 7, False),
        ("Asia/Tokyo", 20, True),
        ("America/New_York", 21, False),
    ],
)
async def test_quiet_hours_are_the_customers_own(
    client: httpx.AsyncClient, twilio: TwilioServer, zone: str, hour: int, allowed: bool
) -> None:
    call = caller(client, KNOWN_NUMBER)
    # The clock first: level 2 lasts 15 minutes of the tools' time.
    shift_clock(client, _until(hour, zone))
    await call.verify_by_sms(twilio)
    await call.use("set_contact_preferences", timezone=zone)

    answer = await call.use("send_message", channel="sms", text="About your case")

    assert answer["queued"] is allowed
    if not allowed:
        assert answer["refused_by"] == "quiet_hours"


async def test_preferences_changed_by_the_tool_are_validated(
    client: httpx.AsyncClient, twilio: TwilioServer
) -> None:
    call = caller(client, KNOWN_NUMBER)
    await call.verify_by_sms(twilio)

    bad_zone = await call.use("set_contact_preferences", timezone="Mars/Olympus")
    nothing = await call.use("set_contact_preferences")

    assert bad_zone["error"].startswith("invalid_input:")
    assert nothing["error"].startswith("invalid_input: nothing to change")
