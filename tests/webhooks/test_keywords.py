"""STOP and START texted to us change the sender's preferences for that channel, in the
transaction that stores the message, audited as the customer's own change."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from switchboard.preferences import service as preferences
from tests.builders import execute
from tests.webhooks.conftest import fixture, twilio_post_args

pytestmark = pytest.mark.anyio
INBOUND = "/webhooks/twilio/messages"


def db_url(client: httpx.AsyncClient) -> str:
    return str(client._transport.app.state.pool.conninfo)  # type: ignore[attr-defined]


async def text(client: httpx.AsyncClient, body: str, n: int, **fields: str) -> None:
    params = {**fixture("twilio", "inbound_sms.json"), "Body": body, "MessageSid": f"SM{n:032d}"}
    response = await client.post(INBOUND, **twilio_post_args(INBOUND, params | fields))
    assert response.status_code == 200, response.text


def allowed_channels(url: str) -> Any:
    rows = execute(url, "SELECT allowed_channels FROM cc_comm_preferences")
    return sorted(rows[0][0]) if rows and rows[0][0] is not None else rows


async def test_stop_takes_sms_away_and_start_gives_it_back(client: httpx.AsyncClient) -> None:
    url = db_url(client)

    await text(client, "STOP", 1)
    assert allowed_channels(url) == ["email", "voice", "whatsapp"]
    await text(client, "start", 2)
    assert allowed_channels(url) == ["email", "sms", "voice", "whatsapp"]

    audits = execute(
        url,
        "SELECT actor_type, input_redacted->>'keyword', bank_customer_id IS NOT NULL"
        " FROM cc_audit_logs WHERE event_type = 'preferences.updated' ORDER BY created_at",
    )
    assert audits == [("customer", "STOP", True), ("customer", "START", True)]
    # The keywords are messages of the conversation like any other.
    assert execute(url, "SELECT count(*) FROM cc_messages")[0][0] == 2


@pytest.mark.parametrize(
    "body",
    ["unsubscribe", "Cancel", "END", "quit.", "stop ", "REVOKE", "opt out", "OPTOUT", "StopAll"],
)
async def test_every_opt_out_word_opts_out(client: httpx.AsyncClient, body: str) -> None:
    await text(client, body, 1)

    assert allowed_channels(db_url(client)) == ["email", "voice", "whatsapp"]


async def test_a_sentence_with_stop_in_it_changes_nothing(client: httpx.AsyncClient) -> None:
    await text(client, "Please stop the payment to ACME", 1)

    assert execute(db_url(client), "SELECT count(*) FROM cc_comm_preferences")[0][0] == 0


async def test_a_redelivered_stop_is_applied_once(client: httpx.AsyncClient) -> None:
    await text(client, "STOP", 1)
    await text(client, "STOP", 1)

    assert execute(
        db_url(client),
        "SELECT count(*) FROM cc_audit_logs WHERE event_type = 'preferences.updated'",
    ) == [(1,)]


async def test_stop_from_an_unlinked_number_is_recorded_but_changes_nothing(
    client: httpx.AsyncClient,
) -> None:
    url = db_url(client)

    await text(client, "STOP", 1, From="+447700900444")

    assert execute(url, "SELECT count(*) FROM cc_comm_preferences")[0][0] == 0
    assert execute(
        url,
        "SELECT success, error_code, input_redacted->>'keyword' FROM cc_audit_logs"
        " WHERE event_type = 'preferences.keyword_not_applied'",
    ) == [(False, "sender_not_linked", "STOP")]


async def test_stop_is_applied_even_beside_a_channel_value_switchboard_does_not_know(
    client: httpx.AsyncClient,
) -> None:
    url = db_url(client)
    execute(
        url,
        "INSERT INTO cc_comm_preferences (bank_customer_id, allowed_channels)"
        ' SELECT bank_customer_id, \'["sms", "push"]\' FROM cc_identity_links'
        " WHERE address = '+447700900001'",
    )

    await text(client, "STOP", 1)

    assert allowed_channels(url) == []


async def test_yes_opts_back_in_only_where_the_channel_is_off(client: httpx.AsyncClient) -> None:
    url = db_url(client)

    await text(client, "Yes", 1)  # an answer: nothing is off, nothing changes
    assert execute(url, "SELECT count(*) FROM cc_comm_preferences")[0][0] == 0
    await text(client, "STOP", 2)
    await text(client, "yes", 3)

    assert allowed_channels(url) == ["email", "sms", "voice", "whatsapp"]
    assert execute(
        url,
        "SELECT input_redacted->>'keyword' FROM cc_audit_logs"
        " WHERE event_type = 'preferences.updated' ORDER BY created_at",
    ) == [("STOP",), ("YES",)]


async def test_a_request_in_words_is_flagged_on_its_conversation_not_applied(
    client: httpx.AsyncClient,
) -> None:
    url = db_url(client)

    await text(client, "please stop texting me", 1)

    assert execute(url, "SELECT count(*) FROM cc_comm_preferences")[0][0] == 0
    [(conversation_id, message_id)] = execute(url, "SELECT conversation_id, id FROM cc_messages")
    async with client._transport.app.state.pool.connection() as conn:  # type: ignore[attr-defined]
        [flag] = await preferences.possible_revocations(conn, conversation_id)
    assert (flag.message_id, flag.channel, flag.phrase) == (message_id, "sms", "stop texting")
    assert flag.bank_customer_id is not None
    assert execute(
        url,
        "SELECT actor_type, success, input_redacted->>'phrase', output_redacted->>'flag_id'"
        " FROM cc_audit_logs WHERE event_type = 'preferences.possible_revocation'",
    ) == [("customer", True, "stop texting", str(flag.id))]


async def test_a_redelivered_request_in_words_is_flagged_once(client: httpx.AsyncClient) -> None:
    await text(client, "unsubscribe me please", 1)
    await text(client, "unsubscribe me please", 1)

    assert execute(db_url(client), "SELECT count(*) FROM cc_possible_revocations") == [(1,)]


@pytest.mark.parametrize(
    "body", ["don't stop helping me", "Please stop the payment to ACME", "STOP"]
)
async def test_other_texts_flag_nothing(client: httpx.AsyncClient, body: str) -> None:
    await text(client, body, 1)

    assert execute(db_url(client), "SELECT count(*) FROM cc_possible_revocations") == [(0,)]
