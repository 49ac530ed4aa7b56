"""Nothing secret reaches the logs: the flows that carry a card number, a one-time code, a
message's text and the providers' secrets, run with every logger captured at DEBUG through
the service's own JSON format, and the output searched for each of them."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchboard.logs import log_handler
from switchboard.settings import Settings
from tests.providers.servers import SendGridServer, TwilioServer
from tests.tools.conftest import KNOWN_NUMBER, PATH, caller, tool_settings
from tests.webhooks.conftest import fixture, twilio_post_args

pytestmark = pytest.mark.anyio
INBOUND = "/webhooks/twilio/messages"
CARD = "4111 1111 1111 1111"
BODY = "I lost it somewhere in Lisbon yesterday"


@pytest.fixture
def settings(tmp_path: Path, twilio: TwilioServer, sendgrid: SendGridServer) -> Settings:
    """The assistant's settings, with access lines on as in production."""
    return tool_settings(tmp_path, twilio, sendgrid).model_copy(update={"access_log": True})


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """Every record of every logger, DEBUG and up, as the service would write it."""
    out = io.StringIO()
    root = logging.getLogger()
    handler, level = log_handler("json", out), root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    yield out
    root.removeHandler(handler)
    root.setLevel(level)


async def test_no_secret_code_card_or_message_text_is_logged(
    client: httpx.AsyncClient, settings: Settings, twilio: TwilioServer, captured: io.StringIO
) -> None:
    text = {**fixture("twilio", "inbound_sms.json"), "Body": f"block card {CARD}. {BODY}"}
    token = settings.twilio_auth_token
    assert (await client.post(INBOUND, **twilio_post_args(INBOUND, text, token))).status_code == 200
    forged = twilio_post_args(INBOUND, {**text, "MessageSid": "SMforged"}, "not-the-token")
    assert (await client.post(INBOUND, **forged)).status_code == 403
    call = caller(client, KNOWN_NUMBER)
    started = await call.use("start_verification", channel="sms")
    assert started.get("code_sent") is True, started
    code = await call.code_sent(twilio)
    wrong = "000000" if code != "000000" else "111111"
    assert (await call.use("check_verification", code=wrong)).get("verified") is False
    assert (await call.use("check_verification", code=code)).get("verified") is True
    unsigned = await client.post(PATH, json=call.message([]), headers={"X-Vapi-Secret": "nope"})
    assert unsigned.status_code == 403

    output = captured.getvalue()
    lines = [json.loads(line) for line in output.splitlines()]
    access = {(line["method"], line["route"], line["status"])
              for line in lines if line["logger"] == "switchboard.access"}  # fmt: skip
    # The flows ran, and their lines were captured: the search below has something to search.
    assert access == {("POST", INBOUND, 200), ("POST", INBOUND, 403), ("POST", PATH, 200),
                      ("POST", PATH, 403)}  # fmt: skip
    assert any(line["level"] == "DEBUG" for line in lines)
    secrets: dict[str, Any] = {
        "card": CARD,
        "card digits": CARD.replace(" ", ""),
        "card's middle": "1111 1111 1111",
        "message text": BODY,
        "code": code,
        "wrong code": wrong,
        "TWILIO_AUTH_TOKEN": token,
        "VAPI_SECRET": settings.vapi_secret,
        "SWITCHBOARD_SECRET_KEY": settings.switchboard_secret_key,
    }
    assert all(value for value in secrets.values())
    assert [name for name, value in secrets.items() if value in output] == []
