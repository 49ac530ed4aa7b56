"""What a language model may send by mistake (or by design) changes nothing it should not,
keeps no secret, and still gets an answer per call."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.builders import execute
from tests.providers.servers import TwilioServer
from tests.tools.conftest import (
    KNOWN_NUMBER,
    audit_rows,
    caller,
    end_call,
    parsed,
    report,
    said,
    say,
    shift_clock,
    tool_call,
)

pytestmark = pytest.mark.anyio


async def test_a_code_under_a_name_no_tool_has_is_not_kept(
    client: httpx.AsyncClient, migrated_db: str, twilio: TwilioServer
) -> None:
    call = caller(client, KNOWN_NUMBER)
    await call.use("start_verification", channel="sms")
    code = await call.code_sent(twilio)

    misnamed = await call.use("check_verification", otp=code)
    extra = await call.use("start_verification", channel="sms", code=code)

    assert misnamed["error"].startswith("invalid_input:")
    assert extra["error"].startswith("invalid_input:")
    inputs = [row[5]["arguments"] for row in audit_rows(migrated_db, "tool.check_verification")]
    assert inputs == [{"unexpected_arguments": ["otp"]}]
    assert code not in json.dumps(
        execute(migrated_db, "SELECT input_redacted, output_redacted FROM cc_audit_logs")
    )


async def test_a_nul_inside_string_arguments_is_a_bad_call_not_a_crash(
    client: httpx.AsyncClient, migrated_db: str
) -> None:
    call = caller(client, KNOWN_NUMBER)
    raw = {
        "id": "call_nul",
        "type": "function",
        "function": {
            "name": "transfer_to_human",
            "arguments": '{"queue": "general", "reason": "a\\u0000b"}',
        },
    }

    response = await call.post(call.message([raw]))

    (answer,) = response.json()["results"]
    assert answer["error"].startswith("invalid_input: the arguments hold a NUL")
    assert execute(migrated_db, "SELECT count(*) FROM cc_assignments")[0][0] == 0
    assert len(audit_rows(migrated_db, "tool.transfer_to_human")) == 1


async def test_a_call_without_a_name_is_answered_and_the_others_run(
    client: httpx.AsyncClient,
) -> None:
    call = caller(client, KNOWN_NUMBER)
    nameless = {"id": "call_nameless ", "type": "function", "function": {"arguments": "{}"}}

    response = await call.post(call.message([nameless, tool_call("identify_caller", {})]))

    assert response.status_code == 200
    first, second = response.json()["results"]
    assert first["toolCallId"] == "call_nameless "  # echoed exactly, blank included
    assert first["error"].startswith("invalid_input: the tool call names no function")
    assert parsed(second)["recognised"] is True


async def test_a_time_zone_folder_is_not_a_time_zone(
    client: httpx.AsyncClient, twilio: TwilioServer
) -> None:
    call = caller(client, KNOWN_NUMBER)
    await call.verify_by_sms(twilio)

    answer = await call.use("set_contact_preferences", timezone="Europe")

    assert answer["error"].startswith("invalid_input:")


async def test_card_numbers_in_a_case_summary_are_masked_everywhere(
    client: httpx.AsyncClient, migrated_db: str, twilio: TwilioServer
) -> None:
    call = caller(client, KNOWN_NUMBER)
    await call.verify_by_sms(twilio)

    created = await call.use(
        "create_case", case_type="fraud", summary="Card 4111 1111 1111 1111 was stolen"
    )
    listed = await call.use("list_cases")

    assert created["case"]["summary"] == "Card •••• •••• •••• 1111 was stolen"
    assert listed["cases"][0]["summary"] == "Card •••• •••• •••• 1111 was stolen"
    everything = json.dumps(
        execute(migrated_db, "SELECT summary FROM cc_cases")
        + execute(migrated_db, "SELECT answer FROM cc_tool_calls")
    )
    assert "4111 1111 1111 1111" not in everything


async def test_ids_are_kept_and_audited_exactly_as_sent_while_text_is_masked(
    client: httpx.AsyncClient, migrated_db: str, twilio: TwilioServer
) -> None:
    # Ids whose digits read as a card: each must match its call and its audit record.
    call = caller(client, KNOWN_NUMBER, call_id="call-4111.1111.1111.1111")
    await call.verify_by_sms(twilio)
    asked = tool_call(
        "create_case",
        {"case_type": "fraud", "summary": "Card 4111.1111.1111.1111 was stolen"},
        call_id="call_4111111111111111",
    )

    (answer,) = (await call.post(call.message([asked]))).json()["results"]

    assert answer["toolCallId"] == "call_4111111111111111"
    assert parsed(answer)["case"]["summary"] == "Card ••••.••••.••••.1111 was stolen"
    assert execute(
        migrated_db,
        "SELECT call_id, tool_call_id, answer->>'toolCallId', answer->>'result' LIKE"
        " '%••••.••••.••••.1111%' FROM cc_tool_calls WHERE tool_name = 'create_case'",
    ) == [("call-4111.1111.1111.1111", "call_4111111111111111", "call_4111111111111111", True)]
    assert execute(
        migrated_db,
        "SELECT input_redacted->>'call_id', input_redacted->>'tool_call_id' FROM cc_audit_logs"
        " WHERE event_type = 'tool.create_case'",
    ) == [("call-4111.1111.1111.1111", "call_4111111111111111")]
    assert "4111.1111.1111.1111 was" not in json.dumps(
        execute(migrated_db, "SELECT to_jsonb(a) FROM cc_audit_logs AS a")
        + execute(migrated_db, "SELECT answer FROM cc_tool_calls")
    )


@pytest.mark.parametrize("call_type", ["webCall", "sipCall", 7, None, "absent"])
async def test_a_call_that_is_not_a_phone_call_is_not_recognised_by_the_number_it_claims(
    client: httpx.AsyncClient, call_type: object
) -> None:
    call = caller(client, KNOWN_NUMBER)
    payload = call.message([tool_call("identify_caller", {})])
    if call_type == "absent":
        del payload["message"]["call"]["type"]
    else:
        payload["message"]["call"]["type"] = call_type

    response = await call.post(payload)

    answer = parsed(response.json()["results"][0])
    assert (answer["recognised"], answer["assurance_level"]) == (False, 0)


async def test_a_code_in_other_digits_does_not_spend_a_try(
    client: httpx.AsyncClient, migrated_db: str, twilio: TwilioServer
) -> None:
    call = caller(client, KNOWN_NUMBER)
    await call.use("start_verification", channel="sms")

    answer = await call.use("check_verification", code="٤٥٦٧٨٩")

    assert answer["error"].startswith("invalid_input:")
    assert execute(migrated_db, "SELECT check_attempts FROM cc_auth_sessions") == [(0,)]


async def test_a_tool_that_fails_unexpectedly_is_answered_audited_and_keeps_nothing(
    client: httpx.AsyncClient, migrated_db: str
) -> None:
    app = client._transport.app  # type: ignore[attr-defined]

    async def broken_sender(*_: Any, **__: Any) -> bool:
        raise RuntimeError("the queue is unreachable")

    app.state.tool_services = dataclasses.replace(app.state.tool_services, send_code=broken_sender)
    call = caller(client, KNOWN_NUMBER)

    answer = await call.use("start_verification", channel="sms")

    assert answer["error"].startswith("internal_error:")
    assert [(r[3], r[4]) for r in audit_rows(migrated_db, "tool.start_verification")] == [
        (False, "internal_error")
    ]
    assert execute(migrated_db, "SELECT count(*) FROM cc_auth_sessions")[0][0] == 0
    assert execute(migrated_db, "SELECT count(*) FROM cc_tool_calls")[0][0] == 0
    assert uuid.UUID(str(execute(migrated_db, "SELECT id FROM cc_audit_logs LIMIT 1")[0][0]))


DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


@pytest.mark.parametrize("as_words", [False, True], ids=["digits", "words"])
async def test_a_code_read_out_rests_masked_in_the_transcript(
    client: httpx.AsyncClient, migrated_db: str, twilio: TwilioServer, as_words: bool
) -> None:
    call = caller(client, KNOWN_NUMBER)
    await call.use("start_verification", channel="sms")
    code = await call.code_sent(twilio)
    # Speech to text writes a code read out as digits or, now and then, as words.
    spoken = " ".join(DIGIT_WORDS[int(digit)] if as_words else digit for digit in code)

    await say(call, f"Yes, it's {spoken}", 1)
    await call.use("check_verification", code=code)
    await say(call, "My card ends 4242 and I was charged 1250 pounds", 2)

    assert said(migrated_db) == [
        "Yes, it's " + " ".join("•" * len(code)),
        # Not a code of the call: kept as said once no code is waiting.
        "My card ends 4242 and I was charged 1250 pounds",
    ]


async def test_a_code_said_after_it_was_verified_rests_masked(
    client: httpx.AsyncClient, migrated_db: str, twilio: TwilioServer
) -> None:
    call = caller(client, KNOWN_NUMBER)
    await call.use("start_verification", channel="sms")
    code = await call.code_sent(twilio)
    assert (await call.use("check_verification", code=code))["verified"] is True

    await say(call, f"It was {code}, and before that {' '.join(code)}, right?", 1)
    await say(call, f"Sorry: {' '.join(DIGIT_WORDS[int(digit)] for digit in code)}", 2)
    await say(call, "My card ends 4242 and I was charged 1250 pounds", 3)

    dots = " ".join("•" * len(code))
    assert said(migrated_db) == [
        f"It was {'•' * len(code)}, and before that {dots}, right?",
        f"Sorry: {dots}",
        # Other numbers are not a code of the call: kept as said once no code is waiting.
        "My card ends 4242 and I was charged 1250 pounds",
    ]


async def test_a_code_said_after_it_expired_rests_masked(
    client: httpx.AsyncClient, migrated_db: str, twilio: TwilioServer
) -> None:
    call = caller(client, KNOWN_NUMBER)
    await call.use("start_verification", channel="sms")
    code = await call.code_sent(twilio)
    shift_clock(client, timedelta(minutes=11))
    assert (await call.use("check_verification", code=code))["error"].startswith("otp_expired")
    assert execute(migrated_db, "SELECT status FROM cc_auth_sessions") == [("expired",)]

    await say(call, f"But the code is {code}", 1)

    assert said(migrated_db) == [f"But the code is {'•' * len(code)}"]


@pytest.mark.parametrize(
    "status", ["created", "sent", "verified", "failed", "expired", "cancelled"]
)
async def test_the_calls_codes_rest_masked_in_its_end_of_call_report_whatever_their_state(
    client: httpx.AsyncClient, migrated_db: str, twilio: TwilioServer, status: str
) -> None:
    call = caller(client, KNOWN_NUMBER)
    await call.use("start_verification", channel="sms")
    code = await call.code_sent(twilio)
    # Past its expiry too, so that no code could be being read out when the report lands.
    execute(
        migrated_db,
        "UPDATE cc_auth_sessions SET status = %s, expires_at = now() - interval '1 minute'",
        (status,),
    )

    await end_call(
        call,
        transcript=f"AI: Please read the code.\nUser: {' '.join(code)}.\nUser: I paid 1250.\n",
        summary=f"The caller read out the code {code} and asked about a 1250 pound payment.",
    )

    summary = (
        f"The caller read out the code {'•' * len(code)} and asked about a 1250 pound payment."
    )
    assert report(migrated_db) == (
        summary,
        summary,
        f"AI: Please read the code.\nUser: {' '.join('•' * len(code))}.\nUser: I paid 1250.\n",
    )
    assert code not in json.dumps(execute(migrated_db, "SELECT to_jsonb(m) FROM cc_messages AS m"))
