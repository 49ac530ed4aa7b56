"""The tool-calls protocol: every payload shape Vapi has sent, answers in order and on one
line, each tool call run once however often it is delivered, and every call audited."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest

from tests.builders import execute
from tests.providers.servers import TwilioServer
from tests.tools.conftest import (
    ASSISTANT_ID,
    KNOWN_NUMBER,
    UNKNOWN_NUMBER,
    audit_rows,
    caller,
    parsed,
    tool_call,
)
from tests.webhooks.conftest import VAPI_SECRET, fixture

pytestmark = pytest.mark.anyio
PATH = "/webhooks/vapi"


async def post(client: httpx.AsyncClient, payload: Any) -> httpx.Response:
    return await client.post(PATH, json=payload, headers={"X-Vapi-Secret": VAPI_SECRET})


@pytest.mark.parametrize("shape", ["tool_calls", "tool_calls_flat", "tool_calls_legacy"])
async def test_every_payload_shape_is_answered_in_order(
    client: httpx.AsyncClient, migrated_db: str, shape: str
) -> None:
    payload = fixture("vapi", f"{shape}.json")
    listed = payload["message"].get("toolCallList") or payload["message"]["toolCalls"]

    response = await post(client, payload)

    assert response.status_code == 200
    results = response.json()["results"]
    assert [(r["toolCallId"], r["name"]) for r in results] == [
        (c["id"], c.get("name") or c["function"]["name"]) for c in listed
    ]
    identified, started = (parsed(r) for r in results)
    assert identified["recognised"] is True
    assert started["code_sent"] is True
    for result in results:
        assert "\n" not in result["result"]


async def test_only_the_wrapped_list_is_read_when_it_is_the_only_one(
    client: httpx.AsyncClient,
) -> None:
    payload = fixture("vapi", "tool_calls.json")
    del payload["message"]["toolCallList"]

    response = await post(client, payload)

    assert [r["name"] for r in response.json()["results"]] == [
        "identify_caller",
        "start_verification",
    ]


async def test_a_replay_keeps_an_id_that_reads_as_a_card_number(
    client: httpx.AsyncClient,
) -> None:
    # Vapi's ids are random hex: now and then one holds a Luhn-valid run of 16 digits, which
    # the stored answer has masked.
    call = caller(client, KNOWN_NUMBER)
    payload = call.message([tool_call("identify_caller", {}, call_id="call_4111111111111111ab")])

    first = await call.post(payload)
    again = await call.post(payload)

    assert first.json()["results"][0]["toolCallId"] == "call_4111111111111111ab"
    assert again.json() == first.json()


async def test_a_replayed_tool_call_runs_once_and_gets_the_first_answer(
    client: httpx.AsyncClient, migrated_db: str, twilio: TwilioServer
) -> None:
    call = caller(client, KNOWN_NUMBER)
    await call.verify_by_sms(twilio)
    create = tool_call("create_case", {"case_type": "fraud", "summary": "Unknown payment"})
    payload = call.message([create])

    first = await call.post(payload)
    again = await call.post(payload)
    together = await asyncio.gather(*(call.post(payload) for _ in range(10)))

    assert first.status_code == 200
    assert {r.text for r in [again, *together]} == {first.text}
    assert execute(migrated_db, "SELECT count(*) FROM cc_cases")[0][0] == 1
    assert len(audit_rows(migrated_db, "tool.create_case")) == 1


async def test_the_same_tool_call_id_in_another_call_is_another_tool_call(
    client: httpx.AsyncClient, migrated_db: str
) -> None:
    shared = "call_Qx7tYb2mKf9LwVn3RsD8aP1c"
    known = caller(client, KNOWN_NUMBER)
    stranger = caller(client, UNKNOWN_NUMBER)

    mine = await known.post(known.message([tool_call("identify_caller", {}, shared)]))
    theirs = await stranger.post(stranger.message([tool_call("identify_caller", {}, shared)]))

    assert parsed(mine.json()["results"][0])["recognised"] is True
    assert parsed(theirs.json()["results"][0])["recognised"] is False


async def test_each_tool_call_appends_one_audit_record_as_the_assistant(
    client: httpx.AsyncClient, migrated_db: str
) -> None:
    call = caller(client, KNOWN_NUMBER)

    await call.use("identify_caller")

    ((actor_type, actor_id, version, success, error_code, audit_in, audit_out),) = audit_rows(
        migrated_db, "tool.identify_caller"
    )
    assert (actor_type, actor_id, version, success, error_code) == (
        "ai_agent",
        ASSISTANT_ID,
        1,
        True,
        None,
    )
    assert audit_in["assurance_level"] == 1
    assert audit_out["recognised"] is True


async def test_a_refused_tool_is_audited_with_its_error_code(
    client: httpx.AsyncClient, migrated_db: str
) -> None:
    call = caller(client, KNOWN_NUMBER)

    await call.use("list_cases")

    ((_, _, _, success, error_code, _, audit_out),) = audit_rows(migrated_db, "tool.list_cases")
    assert (success, error_code) == (False, "verification_required")
    assert audit_out["error"].startswith("verification_required:")


async def test_the_code_never_reaches_the_audit_trail_or_the_answers_kept(
    client: httpx.AsyncClient, migrated_db: str, twilio: TwilioServer
) -> None:
    call = caller(client, KNOWN_NUMBER)
    await call.use("start_verification", channel="sms")
    code = await call.code_sent(twilio)
    wrong = "000000" if code != "000000" else "111111"

    await call.use("check_verification", code=wrong)
    await call.use("check_verification", code=code)

    rows = audit_rows(migrated_db, "tool.check_verification")
    assert [(r[3], r[4]) for r in rows] == [(False, "wrong_code"), (True, None)]
    assert {r[5]["arguments"]["code"] for r in rows} == {"••••••"}
    everything = json.dumps(
        execute(migrated_db, "SELECT input_redacted, output_redacted FROM cc_audit_logs")
        + execute(migrated_db, "SELECT answer FROM cc_tool_calls")
        + execute(migrated_db, "SELECT body_text, body_json FROM cc_messages")
    )
    assert code not in everything
    assert wrong not in everything


@pytest.mark.parametrize(
    ("call", "error"),
    [
        (tool_call("open_the_vault", {}), "unknown_tool:"),
        (tool_call("create_case", {"case_type": "cards"}), "invalid_input:"),
        (tool_call("start_verification", {"channel": "pigeon"}), "invalid_input:"),
        (tool_call("identify_caller", {"as_admin": True}), "invalid_input:"),
        (
            {"id": "call_x", "type": "function",
             "function": {"name": "identify_caller", "arguments": "{not json"}},
            "invalid_input: the arguments are not valid JSON",
        ),
    ],
)  # fmt: skip
async def test_a_bad_tool_call_gets_an_error_answer_and_the_rest_still_run(
    client: httpx.AsyncClient, call: dict[str, Any], error: str
) -> None:
    known = caller(client, KNOWN_NUMBER)

    response = await known.post(known.message([call, tool_call("identify_caller", {})]))

    assert response.status_code == 200
    bad, good = response.json()["results"]
    assert bad["error"].startswith(error)
    assert "\n" not in bad["error"]
    assert parsed(good)["recognised"] is True


async def test_a_tool_call_without_an_id_is_refused_and_changes_nothing(
    client: httpx.AsyncClient, migrated_db: str
) -> None:
    known = caller(client, KNOWN_NUMBER)
    nameless = {"type": "function", "function": {"name": "identify_caller", "arguments": "{}"}}

    response = await known.post(known.message([nameless]))

    assert response.status_code == 422
    assert response.json()["error"] == "missing_field"
    assert execute(migrated_db, "SELECT count(*) FROM cc_tool_calls")[0][0] == 0


async def test_transfer_to_human_queues_the_conversation_with_its_deadline(
    client: httpx.AsyncClient, migrated_db: str
) -> None:
    call = caller(client, UNKNOWN_NUMBER)

    answer = await call.use(
        "transfer_to_human", queue="fraud", reason="Card 4111 1111 1111 1111 stolen"
    )

    assert answer["queue"] == "fraud"
    ((queue, reason, minutes),) = execute(
        migrated_db,
        "SELECT queue_name, reason, extract(epoch FROM sla_due_at - created_at) / 60"
        " FROM cc_assignments",
    )
    assert (queue, round(float(minutes))) == ("fraud", 5)
    assert reason == "Card •••• •••• •••• 1111 stolen"


async def test_vapi_tools_prints_every_tool_with_its_schema() -> None:
    from switchboard.tools.catalog import vapi_definitions  # noqa: PLC0415

    definitions = vapi_definitions("https://switchboard.bank.example/webhooks/vapi")

    assert [d["function"]["name"] for d in definitions] == [
        "identify_caller", "start_verification", "check_verification", "list_cases", "get_case",
        "create_case", "add_case_note", "transfer_to_human", "set_contact_preferences",
        "send_message",
    ]  # fmt: skip
    for definition in definitions:
        parameters = definition["function"]["parameters"]
        assert parameters["type"] == "object"
        assert "$ref" not in json.dumps(parameters)
        assert definition["server"]["url"].endswith("/webhooks/vapi")
