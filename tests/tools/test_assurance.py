"""Each tool at each assurance level: what an unknown caller, a recognised number and a
verified caller may do. The level comes from Switchboard's records, never from the model."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta
from typing import Any

import httpx
import pytest

from tests.builders import execute, link_customer
from tests.providers.servers import SendGridServer, TwilioServer
from tests.tools.conftest import (
    KNOWN_EMAIL,
    KNOWN_NUMBER,
    UNKNOWN_NUMBER,
    caller,
    shift_clock,
)

pytestmark = pytest.mark.anyio

# Each tool with arguments that would succeed for a verified caller.
NEEDS_VERIFIED: dict[str, dict[str, Any]] = {
    "list_cases": {},
    "get_case": {"case_id": "<case>"},
    "create_case": {"case_type": "cards", "summary": "Card lost on the bus this morning"},
    "add_case_note": {"case_id": "<case>", "note": "Customer confirms the card is gone"},
    "set_contact_preferences": {"timezone": "Europe/Paris"},
    "send_message": {"channel": "sms", "text": "Your replacement card is on its way."},
}


def _with_case(arguments: dict[str, Any], case_id: str) -> dict[str, Any]:
    return {k: case_id if v == "<case>" else v for k, v in arguments.items()}


def _existing_case(url: str, customer: uuid.UUID) -> str:
    case_id = uuid.uuid4()
    execute(
        url,
        "INSERT INTO cc_cases (id, bank_customer_id, case_type, status, priority, summary)"
        " VALUES (%s, %s, 'cards', 'new', 'normal', 'Card declined abroad')",
        (case_id, customer),
    )
    return str(case_id)


async def test_level_0_an_unknown_number_is_told_nothing_and_offered_a_person(
    client: httpx.AsyncClient, migrated_db: str, customer: uuid.UUID
) -> None:
    call = caller(client, UNKNOWN_NUMBER)
    case_id = _existing_case(migrated_db, customer)

    identified = await call.use("identify_caller")
    assert identified["recognised"] is False
    assert identified["assurance_level"] == 0
    assert "transfer_to_human" in identified["next_step"]
    for name in ("start_verification", "check_verification"):
        arguments = {"channel": "sms"} if name == "start_verification" else {"code": "123456"}
        answer = await call.use(name, **arguments)
        assert answer["error"].startswith("customer_not_recognised:"), answer
    for name, arguments in NEEDS_VERIFIED.items():
        answer = await call.use(name, **_with_case(arguments, case_id))
        assert answer["error"].startswith("customer_not_recognised:"), (name, answer)
    transferred = await call.use("transfer_to_human", queue="general", reason="Unknown caller")
    assert transferred["queued"] is True


async def test_level_1_a_linked_number_may_verify_but_reads_and_changes_nothing(
    client: httpx.AsyncClient, migrated_db: str, customer: uuid.UUID, twilio: TwilioServer
) -> None:
    call = caller(client, KNOWN_NUMBER)
    case_id = _existing_case(migrated_db, customer)

    identified = await call.use("identify_caller")
    assert identified == {
        "recognised": True,
        "assurance_level": 1,
        "verified": False,
        "verification_options": [
            {"channel": "sms", "destination": "+44••••••0001"},
            {"channel": "email", "destination": "a•••@example.com"},
        ],
    }
    for name, arguments in NEEDS_VERIFIED.items():
        answer = await call.use(name, **_with_case(arguments, case_id))
        error = answer["error"]
        assert error.startswith("verification_required:"), (name, answer)
        assert "start_verification" in error  # tells the assistant to verify first
    assert execute(migrated_db, "SELECT count(*) FROM cc_cases")[0][0] == 1
    assert execute(migrated_db, "SELECT count(*) FROM cc_case_notes")[0][0] == 0
    assert execute(migrated_db, "SELECT count(*) FROM cc_comm_preferences")[0][0] == 0
    assert (
        execute(migrated_db, "SELECT count(*) FROM cc_messages WHERE direction = 'outbound'")[0][0]
        == 0
    )
    transferred = await call.use("transfer_to_human", queue="cards", reason="Wants a person")
    assert transferred["queued"] is True


async def test_level_2_a_verified_caller_may_use_every_tool(
    client: httpx.AsyncClient, migrated_db: str, customer: uuid.UUID, twilio: TwilioServer
) -> None:
    call = caller(client, KNOWN_NUMBER)
    case_id = _existing_case(migrated_db, customer)

    checked = await call.verify_by_sms(twilio)

    assert checked == {"verified": True, "assurance_level": 2, "attempts_left": 4}
    assert (await call.use("identify_caller"))["verified"] is True
    for name, arguments in NEEDS_VERIFIED.items():
        answer = await call.use(name, **_with_case(arguments, case_id))
        assert "error" not in answer, (name, answer)
    listed = await call.use("list_cases")
    assert {case["case_type"] for case in listed["cases"]} == {"cards"}
    assert len(listed["cases"]) == 2  # the existing one and the one just created
    assert (await call.use("get_case", case_id=case_id))["case"]["notes"] == 1
    assert execute(
        migrated_db,
        "SELECT timezone FROM cc_comm_preferences WHERE bank_customer_id = %s",
        (customer,),
    ) == [("Europe/Paris",)]


async def test_level_2_lapses_after_15_minutes(
    client: httpx.AsyncClient, customer: uuid.UUID, twilio: TwilioServer
) -> None:
    call = caller(client, KNOWN_NUMBER)
    await call.verify_by_sms(twilio)

    shift_clock(client, timedelta(minutes=14))
    assert "cases" in await call.use("list_cases")
    shift_clock(client, timedelta(minutes=16))
    answer = await call.use("list_cases")
    assert answer["error"].startswith("verification_required:")
    assert (await call.use("identify_caller"))["assurance_level"] == 1


async def test_a_code_verified_in_one_call_does_not_verify_the_next(
    client: httpx.AsyncClient, customer: uuid.UUID, twilio: TwilioServer
) -> None:
    first = caller(client, KNOWN_NUMBER)
    await first.verify_by_sms(twilio)

    second = caller(client, KNOWN_NUMBER)

    assert (await second.use("identify_caller"))["assurance_level"] == 1
    assert (await second.use("list_cases"))["error"].startswith("verification_required:")


async def test_an_emailed_code_does_not_reach_level_2_by_default(
    client: httpx.AsyncClient, customer: uuid.UUID, sendgrid: SendGridServer
) -> None:
    call = caller(client, KNOWN_NUMBER)
    started = await call.use("start_verification", channel="email")
    assert started["destination"] == "a•••@example.com"
    code = await call.code_sent_by_email(sendgrid, KNOWN_EMAIL)

    checked = await call.use("check_verification", code=code)

    assert checked["verified"] is True
    assert checked["assurance_level"] == 1
    assert (await call.use("list_cases"))["error"].startswith("verification_required:")


async def test_an_emailed_code_reaches_level_2_where_the_bank_allows_it(
    client: httpx.AsyncClient, customer: uuid.UUID, sendgrid: SendGridServer
) -> None:
    app = client._transport.app  # type: ignore[attr-defined]
    services = app.state.tool_services
    allowing = services.settings.model_copy(update={"email_otp_level_2": True})
    app.state.tool_services = dataclasses.replace(services, settings=allowing)
    call = caller(client, KNOWN_NUMBER)
    await call.use("start_verification", channel="email")
    code = await call.code_sent_by_email(sendgrid, KNOWN_EMAIL)

    checked = await call.use("check_verification", code=code)

    assert checked["assurance_level"] == 2
    assert (await call.use("identify_caller"))["assurance_level"] == 2
    assert "error" not in await call.use("list_cases")


async def test_a_code_verified_for_another_customer_in_the_call_does_not_count(
    client: httpx.AsyncClient, migrated_db: str, customer: uuid.UUID
) -> None:
    stranger = link_customer(migrated_db, phone="+447700900777", email="eve@example.com")
    call = caller(client, KNOWN_NUMBER)
    assert (await call.use("identify_caller"))["assurance_level"] == 1
    # A verified code of this very conversation, but someone else's.
    execute(
        migrated_db,
        "INSERT INTO cc_auth_sessions (bank_customer_id, conversation_id, status, channel,"
        " verified_at, expires_at)"
        " SELECT %s, id, 'verified', 'sms', now(), now() + interval '10 minutes'"
        " FROM cc_conversations WHERE provider_conversation_id = %s",
        (stranger, call.call_id),
    )

    assert (await call.use("identify_caller"))["assurance_level"] == 1
    assert (await call.use("list_cases"))["error"].startswith("verification_required:")


async def test_another_customers_case_is_answered_as_missing(
    client: httpx.AsyncClient, migrated_db: str, customer: uuid.UUID, twilio: TwilioServer
) -> None:
    stranger = link_customer(migrated_db, phone="+447700900777", email="eve@example.com")
    theirs = _existing_case(migrated_db, stranger)
    call = caller(client, KNOWN_NUMBER)
    await call.verify_by_sms(twilio)

    got = await call.use("get_case", case_id=theirs)
    noted = await call.use("add_case_note", case_id=theirs, note="hello")

    assert got["error"].startswith("case_not_found:")
    assert noted["error"].startswith("case_not_found:")
    assert execute(migrated_db, "SELECT count(*) FROM cc_case_notes")[0][0] == 0
