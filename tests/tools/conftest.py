"""The assistant's tools driven as Vapi drives them: signed `tool-calls` messages posted to the
service, one-time codes sent by the real outbound worker to a local Twilio (and SendGrid)
server, where the test reads them as the customer's phone would."""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchboard.app import create_app
from switchboard.settings import Settings
from tests.builders import execute, link_customer
from tests.conftest import service_url
from tests.outbound.conftest import drain, make_settings
from tests.providers.servers import (
    ACCOUNT_SID,
    SENDGRID_KEY,
    SendGridServer,
    TwilioServer,
)
from tests.webhooks.conftest import VAPI_SECRET, fixture, running

PATH = "/webhooks/vapi"
ASSISTANT_ID = "c1d2e3f4-a5b6-4c7d-8e9f-0a1b2c3d4e5f"  # the fixtures' assistant
OUR_NUMBER = "+447700900999"
KNOWN_NUMBER = "+447700900001"
KNOWN_EMAIL = "ada@example.com"
UNKNOWN_NUMBER = "+447700900555"
CODE = re.compile(r"\b(\d{6})\b")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def settings(tmp_path: Path, twilio: TwilioServer, sendgrid: SendGridServer) -> Settings:
    return tool_settings(tmp_path, twilio, sendgrid)


def tool_settings(data_dir: Path, twilio: TwilioServer, sendgrid: SendGridServer) -> Settings:
    """The assistant's settings, sending live through the local Twilio and SendGrid."""
    return make_settings(
        data_dir,
        VAPI_SECRET=VAPI_SECRET,
        OUTBOUND_PROVIDER="live",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_API_BASE_URL=twilio.base_url,
        SENDGRID_API_KEY=SENDGRID_KEY,
        SENDGRID_API_BASE_URL=sendgrid.base_url,
        SWITCHBOARD_BANK_NAME="Northwind Bank",
    )


@pytest.fixture
def customer(migrated_db: str) -> uuid.UUID:
    return link_customer(migrated_db, phone=KNOWN_NUMBER, email=KNOWN_EMAIL)


@pytest.fixture
async def client(
    migrated_db: str, settings: Settings, customer: uuid.UUID
) -> AsyncIterator[httpx.AsyncClient]:
    async for client in running(
        create_app(settings, database_url=service_url(migrated_db), pool_size=20)
    ):
        yield client


class Caller:
    """One voice call to the bank: its tool calls, each with a new toolCallId."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: Settings,
        url: str,
        *,
        number: str,
        call_id: str | None = None,
    ) -> None:
        self.client = client
        self.settings = settings
        self.url = url
        self.number = number
        self.call_id = call_id or str(uuid.uuid4())

    def message(self, calls: list[dict[str, Any]]) -> dict[str, Any]:
        """A tool-calls message in the OpenAI function-call shape, as the server SDK types it."""
        payload: dict[str, Any] = fixture("vapi", "tool_calls.json")
        message = payload["message"]
        message["call"] = {**message["call"], "id": self.call_id,
                           "customer": {"number": self.number}}  # fmt: skip
        message["customer"] = {"number": self.number}
        message["toolCallList"] = calls
        message["toolWithToolCallList"] = [{"type": "function", "toolCall": c} for c in calls]
        return payload

    async def post(self, payload: dict[str, Any]) -> httpx.Response:
        return await self.client.post(PATH, json=payload, headers={"X-Vapi-Secret": VAPI_SECRET})

    async def answers(self, *calls: tuple[str, dict[str, Any]]) -> list[dict[str, Any]]:
        listed = [tool_call(name, arguments) for name, arguments in calls]
        response = await self.post(self.message(listed))
        assert response.status_code == 200, response.text
        results: list[dict[str, Any]] = response.json()["results"]
        assert [r["toolCallId"] for r in results] == [c["id"] for c in listed]
        return results

    async def use(self, name: str, **arguments: Any) -> dict[str, Any]:
        """The tool's answer: its parsed result, or {"error": ...}."""
        (answer,) = await self.answers((name, arguments))
        return parsed(answer)

    async def verify_by_sms(self, twilio: TwilioServer) -> dict[str, Any]:
        started = await self.use("start_verification", channel="sms")
        assert started.get("code_sent") is True, started
        return await self.use("check_verification", code=await self.code_sent(twilio))

    async def code_sent(self, twilio: TwilioServer) -> str:
        """The code in the last SMS Twilio was asked to send, once the worker has sent it."""
        await drain(self.settings, self.url)
        sent = [r.form for r in twilio.received if r.form.get("To") == self.number]
        assert sent, "no SMS reached Twilio"
        found = CODE.search(sent[-1]["Body"])
        assert found, sent[-1]["Body"]
        return found.group(1)

    async def code_sent_by_email(self, sendgrid: SendGridServer, address: str) -> str:
        """The code in the last email SendGrid was asked to send to `address`."""
        await drain(self.settings, self.url)
        sent = [
            r.json
            for r in sendgrid.received
            if r.json["personalizations"][0]["to"][0]["email"] == address
        ]
        assert sent, "no email reached SendGrid"
        found = CODE.search(sent[-1]["content"][0]["value"])
        assert found, sent[-1]
        return found.group(1)


