"""Twilio inbound messages and status callbacks over HTTP, signed with the twilio package."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from twilio.request_validator import RequestValidator

from switchboard.app import create_app
from switchboard.settings import Settings
from tests.builders import execute
from tests.conftest import service_url
from tests.webhooks.conftest import PUBLIC_URL, TWILIO_TOKEN, fixture, running, twilio_post_args

pytestmark = pytest.mark.anyio
INBOUND = "/webhooks/twilio/messages"
STATUS = "/webhooks/twilio/status"
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def db_url(client: httpx.AsyncClient) -> str:
    return str(client._transport.app.state.pool.conninfo)  # type: ignore[attr-defined]


async def post(client: httpx.AsyncClient, path: str, params: dict[str, str]) -> httpx.Response:
    return await client.post(path, **twilio_post_args(path, params))


async def test_an_inbound_sms_becomes_a_message_in_an_open_conversation(
    client: httpx.AsyncClient,
) -> None:
    payload = fixture("twilio", "inbound_sms.json")

    response = await post(client, INBOUND, payload)

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert "<Response" in response.text
    url = db_url(client)
    rows = execute(
        url,
        "SELECT m.provider, m.from_address, m.to_address, m.body_text, m.status,"
        " m.body_json->>'NumSegments', c.channel, c.status, c.provider,"
        " c.provider_conversation_id, c.bank_customer_id IS NOT NULL"
        " FROM cc_messages AS m JOIN cc_conversations AS c"
        " ON c.id = m.conversation_id WHERE m.provider_message_id = %s",
        (payload["MessageSid"],),
    )
    assert rows == [
        (
            "twilio",
            "+447700900001",
            "+447700900999",
            payload["Body"],
            "received",
            "1",
            "sms",
            "open",
            "twilio",
            "+447700900001|+447700900999",
            True,
        )
    ]
    audit = execute(
        url,
        "SELECT actor_type, actor_id, event_type, event_version, success,"
        " input_redacted->>'provider_message_id' FROM cc_audit_logs"
        " WHERE event_type = 'message.received'",
    )
    assert audit == [("provider", "twilio", "message.received", 1, True, payload["MessageSid"])]


async def test_an_unknown_sender_is_stored_without_a_customer(client: httpx.AsyncClient) -> None:
    payload = {
        **fixture("twilio", "inbound_sms.json"),
        "From": "07700 900555",
        "MessageSid": "SM" + "5" * 32,
    }

    assert (await post(client, INBOUND, payload)).status_code == 200

    rows = execute(
        db_url(client),
        "SELECT m.from_address, c.bank_customer_id FROM cc_messages m"
        " JOIN cc_conversations c ON c.id = m.conversation_id"
        " WHERE m.provider_message_id = %s",
        (payload["MessageSid"],),
    )
    assert rows == [("+447700900555", None)]


async def test_a_whatsapp_message_keeps_its_media_and_channel(client: httpx.AsyncClient) -> None:
    payload = fixture("twilio", "inbound_whatsapp_media.json")

    assert (await post(client, INBOUND, payload)).status_code == 200

    rows = execute(
        db_url(client),
        "SELECT c.channel, m.from_address, m.body_json->'media'->0->>"
        "'content_type', m.body_json->>'ProfileName' FROM cc_messages m"
        " JOIN cc_conversations c ON c.id = m.conversation_id",
    )
    assert rows == [("whatsapp", "+447700900002", "image/jpeg", "Grace")]


async def test_card_numbers_are_masked_before_they_are_stored(client: httpx.AsyncClient) -> None:
    payload = {
        **fixture("twilio", "inbound_sms.json"),
        "Body": "my card 4111 1111 1111 1111 and 5500-0000-0000-0004, ref 1234567890123",
    }

    assert (await post(client, INBOUND, payload)).status_code == 200

    (body,) = execute(db_url(client), "SELECT body_text FROM cc_messages")[0]
    assert body == "my card •••• •••• •••• 1111 and ••••-••••-••••-0004, ref 1234567890123"
    everything = execute(
        db_url(client), "SELECT string_agg(to_jsonb(a)::text, '') FROM cc_audit_logs a"
    )[0][0]
    assert "4111 1111" not in everything


async def test_messages_from_one_sender_share_a_conversation_until_it_closes(
    client: httpx.AsyncClient,
) -> None:
    base = fixture("twilio", "inbound_sms.json")
    url = db_url(client)
    for n in range(2):
        await post(client, INBOUND, {**base, "MessageSid": f"SM{n:032d}"})
    execute(url, "UPDATE cc_conversations SET status = 'closed'")
    await post(client, INBOUND, {**base, "MessageSid": f"SM{9:032d}"})

    conversations = execute(
        url,
        "SELECT c.status, count(m.id) FROM cc_conversations c"
        " JOIN cc_messages m ON m.conversation_id = c.id"
        " GROUP BY c.id, c.status ORDER BY 1",
    )
    assert conversations == [("closed", 2), ("open", 1)]


async def test_a_bad_signature_is_refused_audited_and_stores_nothing(
    client: httpx.AsyncClient,
) -> None:
    payload = fixture("twilio", "inbound_sms.json")
    args = twilio_post_args(INBOUND, payload, token="not-the-token")  # noqa: S106

    response = await client.post(INBOUND, **args)

    assert response.status_code == 403
    assert response.json()["error"] == "invalid_signature"
    url = db_url(client)
    assert execute(url, "SELECT count(*) FROM cc_messages") == [(0,)]
    assert execute(
        url, "SELECT event_type, success, error_code FROM cc_audit_logs WHERE actor_id = 'twilio'"
    ) == [("webhook.rejected", False, "invalid_signature")]


async def test_a_signature_over_a_different_url_is_refused(client: httpx.AsyncClient) -> None:
    payload = fixture("twilio", "inbound_sms.json")
    args = twilio_post_args("/webhooks/twilio/status", payload)

    response = await client.post(INBOUND, **args)

    assert response.status_code == 403


async def test_a_query_string_that_is_not_utf8_is_a_signature_mismatch(
    client: httpx.AsyncClient,
) -> None:
    # No HTTP client here sends such bytes; a server may pass them on as they came.
    app = client._transport.app  # type: ignore[attr-defined]
    body = urlencode(fixture("twilio", "inbound_sms.json")).encode()
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "https",
        "path": INBOUND,
        "raw_path": INBOUND.encode() + b"?x=\xff",
        "query_string": b"x=\xff",
        "root_path": "",
        "headers": [
            (b"host", b"switchboard.bank.example"),
            (b"content-type", b"application/x-www-form-urlencoded"),
            (b"content-length", str(len(body)).encode()),
            (b"x-twilio-signature", b"AAAA"),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("switchboard.bank.example", 443),
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)

    assert sent[0]["status"] == 403
    assert b"invalid_signature" in sent[1]["body"]


async def test_a_signature_over_the_url_with_its_default_port_is_accepted(
    client: httpx.AsyncClient,
) -> None:
    # Twilio is inconsistent about ports; RequestValidator accepts either form of the URL.
    payload = fixture("twilio", "inbound_sms.json")
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(
        PUBLIC_URL.replace(".example", ".example:443") + INBOUND, payload
    )

    response = await client.post(
        INBOUND,
        content=urlencode(payload),
        headers={**FORM, "X-Twilio-Signature": signature},
    )

    assert response.status_code == 200
    assert execute(db_url(client), "SELECT count(*) FROM cc_messages") == [(1,)]


async def test_every_value_of_a_repeated_field_is_signed(client: httpx.AsyncClient) -> None:
    pairs = [*fixture("twilio", "inbound_sms.json").items(), ("Extra", "a"), ("Extra", "b")]
    signed = {"Extra": ["a", "b"], **{name: [value] for name, value in pairs[:-2]}}
    url = PUBLIC_URL + INBOUND
    # The signature Twilio makes: the URL, then each name with each of its values, sorted.
    text = url + "".join(name + value for name in sorted(signed) for value in sorted(signed[name]))
    digest = hmac.new(TWILIO_TOKEN.encode(), text.encode(), hashlib.sha1).digest()
    signature = base64.b64encode(digest).decode()
    tampered = [*pairs[:-1], ("Extra", "c")]

    accepted = await client.post(
        INBOUND, content=urlencode(pairs), headers={**FORM, "X-Twilio-Signature": signature}
    )
    refused = await client.post(
        INBOUND, content=urlencode(tampered), headers={**FORM, "X-Twilio-Signature": signature}
    )

    assert (accepted.status_code, refused.status_code) == (200, 403)


async def test_a_status_moves_forward_only(client: httpx.AsyncClient) -> None:
    url = db_url(client)
    sid = fixture("twilio", "status_delivered.json")["MessageSid"]
    await post(client, INBOUND, {**fixture("twilio", "inbound_sms.json"), "MessageSid": sid})
    execute(url, "UPDATE cc_messages SET direction = 'outbound', status = 'sent'")
    delivered = fixture("twilio", "status_delivered.json")

    first = await post(client, STATUS, delivered)
    late = await post(client, STATUS, {**delivered, "MessageStatus": "sent", "SmsStatus": "sent"})
    again = await post(client, STATUS, delivered)

    assert [r.status_code for r in (first, late, again)] == [200, 200, 200]
    assert execute(url, "SELECT status, provider_status FROM cc_messages") == [
        ("delivered", "delivered")
    ]
    outcomes = execute(
        url,
        "SELECT output_redacted->>'outcome' FROM cc_audit_logs"
        " WHERE event_type = 'message.status' ORDER BY created_at",
    )
    assert outcomes == [("applied",), ("stale",)]  # the repeat wrote nothing


async def test_a_failed_delivery_keeps_the_provider_error(client: httpx.AsyncClient) -> None:
    url = db_url(client)
    failed = fixture("twilio", "status_undelivered.json")
    await post(
        client,
        INBOUND,
        {**fixture("twilio", "inbound_sms.json"), "MessageSid": failed["MessageSid"]},
    )
    execute(url, "UPDATE cc_messages SET direction = 'outbound', status = 'sent'")

    assert (await post(client, STATUS, failed)).status_code == 200

    assert execute(url, "SELECT status, provider_status, error_code FROM cc_messages") == [
        ("failed", "undelivered", "30003")
    ]


async def test_a_status_for_an_unknown_message_is_audited_and_acknowledged(
    client: httpx.AsyncClient,
) -> None:
    response = await post(client, STATUS, fixture("twilio", "status_delivered.json"))

    assert response.status_code == 200
    assert execute(
        db_url(client),
        "SELECT success, error_code FROM cc_audit_logs WHERE event_type = 'message.status'",
    ) == [(False, "unknown_message")]


@pytest.mark.parametrize(
    ("content", "headers", "status", "error"),
    [
        (
            "MessageSid=SM1&From=%2B447700900001&To=%2B447700900999&Body=hi",
            {"Content-Type": "application/json"},
            415,
            "unsupported_media_type",
        ),
        ("%%%=&&=", {"Content-Type": "application/x-www-form-urlencoded"}, 400, "malformed_body"),
        (
            b"Body=\xff\xfe",
            {"Content-Type": "application/x-www-form-urlencoded"},
            400,
            "malformed_body",
        ),
        (
            "x" * 1_048_577,
            {"Content-Type": "application/x-www-form-urlencoded"},
            413,
            "payload_too_large",
        ),
        (  # far more than Twilio ever posts: refused before a forged form is parsed
            "&".join(f"F{n}=v" for n in range(20_000)),
            {"Content-Type": "application/x-www-form-urlencoded"},
            413,
            "payload_too_large",
        ),
        (
            "MessageSid=SM1&From=%2B447700900001&To=%2B447700900999&Body=a%00b",
            {"Content-Type": "application/x-www-form-urlencoded"},
            400,
            "malformed_body",
        ),
    ],
)
async def test_a_malformed_delivery_gets_a_clear_4xx_and_changes_nothing(
    client: httpx.AsyncClient, content: Any, headers: dict[str, str], status: int, error: str
) -> None:
    response = await client.post(INBOUND, content=content, headers=headers)

    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["detail"]
    assert execute(db_url(client), "SELECT count(*) FROM cc_messages") == [(0,)]


async def test_a_signed_delivery_missing_a_field_is_refused(client: httpx.AsyncClient) -> None:
    payload = {k: v for k, v in fixture("twilio", "inbound_sms.json").items() if k not in {"From"}}

    response = await post(client, INBOUND, payload)

    assert response.status_code == 422
    assert response.json() == {"error": "missing_field", "detail": "the form has no From"}
    assert execute(db_url(client), "SELECT count(*) FROM cc_messages") == [(0,)]


async def test_an_unset_auth_token_answers_503_and_verifies_nothing(
    migrated_db: str, settings: Settings
) -> None:
    blank = settings.model_copy(update={"twilio_auth_token": ""})
    payload = fixture("twilio", "inbound_sms.json")
    async for client in running(create_app(blank, database_url=service_url(migrated_db))):
        # Signed with an empty key: an empty secret must verify nothing.
        response = await client.post(INBOUND, **twilio_post_args(INBOUND, payload, token=""))

        assert response.status_code == 503
        assert response.json()["error"] == "secret_not_configured"
        assert "TWILIO_AUTH_TOKEN" in response.json()["detail"]
    assert execute(migrated_db, "SELECT count(*) FROM cc_messages") == [(0,)]
    assert execute(migrated_db, "SELECT error_code FROM cc_audit_logs") == [
        ("secret_not_configured",)
    ]


async def test_an_overlong_message_sid_is_stored_as_its_hash(client: httpx.AsyncClient) -> None:
    payload = {**fixture("twilio", "inbound_sms.json"), "MessageSid": "SM" + "a" * 4000}

    response = await post(client, INBOUND, payload)

    assert response.status_code == 200
    assert execute(db_url(client), "SELECT left(provider_message_id, 7) FROM cc_messages") == [
        ("sha256:",)
    ]


async def test_media_beyond_twilios_limit_of_ten_are_not_read(client: httpx.AsyncClient) -> None:
    payload = {**fixture("twilio", "inbound_whatsapp_media.json"), "NumMedia": "20000000"}

    response = await post(client, INBOUND, payload)

    assert response.status_code == 200
    media = execute(
        db_url(client), "SELECT jsonb_array_length(body_json->'media') FROM cc_messages"
    )
    assert media == [(1,)]
