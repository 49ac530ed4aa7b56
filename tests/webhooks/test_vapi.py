"""Vapi server messages over HTTP: one conversation per call, each delivery stored once."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from switchboard.app import create_app
from switchboard.settings import Settings
from tests.builders import execute
from tests.conftest import service_url
from tests.webhooks.conftest import VAPI_SECRET, fixture, running

pytestmark = pytest.mark.anyio
PATH = "/webhooks/vapi"
CALL_ID = "3f5e1c2a-8b7d-4e9f-a1c3-5d7e9f1b2c4d"
# Every table a delivery may write to.
WRITTEN = ("cc_webhook_events", "cc_conversations", "cc_messages", "cc_audit_logs")
NOTHING_WRITTEN = dict.fromkeys(WRITTEN, 0)


def db_url(client: httpx.AsyncClient) -> str:
    return str(client._transport.app.state.pool.conninfo)  # type: ignore[attr-defined]


def vapi(name: str, **fields: Any) -> dict[str, Any]:
    """A fixture payload, with fields of its `message` replaced."""
    payload: dict[str, Any] = fixture("vapi", f"{name}.json")
    payload["message"].update(fields)
    return payload


async def post(
    client: httpx.AsyncClient,
    payload: Any,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    """The payload as Vapi posts it with the legacy X-Vapi-Secret header, unless `headers`
    say otherwise."""
    return await client.post(
        PATH,
        content=json.dumps(payload),
        headers=(
            {"Content-Type": "application/json", "X-Vapi-Secret": VAPI_SECRET}
            if headers is None
            else headers
        ),
    )


def counts(url: str) -> dict[str, int]:
    return {table: execute(url, f"SELECT count(*) FROM {table}")[0][0] for table in WRITTEN}


def call_messages(url: str) -> list[tuple[Any, ...]]:
    return execute(
        url,
        "SELECT m.provider_message_id, m.direction, m.from_address, m.to_address, m.body_text"
        " FROM cc_messages AS m ORDER BY m.created_at, m.provider_message_id",
    )


async def test_a_status_update_opens_the_calls_conversation_without_a_message(
    client: httpx.AsyncClient,
) -> None:
    response = await post(client, vapi("status_update_in_progress"))

    assert response.status_code == 200
    assert response.json() == {}
    url = db_url(client)
    assert execute(
        url,
        "SELECT channel, provider, provider_conversation_id, status,"
        " bank_customer_id IS NOT NULL FROM cc_conversations",
    ) == [("voice", "vapi", CALL_ID, "open", True)]
    assert execute(url, "SELECT count(*) FROM cc_messages") == [(0,)]
    assert execute(
        url,
        "SELECT actor_type, actor_id, event_type, success, input_redacted->>'status',"
        " input_redacted->>'from', conversation_id IS NOT NULL FROM cc_audit_logs",
    ) == [("provider", "vapi", "call.status", True, "in-progress", "+447700900001", True)]


async def test_an_ended_status_keeps_its_ended_reason_in_the_audit(
    client: httpx.AsyncClient,
) -> None:
    payload = vapi("status_update_in_progress", status="ended", endedReason="silence-timed-out")

    assert (await post(client, payload)).status_code == 200

    assert execute(
        db_url(client),
        "SELECT input_redacted->>'status', input_redacted->>'ended_reason' FROM cc_audit_logs",
    ) == [("ended", "silence-timed-out")]


async def test_a_final_customer_turn_is_an_inbound_message_of_the_call(
    client: httpx.AsyncClient,
) -> None:
    payload = vapi("transcript_final_user")

    response = await post(client, payload)

    assert response.status_code == 200
    assert response.json() == {}
    url = db_url(client)
    assert execute(
        url,
        "SELECT m.provider, m.provider_message_id, m.direction, m.from_address, m.to_address,"
        " m.body_text, m.body_json, m.status, c.channel, c.provider_conversation_id,"
        " c.bank_customer_id IS NOT NULL"
        " FROM cc_messages AS m JOIN cc_conversations AS c ON c.id = m.conversation_id",
    ) == [
        (
            "vapi",
            f"{CALL_ID}:transcript:1767272405872:user",
            "inbound",
            "+447700900001",
            "+447700900999",
            payload["message"]["transcript"],
            {"role": "user", "transcriptType": "final", "isFiltered": False},
            "received",
            "voice",
            CALL_ID,
            True,
        )
    ]
    assert execute(url, "SELECT event_type, success FROM cc_audit_logs") == [
        ("call.transcript", True)
    ]


async def test_a_final_assistant_turn_is_an_outbound_message_to_the_customer(
    client: httpx.AsyncClient,
) -> None:
    assert (await post(client, vapi("transcript_final_assistant"))).status_code == 200

    assert call_messages(db_url(client)) == [
        (
            f"{CALL_ID}:transcript:1767272409214:assistant",
            "outbound",
            "+447700900999",
            "+447700900001",
            fixture("vapi", "transcript_final_assistant.json")["message"]["transcript"],
        )
    ]


async def test_a_final_only_subscription_type_is_stored_like_a_final_transcript(
    client: httpx.AsyncClient,
) -> None:
    payload = vapi("transcript_final_user", type='transcript[transcriptType="final"]')
    del payload["message"]["transcriptType"]

    assert (await post(client, payload)).status_code == 200

    assert execute(db_url(client), "SELECT provider_message_id, body_json FROM cc_messages") == [
        (
            f"{CALL_ID}:transcript:1767272405872:user",
            {"role": "user", "transcriptType": "final", "isFiltered": False},
        )
    ]


async def test_a_turn_without_a_timestamp_is_keyed_on_its_content(
    client: httpx.AsyncClient,
) -> None:
    payload = vapi("transcript_final_user")
    del payload["message"]["timestamp"]

    first = await post(client, payload)
    again = await post(client, payload)

    assert [first.status_code, again.status_code] == [200, 200]
    keys = execute(db_url(client), "SELECT provider_message_id FROM cc_messages")
    assert len(keys) == 1
    assert keys[0][0].startswith(f"{CALL_ID}:transcript:sha256-")


async def test_partial_transcripts_write_nothing(client: httpx.AsyncClient) -> None:
    response = await post(client, vapi("transcript_partial"))

    assert response.status_code == 200
    assert response.json() == {}
    assert counts(db_url(client)) == NOTHING_WRITTEN


async def test_an_end_of_call_report_stores_the_summary_and_closes_the_conversation(
    client: httpx.AsyncClient,
) -> None:
    payload = vapi("end_of_call_report")
    report = payload["message"]

    response = await post(client, payload)

    assert response.status_code == 200
    assert response.json() == {}
    url = db_url(client)
    ((key, direction, sender, text, body, status, customer_known),) = execute(
        url,
        "SELECT m.provider_message_id, m.direction, m.from_address, m.body_text, m.body_json,"
        " c.status, c.bank_customer_id IS NOT NULL"
        " FROM cc_messages AS m JOIN cc_conversations AS c ON c.id = m.conversation_id",
    )
    assert (key, direction, sender, status, customer_known) == (
        f"{CALL_ID}:end-of-call-report",
        "inbound",
        "+447700900001",
        "closed",
        True,
    )
    assert text == report["analysis"]["summary"]
    assert body == {
        "summary": report["analysis"]["summary"],
        "endedReason": "customer-ended-call",
        "recordingUrl": report["artifact"]["recordingUrl"],
        "stereoRecordingUrl": report["artifact"]["stereoRecordingUrl"],
        "cost": 0.1237,
        "costs": report["costs"],
        "startedAt": "2026-01-01T13:00:00.412Z",
        "endedAt": "2026-01-01T13:01:03.662Z",
        "durationSeconds": 63.25,
        "transcript": report["artifact"]["transcript"],
    }
    assert execute(url, "SELECT event_type, success FROM cc_audit_logs") == [("call.ended", True)]


async def test_an_end_of_call_report_in_the_older_top_level_shape_is_read_the_same(
    client: httpx.AsyncClient,
) -> None:
    report = fixture("vapi", "end_of_call_report_legacy.json")["message"]

    assert (await post(client, {"message": report})).status_code == 200

    url = db_url(client)
    ((text, body),) = execute(url, "SELECT body_text, body_json FROM cc_messages")
    assert text == report["summary"]
    assert body == {
        "summary": report["summary"],
        "endedReason": "customer-ended-call",
        "recordingUrl": report["recordingUrl"],
        "stereoRecordingUrl": report["stereoRecordingUrl"],
        "cost": 0.1237,
        "startedAt": "2026-01-01T13:00:00.412Z",
        "endedAt": "2026-01-01T13:01:03.662Z",
        "durationSeconds": 63.25,  # computed from startedAt and endedAt
        "transcript": report["transcript"],
    }
    assert execute(url, "SELECT status FROM cc_conversations") == [("closed",)]


async def test_a_recording_object_alone_still_gives_the_recording_links(
    client: httpx.AsyncClient,
) -> None:
    payload = vapi("end_of_call_report")
    artifact = payload["message"]["artifact"]
    del artifact["recordingUrl"], artifact["stereoRecordingUrl"]

    assert (await post(client, payload)).status_code == 200

    assert execute(
        db_url(client),
        "SELECT body_json->>'recordingUrl', body_json->>'stereoRecordingUrl' FROM cc_messages",
    ) == [(artifact["recording"]["mono"]["combinedUrl"], artifact["recording"]["stereoUrl"])]


async def test_a_conversation_update_is_audited_but_stores_no_message(
    client: httpx.AsyncClient,
) -> None:
    response = await post(client, vapi("conversation_update"))

    assert response.status_code == 200
    url = db_url(client)
    assert execute(url, "SELECT count(*) FROM cc_messages") == [(0,)]
    assert execute(url, "SELECT provider_conversation_id, status FROM cc_conversations") == [
        (CALL_ID, "open")
    ]
    assert execute(
        url, "SELECT event_type, (input_redacted->>'turns')::int FROM cc_audit_logs"
    ) == [("call.conversation_updated", 3)]  # the system prompt is not a turn
    assert execute(url, "SELECT event_key FROM cc_webhook_events") == [
        (f"{CALL_ID}:conversation-update:1767272409730",)
    ]


async def test_a_whole_call_lands_in_one_conversation_that_ends_closed(
    client: httpx.AsyncClient,
) -> None:
    for name in (
        "status_update_in_progress",
        "transcript_partial",
        "transcript_final_user",
        "conversation_update",
        "transcript_final_assistant",
        "end_of_call_report",
    ):
        assert (await post(client, vapi(name))).status_code == 200

    url = db_url(client)
    assert execute(
        url,
        "SELECT c.status, c.bank_customer_id IS NOT NULL, count(m.id),"
        " max(m.body_json->>'recordingUrl'), max(m.body_json->>'cost')"
        " FROM cc_conversations AS c JOIN cc_messages AS m ON m.conversation_id = c.id"
        " GROUP BY c.id",
    ) == [
        (
            "closed",
            True,
            3,
            fixture("vapi", "end_of_call_report.json")["message"]["artifact"]["recordingUrl"],
            "0.1237",
        )
    ]
    assert execute(url, "SELECT event_type FROM cc_audit_logs ORDER BY created_at, event_type") == [
        ("call.status",),
        ("call.transcript",),
        ("call.conversation_updated",),
        ("call.transcript",),
        ("call.ended",),
    ]


async def test_a_turn_arriving_after_the_report_joins_the_closed_conversation(
    client: httpx.AsyncClient,
) -> None:
    await post(client, vapi("end_of_call_report"))

    response = await post(client, vapi("transcript_final_assistant"))

    assert response.status_code == 200
    assert execute(
        db_url(client),
        "SELECT c.status, count(m.id) FROM cc_conversations AS c"
        " JOIN cc_messages AS m ON m.conversation_id = c.id GROUP BY c.id",
    ) == [("closed", 2)]


async def test_a_status_arriving_after_the_report_does_not_reopen_the_call(
    client: httpx.AsyncClient,
) -> None:
    await post(client, vapi("end_of_call_report"))

    await post(client, vapi("status_update_in_progress", status="ended"))

    assert execute(db_url(client), "SELECT status FROM cc_conversations") == [("closed",)]


@pytest.mark.parametrize(
    "name",
    [
        "status_update_in_progress",
        "transcript_final_user",
        "conversation_update",
        "end_of_call_report",
    ],
)
async def test_a_redelivery_answers_200_and_writes_nothing(
    client: httpx.AsyncClient, name: str
) -> None:
    url = db_url(client)
    await post(client, vapi(name))
    after_first = counts(url)

    again = await post(client, vapi(name))

    assert again.status_code == 200
    assert again.json() == {}
    assert counts(url) == after_first


async def test_twenty_concurrent_identical_reports_store_one_message(
    client: httpx.AsyncClient,
) -> None:
    payload = vapi("end_of_call_report")

    responses = await asyncio.gather(*(post(client, payload) for _ in range(20)))

    assert [r.status_code for r in responses] == [200] * 20
    url = db_url(client)
    assert counts(url) == {
        "cc_webhook_events": 1,
        "cc_conversations": 1,
        "cc_messages": 1,
        "cc_audit_logs": 1,
    }
    assert execute(url, "SELECT status FROM cc_conversations") == [("closed",)]


async def test_an_unknown_caller_leaves_the_customer_empty(client: httpx.AsyncClient) -> None:
    payload = vapi("transcript_final_user")
    payload["message"]["call"]["customer"]["number"] = "07700 900555"
    payload["message"]["customer"]["number"] = "07700 900555"

    assert (await post(client, payload)).status_code == 200

    assert execute(
        db_url(client),
        "SELECT m.from_address, c.bank_customer_id FROM cc_messages AS m"
        " JOIN cc_conversations AS c ON c.id = m.conversation_id",
    ) == [("+447700900555", None)]


async def test_the_caller_is_read_from_the_message_when_the_call_has_none(
    client: httpx.AsyncClient,
) -> None:
    payload = vapi("status_update_in_progress")
    del payload["message"]["call"]["customer"]

    assert (await post(client, payload)).status_code == 200

    assert execute(db_url(client), "SELECT bank_customer_id IS NOT NULL FROM cc_conversations") == [
        (True,)
    ]


_ABSENT = object()


@pytest.mark.parametrize(
    "call_type",
    ["webCall", "vapi.websocketCall", "sipCall", "", 7, ["inboundPhoneCall"], None, _ABSENT],
    ids=["web", "websocket", "unknown", "empty", "number", "list", "null", "absent"],
)
async def test_only_a_phone_call_is_recognised_by_its_number(
    client: httpx.AsyncClient, call_type: object
) -> None:
    payload = vapi("status_update_in_progress")
    if call_type is _ABSENT:
        del payload["message"]["call"]["type"]
    else:
        payload["message"]["call"]["type"] = call_type

    assert (await post(client, payload)).status_code == 200

    url = db_url(client)
    assert execute(url, "SELECT bank_customer_id FROM cc_conversations") == [(None,)]
    assert execute(url, "SELECT input_redacted->>'from' FROM cc_audit_logs") == [(None,)]


async def test_an_outbound_phone_call_is_recognised_by_its_number(
    client: httpx.AsyncClient,
) -> None:
    payload = vapi("status_update_in_progress")
    payload["message"]["call"]["type"] = "outboundPhoneCall"

    assert (await post(client, payload)).status_code == 200

    assert execute(db_url(client), "SELECT bank_customer_id IS NOT NULL FROM cc_conversations") == [
        (True,)
    ]


async def test_a_card_number_spoken_in_a_transcript_is_masked(
    client: httpx.AsyncClient,
) -> None:
    spoken = "my card number is 4111 1111 1111 1111"
    turn = vapi("transcript_final_user", transcript=spoken)
    report = vapi("end_of_call_report")
    report["message"]["artifact"]["transcript"] = f"User: {spoken}\n"

    assert (await post(client, turn)).status_code == 200
    assert (await post(client, report)).status_code == 200

    url = db_url(client)
    assert execute(url, "SELECT body_text FROM cc_messages WHERE body_json->>'role' = 'user'") == [
        ("my card number is •••• •••• •••• 1111",)
    ]
    everything = execute(
        url,
        "SELECT (SELECT string_agg(to_jsonb(m)::text, '') FROM cc_messages AS m)"
        " || (SELECT string_agg(to_jsonb(a)::text, '') FROM cc_audit_logs AS a)",
    )[0][0]
    assert "•••• •••• •••• 1111" in everything
    assert "4111 1111" not in everything


@pytest.mark.parametrize("kind", ["speech-update", "hang", "model-output", "assistant.started"])
async def test_types_we_do_not_keep_are_acknowledged_and_write_nothing(
    client: httpx.AsyncClient, kind: str
) -> None:
    payload = vapi("speech_update", type=kind)

    response = await post(client, payload)

    assert response.status_code == 200
    assert response.json() == {}
    assert counts(db_url(client)) == NOTHING_WRITTEN


async def test_the_secret_is_accepted_as_a_bearer_token(client: httpx.AsyncClient) -> None:
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {VAPI_SECRET}"}

    response = await post(client, vapi("status_update_in_progress"), headers)

    assert response.status_code == 200
    assert execute(db_url(client), "SELECT count(*) FROM cc_conversations") == [(1,)]


@pytest.mark.parametrize(
    "auth",
    [
        {"X-Vapi-Secret": "not-the-secret"},
        {"Authorization": "Bearer not-the-secret"},
        {"Authorization": f"Basic {VAPI_SECRET}"},  # the secret, but not as a Bearer token
        {"X-Vapi-Secret": ""},
        {},
    ],
    ids=["wrong-header", "wrong-bearer", "not-bearer", "empty-header", "no-header"],
)
async def test_a_wrong_or_missing_secret_is_refused_audited_and_stores_nothing(
    client: httpx.AsyncClient, auth: dict[str, str]
) -> None:
    headers = {"Content-Type": "application/json", **auth}

    response = await post(client, vapi("end_of_call_report"), headers)

    assert response.status_code == 403
    assert response.json()["error"] == "invalid_signature"
    url = db_url(client)
    assert execute(
        url,
        "SELECT actor_id, event_type, success, error_code, input_redacted->>'path'"
        " FROM cc_audit_logs",
    ) == [("vapi", "webhook.rejected", False, "invalid_signature", PATH)]
    assert {table: n for table, n in counts(url).items() if table != "cc_audit_logs"} == {
        "cc_webhook_events": 0,
        "cc_conversations": 0,
        "cc_messages": 0,
    }


async def test_an_unset_secret_answers_503_and_verifies_nothing(
    migrated_db: str, settings: Settings
) -> None:
    unset = settings.model_copy(update={"vapi_secret": "  "})
    async for client in running(create_app(unset, database_url=service_url(migrated_db))):
        # Even a request presenting the blank secret itself is refused.
        headers = {"Content-Type": "application/json", "X-Vapi-Secret": "  "}

        response = await post(client, vapi("status_update_in_progress"), headers)

        assert response.status_code == 503
        assert response.json()["error"] == "secret_not_configured"
        assert "VAPI_SECRET" in response.json()["detail"]
    assert execute(migrated_db, "SELECT event_type, error_code FROM cc_audit_logs") == [
        ("webhook.rejected", "secret_not_configured")
    ]
    assert execute(migrated_db, "SELECT count(*) FROM cc_conversations") == [(0,)]


def _without(name: str, *path: str) -> dict[str, Any]:
    payload = vapi(name)
    holder = payload["message"]
    for key in path[:-1]:
        holder = holder[key]
    del holder[path[-1]]
    return payload


@pytest.mark.parametrize(
    ("content", "content_type", "status", "error"),
    [
        ('{"message": {"type": "status-update",', "application/json", 400, "malformed_body"),
        (b'{"message": "\xff"}', "application/json", 400, "malformed_body"),
        ("[]", "application/json", 400, "malformed_body"),
        ('{"message": "status-update"}', "application/json", 400, "malformed_body"),
        ('{"message": {"type": 7}}', "application/json", 400, "malformed_body"),
        (
            '{"message": {"type": "end-of-call-report", "cost": NaN}}',
            "application/json",
            400,
            "malformed_body",
        ),
        (
            json.dumps(vapi("transcript_final_user", transcript="a\u0000b")),
            "application/json",
            400,
            "malformed_body",
        ),
        (
            '{"message": {"type": "transcript", "transcriptType": "final", "role": "user",'
            ' "transcript": "\\ud800", "call": {"id": "c"}}}',
            "application/json",
            400,
            "malformed_body",
        ),
        ("{}", "application/json", 422, "missing_field"),
        ('{"message": {"timestamp": 1}}', "application/json", 422, "missing_field"),
        (
            json.dumps(_without("status_update_in_progress", "call", "id")),
            "application/json",
            422,
            "missing_field",
        ),
        (
            json.dumps(_without("status_update_in_progress", "status")),
            "application/json",
            422,
            "missing_field",
        ),
        (
            json.dumps(_without("transcript_final_user", "role")),
            "application/json",
            422,
            "missing_field",
        ),
        (
            json.dumps(_without("transcript_final_user", "transcript")),
            "application/json",
            422,
            "missing_field",
        ),
        (
            json.dumps(_without("conversation_update", "messages")),
            "application/json",
            422,
            "missing_field",
        ),
        (
            json.dumps(vapi("status_update_in_progress")),
            "text/plain",
            415,
            "unsupported_media_type",
        ),
        (json.dumps(vapi("status_update_in_progress")), None, 415, "unsupported_media_type"),
        (
            '{"message": {"type": "transcript"}, "pad": "' + "x" * 1_048_576 + '"}',
            "application/json",
            413,
            "payload_too_large",
        ),
    ],
    ids=[
        "truncated-json",
        "not-utf8",
        "not-an-object",
        "message-not-an-object",
        "type-not-a-string",
        "nan",
        "nul-character",
        "lone-surrogate",
        "no-message",
        "no-type",
        "no-call-id",
        "no-status",
        "no-role",
        "no-transcript",
        "no-history",
        "text-plain",
        "no-content-type",
        "oversized",
    ],
)
async def test_a_malformed_delivery_gets_a_clear_4xx_and_changes_nothing(
    client: httpx.AsyncClient,
    content: str | bytes,
    content_type: str | None,
    status: int,
    error: str,
) -> None:
    headers = {"X-Vapi-Secret": VAPI_SECRET}
    if content_type:
        headers["Content-Type"] = content_type

    response = await client.post(PATH, content=content, headers=headers)

    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["detail"]
    assert counts(db_url(client)) == NOTHING_WRITTEN


async def test_an_overlong_call_id_is_refused_before_it_reaches_an_index(
    client: httpx.AsyncClient,
) -> None:
    payload = vapi("status_update_in_progress")
    payload["message"]["call"]["id"] = "c" * 5000

    response = await post(client, payload)

    assert response.status_code == 400
    assert response.json()["error"] == "malformed_body"
    assert counts(db_url(client)) == NOTHING_WRITTEN


def _with_number(name: str, number: str, *path: str | int) -> str:
    """The fixture's body as Vapi would send it with a number written as `number` at `path`
    of its message (a number Python's json would read as inf, or a constant JSON lacks)."""
    payload = vapi(name)
    holder: Any = payload["message"]
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = "@odd@"
    return json.dumps(payload).replace('"@odd@"', number)


def _with_arguments(arguments: str) -> str:
    payload = vapi("tool_calls")
    payload["message"]["toolCallList"][0]["function"]["arguments"] = arguments
    return json.dumps(payload)


@pytest.mark.parametrize(
    ("content", "status", "stored"),
    [
        (_with_number("end_of_call_report", "1e999", "cost"), 200, {"cost": None}),
        (_with_number("end_of_call_report", "-1e999", "cost"), 200, {"cost": None}),
        (
            _with_number("end_of_call_report", "1e999", "costs", 0, "cost"),
            200,
            {"cost": 0.1237, "costs/0/cost": "1e999"},
        ),
        (
            _with_number("end_of_call_report", "1E400", "durationSeconds"),
            200,
            {"durationSeconds": 63.25},
        ),
        (_with_number("transcript_final_user", "1e999", "timestamp"), 200, {}),
        (_with_arguments('{"channel": 1e999}'), 200, None),
        (_with_arguments("[" * 100_000), 200, None),
        (_with_number("end_of_call_report", "NaN", "cost"), 400, None),
        (_with_number("end_of_call_report", "Infinity", "cost"), 400, None),
    ],
    ids=[
        "cost-1e999",
        "cost-minus-1e999",
        "a-cost-of-costs-1e999",
        "duration-1e400",
        "transcript-timestamp-1e999",
        "tool-arguments-1e999",
        "tool-arguments-nested-past-recursion",
        "cost-nan",
        "cost-infinity",
    ],
)
async def test_an_authenticated_odd_message_is_stored_or_refused_with_a_4xx_never_a_500(
    client: httpx.AsyncClient, content: str, status: int, stored: dict[str, Any] | None
) -> None:
    response = await client.post(
        PATH,
        content=content,
        headers={"Content-Type": "application/json", "X-Vapi-Secret": VAPI_SECRET},
    )

    assert response.status_code == status, response.text
    url = db_url(client)
    if status != 200:
        assert response.json()["error"] == "malformed_body"
        assert counts(url) == NOTHING_WRITTEN
        return
    if stored is None:  # a tool call: answered, each call with its result or its error
        assert len(response.json()["results"]) == 2
        return
    ((body,),) = execute(url, "SELECT body_json FROM cc_messages")
    for where, value in stored.items():
        found = body
        for key in where.split("/"):
            found = found.get(key) if isinstance(found, dict) else found[int(key)]
        assert found == value
