"""Request ids: every answer carries X-Request-ID, the directly served webhook's included, and
every audit record written while serving a request carries the request's id."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import re
from typing import Any

import httpx
import pytest

from switchboard.app import create_app
from switchboard.logs import log_handler
from switchboard.request_ids import MAX_REQUEST_ID
from switchboard.settings import Settings
from tests.builders import execute
from tests.conftest import service_url
from tests.webhooks.conftest import fixture, running, twilio_post_args

pytestmark = pytest.mark.anyio
INBOUND = "/webhooks/twilio/messages"  # a RequestRoute (http_app.py)
STATUS = "/webhooks/twilio/status"
BAD_SIGNATURE = {
    "X-Twilio-Signature": "bad",
    "Content-Type": "application/x-www-form-urlencoded",
}
NEW_ID = re.compile(r"[A-Za-z0-9_-]{22}")


def db_url(client: httpx.AsyncClient) -> str:
    return str(client._transport.app.state.pool.conninfo)  # type: ignore[attr-defined]


def signed(path: str, params: dict[str, str], request_id: str | None = None) -> dict[str, Any]:
    args = twilio_post_args(path, params)
    if request_id is not None:
        args["headers"]["X-Request-ID"] = request_id
    return args


def text(sid: str, body: str = "hello") -> dict[str, str]:
    return {**fixture("twilio", "inbound_sms.json"), "MessageSid": sid, "Body": body}


async def answers(client: httpx.AsyncClient, **headers: str) -> list[httpx.Response]:
    """One request to each kind of route: the direct one, a FastAPI one, a refused
    delivery, health, an unknown path, a wrong method."""
    status = {"MessageSid": "SM404", "MessageStatus": "delivered"}
    sent = [
        await client.post(INBOUND, **signed(INBOUND, text("SMids1"), headers.get("id"))),
        await client.post(STATUS, **signed(STATUS, status, headers.get("id"))),
        await client.post(INBOUND, content=b"Body=x", headers={**_id(headers), **BAD_SIGNATURE}),
        await client.get("/healthz", headers=_id(headers)),
        await client.get("/no/such/route", headers=_id(headers)),
        await client.get(INBOUND, headers=_id(headers)),
    ]
    assert [r.status_code for r in sent] == [200, 200, 403, 200, 404, 405]
    return sent


def _id(headers: dict[str, str]) -> dict[str, str]:
    return {"X-Request-ID": headers["id"]} if "id" in headers else {}


async def test_every_answer_carries_a_new_request_id(client: httpx.AsyncClient) -> None:
    ids = [r.headers["x-request-id"] for r in await answers(client)]

    assert all(NEW_ID.fullmatch(i) for i in ids), ids
    assert len(set(ids)) == len(ids)
    assert all(len(r.headers.get_list("x-request-id")) == 1 for r in await answers(client))


async def test_a_sane_request_id_is_answered_back(client: httpx.AsyncClient) -> None:
    sent = "lb-7f3a:0042/req=9.1_A+b"

    assert {r.headers["x-request-id"] for r in await answers(client, id=sent)} == {sent}


@pytest.mark.parametrize(
    "sent",
    [
        "has space",
        "x" * (MAX_REQUEST_ID + 1),
        "semi;colon",
        "4111111111111111",  # a card number would reach every log line of the request
        'quote"d',
    ],
)
async def test_an_insane_request_id_is_replaced(client: httpx.AsyncClient, sent: str) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": sent})

    assert NEW_ID.fullmatch(response.headers["x-request-id"])


async def test_the_audit_record_of_a_request_carries_its_id(client: httpx.AsyncClient) -> None:
    await client.post(INBOUND, **signed(INBOUND, text("SMaudit1"), "req-text-1"))
    refused = await client.post(INBOUND, content=b"Body=x", headers=BAD_SIGNATURE)

    rows = execute(
        db_url(client),
        "SELECT event_type, input_redacted->>'request_id' FROM cc_audit_logs ORDER BY created_at",
    )
    assert rows == [
        ("message.received", "req-text-1"),
        ("assignment.queued", "req-text-1"),  # its conversation, queued for a person
        ("webhook.rejected", refused.headers["x-request-id"]),
    ]


async def test_texts_written_in_one_group_each_carry_their_own_requests_id(
    client: httpx.AsyncClient,
) -> None:
    texts = client._transport.app.state.inbound_texts  # type: ignore[attr-defined]
    sids = [f"SMgroup{i}" for i in range(6)]

    answered = await asyncio.gather(
        *(client.post(INBOUND, **signed(INBOUND, text(sid), f"req-{sid}")) for sid in sids)
    )

    assert [r.status_code for r in answered] == [200] * len(sids)
    assert texts.groups < len(sids)  # some were written together
    rows = execute(
        db_url(client),
        "SELECT input_redacted->>'provider_message_id', input_redacted->>'request_id'"
        " FROM cc_audit_logs WHERE event_type = 'message.received'",
    )
    assert sorted(rows) == [(sid, f"req-{sid}") for sid in sids]


async def test_each_request_gets_one_json_access_line_with_its_id(
    migrated_db: str, settings: Settings
) -> None:
    out = io.StringIO()
    handler = log_handler("json", out)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    logged = settings.model_copy(update={"access_log": True})
    try:
        async for client in running(create_app(logged, database_url=service_url(migrated_db))):
            direct = await client.post(INBOUND, **signed(INBOUND, text("SMlog1"), "req-log-1"))
            health = await client.get("/healthz")
            missing = await client.get("/4111111111111111")
    finally:
        root.removeHandler(handler)
        root.setLevel(level)

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    access = [line for line in lines if line["logger"] == "switchboard.access"]
    assert [
        (line["request_id"], line["method"], line["route"], line["status"]) for line in access
    ] == [
        ("req-log-1", "POST", INBOUND, 200),
        (health.headers["x-request-id"], "GET", "/healthz", 200),
        (missing.headers["x-request-id"], "GET", "-", 404),  # the path is the caller's text
    ]
    assert direct.status_code == 200
    assert all(isinstance(line["duration_ms"], float) for line in access)
    assert "4111111111111111" not in json.dumps(access)  # httpx logs the test client's URLs