def tool_call(name: str, arguments: dict[str, Any], call_id: str | None = None) -> dict[str, Any]:
    return {
        "id": call_id or f"call_{uuid.uuid4().hex[:24]}",
        "type": "function",
        # Vapi sends the arguments as a JSON string in this shape.
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }


def parsed(answer: dict[str, Any]) -> dict[str, Any]:
    if "error" in answer:
        return {"error": answer["error"]}
    result: dict[str, Any] = json.loads(answer["result"])
    return result


def caller(client: httpx.AsyncClient, number: str, **kwargs: Any) -> Caller:
    app = client._transport.app  # type: ignore[attr-defined]
    return Caller(client, app.state.settings, str(app.state.pool.conninfo), number=number, **kwargs)


def shift_clock(client: httpx.AsyncClient, by: timedelta) -> None:
    """Tools see the time `by` from now (the service's clock; the database keeps its own)."""
    app = client._transport.app  # type: ignore[attr-defined]
    services = app.state.tool_services
    app.state.tool_services = dataclasses.replace(
        services, now=lambda: datetime.now(services.now().tzinfo) + by
    )


def audit_rows(url: str, event_type: str) -> list[tuple[Any, ...]]:
    return execute(
        url,
        "SELECT actor_type, actor_id, event_version, success, error_code, input_redacted,"
        " output_redacted FROM cc_audit_logs WHERE event_type = %s ORDER BY created_at",
        (event_type,),
    )


async def say(call: Caller, text: str, stamp: int) -> None:
    """A final turn of the caller's, said in `call`."""
    payload = fixture("vapi", "transcript_final_user.json")
    payload["message"].update(transcript=text, timestamp=stamp)
    payload["message"]["call"]["id"] = call.call_id
    assert (await call.post(payload)).status_code == 200


async def end_call(call: Caller, transcript: str, summary: str) -> None:
    """The call's end-of-call report, with this transcript and summary."""
    payload = fixture("vapi", "end_of_call_report.json")
    payload["message"]["call"]["id"] = call.call_id
    payload["message"]["artifact"]["transcript"] = transcript
    payload["message"]["analysis"]["summary"] = summary
    assert (await call.post(payload)).status_code == 200


def said(url: str) -> list[str]:
    return [
        text
        for (text,) in execute(
            url, "SELECT body_text FROM cc_messages WHERE direction = 'inbound' ORDER BY created_at"
        )
    ]


def report(url: str) -> tuple[str, str, str]:
    (row,) = execute(
        url,
        "SELECT body_text, body_json->>'summary', body_json->>'transcript' FROM cc_messages"
        " WHERE provider_message_id LIKE '%:end-of-call-report'",
    )
    return row
