"""SendGrid Inbound Parse and Event Webhook over HTTP; events signed with an ECDSA test key."""

from __future__ import annotations

import asyncio
import base64
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sendgrid.helpers.eventwebhook import EventWebhookHeader

from switchboard.app import create_app
from switchboard.settings import Settings
from tests.builders import execute
from tests.conftest import service_url
from tests.webhooks.conftest import INBOUND_SECRET, fixture, running

pytestmark = pytest.mark.anyio
INBOUND = "/webhooks/sendgrid/inbound"
EVENTS = "/webhooks/sendgrid/events"
BOUNDARY = "xYzZY"  # the boundary SendGrid's Inbound Parse uses
PDF = base64.b64decode(
    "JVBERi0xLjQKJcfsj6IKMSAwIG9iago8PC9UeXBlL0NhdGFsb2c+PgplbmRvYmoKdHJhaWxlcgo8"
    "PC9Sb290IDEgMCBSPj4KJSVFT0YK"
)
SIGNATURE = EventWebhookHeader.SIGNATURE
TIMESTAMP = EventWebhookHeader.TIMESTAMP
X_MESSAGE_ID = "Qx7pW2bTR0-6fX3cJ9kLmA"  # what the v3 send returned for the first fixture event
Files = dict[str, tuple[str, bytes, str]]


def db_url(client: httpx.AsyncClient) -> str:
    return str(client._transport.app.state.pool.conninfo)  # type: ignore[attr-defined]


def multipart(fields: dict[str, str | bytes], files: Files | None = None) -> bytes:
    """A multipart/form-data body as SendGrid posts it: fields in their own charset."""
    parts = []
    for name, value in fields.items():
        data = value.encode() if isinstance(value, str) else value
        head = f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
        parts.append(head.encode() + data + b"\r\n")
    for name, (filename, content, content_type) in (files or {}).items():
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}";'
            f' filename="{filename}"\r\nContent-Type: {content_type}\r\n\r\n'
        )
        parts.append(head.encode() + content + b"\r\n")
    return b"".join(parts) + f"--{BOUNDARY}--\r\n".encode()


async def post_email(
    client: httpx.AsyncClient,
    fields: dict[str, Any],
    *,
    files: Files | None = None,
    query: str = f"?key={INBOUND_SECRET}",
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await client.post(
        INBOUND + query,
        content=multipart(fields, files),
        headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}", **(headers or {})},
    )


def with_headers(fields: dict[str, str], **replaced: str) -> dict[str, str]:
    """A parsed-mode post whose header block has these headers replaced (or added)."""
    names = {name.replace("_", "-").lower(): name.replace("_", "-") for name in replaced}
    kept = [
        line
        for line in fields["headers"].splitlines()
        if line.split(":", 1)[0].lower() not in names
    ]
    added = [f"{names[key.replace('_', '-').lower()]}: {value}" for key, value in replaced.items()]
    return {**fields, "headers": "\n".join([*added, *kept]) + "\n"}


def sign(
    key: ec.EllipticCurvePrivateKey, body: bytes, timestamp: str | None = None
) -> dict[str, str]:
    """Headers SendGrid sends: ECDSA P-256 / SHA-256 over timestamp + raw body, DER, base64."""
    timestamp = str(int(time.time())) if timestamp is None else timestamp
    signature = key.sign(timestamp.encode() + body, ec.ECDSA(hashes.SHA256()))
    return {
        "Content-Type": "application/json",
        EventWebhookHeader.SIGNATURE: base64.b64encode(signature).decode(),
        EventWebhookHeader.TIMESTAMP: timestamp,
    }


def event_body(events: Any) -> bytes:
    return json.dumps(events).encode() + b"\r\n"


async def post_events(
    client: httpx.AsyncClient, key: ec.EllipticCurvePrivateKey, events: Any
) -> httpx.Response:
    body = event_body(events)
    return await client.post(EVENTS, content=body, headers=sign(key, body))


def fixture_events(*kinds: str) -> list[dict[str, Any]]:
    events = fixture("sendgrid", "events.json")
    return [next(e for e in events if e["event"] == kind) for kind in kinds]


def store_outbound_email(url: str, provider_message_id: str = X_MESSAGE_ID) -> None:
    """An email we sent through the v3 API, stored under the X-Message-Id it returned."""
    execute(
        url,
        "WITH c AS (INSERT INTO cc_conversations (channel, provider, status)"
        " VALUES ('email', 'sendgrid', 'open') RETURNING id)"
        " INSERT INTO cc_messages (conversation_id, direction, provider, provider_message_id,"
        " to_address, body_text, status)"
        " SELECT id, 'outbound', 'sendgrid', %s, 'ada@example.com', 'Your card is unblocked.',"
        " 'sent' FROM c",
        (provider_message_id,),
    )


def rejections(url: str) -> list[tuple[Any, ...]]:
    return execute(
        url,
        "SELECT event_type, success, error_code FROM cc_audit_logs WHERE actor_id = 'sendgrid'",
    )


def count(url: str, table: str) -> int:
    return int(execute(url, f"SELECT count(*) FROM {table}")[0][0])


# Inbound Parse


async def test_a_parsed_mode_email_becomes_a_message_of_a_recognised_customer(
    client: httpx.AsyncClient,
) -> None:
    fields = fixture("sendgrid", "inbound_parsed.json")

    response = await post_email(
        client, fields, files={"attachment1": ("receipt.pdf", PDF, "application/pdf")}
    )

    assert response.status_code == 200
    url = db_url(client)
    rows = execute(
        url,
        "SELECT m.provider, m.provider_message_id, m.from_address, m.to_address, m.body_text,"
        " m.status, m.body_json, c.channel, c.provider_conversation_id,"
        " c.bank_customer_id IS NOT NULL FROM cc_messages AS m"
        " JOIN cc_conversations AS c ON c.id = m.conversation_id",
    )
    assert rows == [
        (
            "sendgrid",
            "<CAKx2k7Vq1yL3sP0jQ5fB8wZ0uN4mQ@mail.example.com>",
            "ada@example.com",
            "support@parse.bank.example",
            fields["text"],
            "received",
            {
                "subject": "Card declined in Lisbon",
                "Date": "Tue, 14 Apr 2026 10:12:01 +0100",
                "spam_score": "0.011",
                "SPF": "pass",
                "dkim": "{@example.com : pass}",
                "sender_ip": "192.0.2.169",
                "charsets": json.loads(fields["charsets"]),
                "attachments": [
                    {"filename": "receipt.pdf", "type": "application/pdf", "size": len(PDF)}
                ],
            },
            "email",
            "<CAKx2k7Vq1yL3sP0jQ5fB8wZ0uN4mQ@mail.example.com>",
            True,
        )
    ]
    assert execute(
        url,
        "SELECT actor_id, event_type, success, input_redacted->>'channel' FROM cc_audit_logs"
        " ORDER BY created_at",
    ) == [
        ("sendgrid", "message.received", True, "email"),
        ("routing", "assignment.queued", True, None),  # for a person to answer
    ]


async def test_a_raw_mode_email_is_read_from_its_mime_message(client: httpx.AsyncClient) -> None:
    fields = fixture("sendgrid", "inbound_raw.json")

    assert (await post_email(client, fields)).status_code == 200

    rows = execute(
        db_url(client),
        "SELECT provider_message_id, from_address, to_address, body_text,"
        " body_json->>'subject', body_json->>'cc', body_json->'attachments'"
        " FROM cc_messages",
    )
    assert rows == [
        (
            "<20260414114012.4F1C2A0B3D@mail.example.com>",
            "ada@example.com",
            "support@parse.bank.example",
            "Hello, my March statement shows a payment to a café I never visited.\n"
            "Could you look into it?\n",
            "Statement question \u2013 March",
            "Charles Babbage <charles@example.net>",
            [{"filename": "statement-march.pdf", "type": "application/pdf", "size": len(PDF)}],
        )
    ]


async def test_a_raw_mode_email_without_a_text_part_keeps_the_text_of_its_html(
    client: httpx.AsyncClient,
) -> None:
    email = (
        "From: ada@example.com\r\nTo: support@parse.bank.example\r\n"
        "Message-ID: <html-only@mail.example.com>\r\nSubject: Limit\r\n"
        'Content-Type: text/html; charset="utf-8"\r\n\r\n'
        "<html><head><style>p {color: red}</style></head><body>"
        "<p>Please raise my limit &amp; thank you.</p><p>Ada</p></body></html>\r\n"
    )

    assert (await post_email(client, {"email": email})).status_code == 200

    assert execute(db_url(client), "SELECT body_text, to_address FROM cc_messages") == [
        ("Please raise my limit & thank you.\nAda", "support@parse.bank.example")
    ]


@pytest.mark.parametrize("charset", ["undefined", "idna", "punycode"])
async def test_a_raw_mode_part_in_a_charset_that_cannot_decode_it_is_read_as_utf8(
    client: httpx.AsyncClient, charset: str
) -> None:
    # Codecs that exist but refuse these bytes, or the "replace" handler, raise UnicodeError.
    email = (
        "From: ada@example.com\r\nTo: support@parse.bank.example\r\n"
        f"Message-ID: <{charset}@mail.example.com>\r\n"
        f"Content-Type: text/plain; charset={charset}\r\n\r\nCaf\u00e9 limit\r\n"
    )

    assert (await post_email(client, {"email": email})).status_code == 200

    assert execute(db_url(client), "SELECT body_text FROM cc_messages") == [("Caf\u00e9 limit\n",)]


async def test_an_attachment_named_in_a_charset_that_refuses_its_bytes_is_still_listed(
    client: httpx.AsyncClient,
) -> None:
    email = (
        "From: ada@example.com\r\nTo: support@parse.bank.example\r\n"
        "Message-ID: <rfc2231@mail.example.com>\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nSee the receipt.\r\n"
        "--b\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64\r\n"
        "Content-Disposition: attachment; filename*=idna''%ff%41.pdf\r\n\r\nQUJD\r\n--b--\r\n"
    )

    assert (await post_email(client, {"email": email})).status_code == 200

    assert execute(db_url(client), "SELECT body_json->'attachments' FROM cc_messages") == [
        ([{"filename": "\ufffdA.pdf", "type": "application/pdf", "size": 3}],)
    ]


async def test_a_parsed_mode_field_is_read_in_the_charset_sendgrid_declares(
    client: httpx.AsyncClient,
) -> None:
    fields: dict[str, Any] = {
        **fixture("sendgrid", "inbound_parsed.json"),
        "text": "The fee was 5€ \u2013 why?".encode("cp1252"),
        "charsets": json.dumps({"text": "windows-1252", "from": "UTF-8"}),
    }

    assert (await post_email(client, fields)).status_code == 200

    assert execute(db_url(client), "SELECT body_text FROM cc_messages") == [
        ("The fee was 5€ \u2013 why?",)
    ]


async def test_a_reply_continues_its_conversation_and_an_unrelated_email_opens_another(
    client: httpx.AsyncClient,
) -> None:
    first = fixture("sendgrid", "inbound_parsed.json")
    first_id = "<CAKx2k7Vq1yL3sP0jQ5fB8wZ0uN4mQ@mail.example.com>"
    reply = with_headers(
        first, message_id="<reply-1@mail.example.com>", in_reply_to=first_id, references=first_id
    )
    unrelated = with_headers(first, message_id="<other-topic@mail.example.com>")

    for fields in (first, reply, unrelated):
        assert (await post_email(client, fields)).status_code == 200

    assert execute(
        db_url(client),
        "SELECT c.provider_conversation_id, array_agg(m.provider_message_id ORDER BY m.created_at)"
        " FROM cc_conversations c JOIN cc_messages m ON m.conversation_id = c.id"
        " GROUP BY c.id ORDER BY min(m.created_at)",
    ) == [
        (first_id, [first_id, "<reply-1@mail.example.com>"]),
        ("<other-topic@mail.example.com>", ["<other-topic@mail.example.com>"]),
    ]


async def test_a_reply_to_an_email_we_sent_lands_in_its_conversation(
    client: httpx.AsyncClient,
) -> None:
    url = db_url(client)
    store_outbound_email(url)
    ours = f"<{X_MESSAGE_ID}@ismtpd0039p1iad1.sendgrid.net>"
    reply = with_headers(
        fixture("sendgrid", "inbound_parsed.json"), in_reply_to=ours, references=ours
    )

    assert (await post_email(client, reply)).status_code == 200

    assert execute(url, "SELECT count(DISTINCT conversation_id), count(*) FROM cc_messages") == [
        (1, 2)
    ]


async def test_the_same_message_id_posted_twice_is_stored_once(
    client: httpx.AsyncClient,
) -> None:
    fields = fixture("sendgrid", "inbound_parsed.json")

    responses = [await post_email(client, fields) for _ in range(2)]

    assert [r.status_code for r in responses] == [200, 200]
    url = db_url(client)
    # The message and, once, its conversation queued for a person.
    assert (count(url, "cc_messages"), count(url, "cc_audit_logs")) == (1, 2)


async def test_an_email_without_a_message_id_is_deduplicated_on_its_headers(
    client: httpx.AsyncClient,
) -> None:
    fields = fixture("sendgrid", "inbound_parsed.json")
    fields["headers"] = "\n".join(
        line for line in fields["headers"].splitlines() if not line.startswith("Message-ID")
    )

    for _ in range(2):
        assert (await post_email(client, fields)).status_code == 200

    ((message_id,),) = execute(db_url(client), "SELECT provider_message_id FROM cc_messages")
    assert message_id.startswith("sha256:")
    assert len(message_id) == len("sha256:") + 64


async def test_twenty_concurrent_identical_emails_store_one_message(
    client: httpx.AsyncClient,
) -> None:
    fields = fixture("sendgrid", "inbound_raw.json")

    responses = await asyncio.gather(*(post_email(client, fields) for _ in range(20)))

    assert [r.status_code for r in responses] == [200] * 20
    url = db_url(client)
    assert count(url, "cc_messages") == 1
    assert count(url, "cc_conversations") == 1
    assert execute(
        url, "SELECT count(*) FROM cc_audit_logs WHERE event_type = 'message.received'"
    ) == [(1,)]


async def test_card_numbers_in_an_email_are_masked_before_they_are_stored(
    client: httpx.AsyncClient,
) -> None:
    fields = {
        **fixture("sendgrid", "inbound_parsed.json"),
        "text": "Please block 4111 1111 1111 1111 today.",
        "subject": "Card 4111-1111-1111-1111",
    }

    assert (await post_email(client, fields)).status_code == 200

    url = db_url(client)
    assert execute(url, "SELECT body_text, body_json->>'subject' FROM cc_messages") == [
        ("Please block •••• •••• •••• 1111 today.", "Card ••••-••••-••••-1111")
    ]
    everything = execute(url, "SELECT string_agg(to_jsonb(a)::text, '') FROM cc_audit_logs a")
    # The number, not "4111" alone: a random uuid in the rows may hold those four digits.
    assert not re.search(r"4111\D{0,3}1111\D{0,3}1111", everything[0][0])


async def test_the_secret_may_come_as_the_basic_auth_password(client: httpx.AsyncClient) -> None:
    credentials = base64.b64encode(f"sendgrid:{INBOUND_SECRET}".encode()).decode()

    response = await post_email(
        client,
        fixture("sendgrid", "inbound_parsed.json"),
        query="",
        headers={"Authorization": f"Basic {credentials}"},
    )

    assert response.status_code == 200
    assert count(db_url(client), "cc_messages") == 1


@pytest.mark.parametrize(
    ("query", "headers"),
    [
        ("?key=not-the-secret", {}),
        ("", {}),
        ("?key=", {}),
        ("", {"Authorization": "Basic " + base64.b64encode(b"sendgrid:wrong").decode()}),
        ("", {"Authorization": "Basic %%%not-base64"}),
    ],
    ids=["wrong-key", "no-key", "empty-key", "wrong-password", "broken-basic-auth"],
)
async def test_an_email_without_the_right_secret_is_refused_and_audited(
    client: httpx.AsyncClient, query: str, headers: dict[str, str]
) -> None:
    fields = fixture("sendgrid", "inbound_parsed.json")

    response = await post_email(client, fields, query=query, headers=headers)

    assert response.status_code == 403
    assert response.json()["error"] == "invalid_signature"
    assert INBOUND_SECRET not in response.text
    url = db_url(client)
    assert count(url, "cc_messages") == 0
    assert rejections(url) == [("webhook.rejected", False, "invalid_signature")]


@pytest.fixture
async def unconfigured(migrated_db: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The service with neither SendGrid secret set."""
    blank = settings.model_copy(
        update={"sendgrid_inbound_secret": " ", "sendgrid_event_public_key": ""}
    )
    async for client in running(create_app(blank, database_url=service_url(migrated_db))):
        yield client


async def test_an_unset_inbound_secret_answers_503_and_verifies_nothing(
    unconfigured: httpx.AsyncClient,
) -> None:
    fields = fixture("sendgrid", "inbound_parsed.json")

    response = await post_email(unconfigured, fields, query="?key=%20")

    assert response.status_code == 503
    assert response.json()["error"] == "secret_not_configured"
    assert "SENDGRID_INBOUND_SECRET" in response.json()["detail"]
    url = db_url(unconfigured)
    assert count(url, "cc_messages") == 0
    assert rejections(url) == [("webhook.rejected", False, "secret_not_configured")]


@pytest.mark.parametrize(
    ("content", "content_type", "status", "error"),
    [
        (
            "from=ada%40example.com",
            "application/x-www-form-urlencoded",
            415,
            "unsupported_media_type",
        ),
        (multipart({"from": "ada@example.com", "text": "hi"}), None, 422, "missing_field"),
        (multipart({"headers": "Message-ID: <a@b>\n", "text": "hi"}), None, 422, "missing_field"),
        (b"--xYzZY\r\nno headers here", None, 400, "malformed_body"),
        (b"x" * 1_048_577, None, 413, "payload_too_large"),
    ],
    ids=["not-multipart", "no-headers", "no-from", "broken-multipart", "oversized"],
)
async def test_a_malformed_email_post_gets_a_clear_4xx_and_changes_nothing(
    client: httpx.AsyncClient, content: Any, content_type: str | None, status: int, error: str
) -> None:
    response = await client.post(
        f"{INBOUND}?key={INBOUND_SECRET}",
        content=content,
        headers={"Content-Type": content_type or f"multipart/form-data; boundary={BOUNDARY}"},
    )

    assert response.status_code == status
    assert response.json()["error"] == error
    assert response.json()["detail"]
    url = db_url(client)
    assert (count(url, "cc_messages"), count(url, "cc_audit_logs")) == (0, 0)


# Event Webhook


async def test_a_delivered_event_applies_to_a_stored_outbound_email(
    client: httpx.AsyncClient, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    url = db_url(client)
    store_outbound_email(url)

    response = await post_events(client, sendgrid_key, fixture_events("delivered"))

    assert response.status_code == 200
    assert execute(url, "SELECT status, provider_status FROM cc_messages") == [
        ("delivered", "delivered")
    ]
    assert execute(
        url,
        "SELECT success, input_redacted->>'smtp-id', output_redacted->>'outcome'"
        " FROM cc_audit_logs WHERE event_type = 'message.status'",
    ) == [(True, f"<{X_MESSAGE_ID}@ismtpd0039p1iad1.sendgrid.net>", "applied")]


async def test_a_late_processed_after_delivered_does_not_move_it_back(
    client: httpx.AsyncClient, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    url = db_url(client)
    store_outbound_email(url)

    await post_events(client, sendgrid_key, fixture_events("delivered"))
    response = await post_events(client, sendgrid_key, fixture_events("processed"))

    assert response.status_code == 200
    assert execute(url, "SELECT status, provider_status FROM cc_messages") == [
        ("delivered", "delivered")
    ]
    assert execute(
        url,
        "SELECT input_redacted->>'provider_status', output_redacted->>'outcome'"
        " FROM cc_audit_logs WHERE event_type = 'message.status' ORDER BY created_at",
    ) == [("delivered", "applied"), ("processed", "stale")]


async def test_a_repeated_sg_event_id_writes_nothing(
    client: httpx.AsyncClient, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    url = db_url(client)
    store_outbound_email(url)
    batch = fixture_events("processed", "delivered")

    first = await post_events(client, sendgrid_key, batch)
    audits = count(url, "cc_audit_logs")
    again = await post_events(client, sendgrid_key, batch)

    assert (first.status_code, again.status_code) == (200, 200)
    assert count(url, "cc_audit_logs") == audits == 2
    assert execute(url, "SELECT status FROM cc_messages") == [("delivered",)]


async def test_a_mixed_batch_records_every_event_once(
    client: httpx.AsyncClient, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    url = db_url(client)
    store_outbound_email(url)
    store_outbound_email(url, "Hb4sN1dPQfiM3vE8yT2uZw")  # the bounced one

    response = await post_events(client, sendgrid_key, fixture("sendgrid", "events.json"))

    assert response.status_code == 200
    assert execute(
        url,
        "SELECT provider_message_id, status, provider_status, error_code FROM cc_messages"
        " ORDER BY provider_message_id",
    ) == [
        ("Hb4sN1dPQfiM3vE8yT2uZw", "failed", "bounce", "5.1.1"),
        (X_MESSAGE_ID, "read", "open", None),
    ]
    assert execute(
        url,
        "SELECT input_redacted->>'provider_status', success, output_redacted->>'outcome'"
        " FROM cc_audit_logs WHERE event_type = 'message.status' ORDER BY created_at",
    ) == [
        ("processed", True, "stale"),  # stored as sent already
        ("delivered", True, "applied"),
        ("open", True, "applied"),
        ("click", True, "stale"),
        ("spamreport", True, "no_status"),
        ("bounce", True, "applied"),
        ("dropped", False, "unknown_message"),  # never stored here
    ]


async def test_an_unknown_event_type_is_recorded_without_a_status(
    client: httpx.AsyncClient, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    url = db_url(client)
    store_outbound_email(url)
    event = {**fixture_events("delivered")[0], "event": "machine_opened", "sg_event_id": "new-1"}

    assert (await post_events(client, sendgrid_key, [event])).status_code == 200

    assert execute(url, "SELECT status FROM cc_messages") == [("sent",)]
    assert execute(
        url,
        "SELECT output_redacted->>'outcome' FROM cc_audit_logs WHERE event_type = 'message.status'",
    ) == [("no_status",)]


@pytest.mark.parametrize(
    ("changed", "error"),
    [
        ({SIGNATURE: None}, "invalid_signature"),
        ({SIGNATURE: "not base64!"}, "invalid_signature"),
        ({SIGNATURE: base64.b64encode(b"not a DER signature").decode()}, "invalid_signature"),
        ({TIMESTAMP: None}, "invalid_signature"),
        ({TIMESTAMP: "12.5"}, "invalid_signature"),
        ({TIMESTAMP: "-5"}, "invalid_signature"),
    ],
    ids=[
        "no-signature",
        "malformed-base64",
        "not-der",
        "no-timestamp",
        "fractional-timestamp",
        "negative-timestamp",
    ],
)
async def test_a_batch_with_a_bad_signature_header_is_refused_and_audited(
    client: httpx.AsyncClient,
    sendgrid_key: ec.EllipticCurvePrivateKey,
    changed: dict[str, str | None],
    error: str,
) -> None:
    url = db_url(client)
    store_outbound_email(url)
    body = event_body(fixture_events("delivered"))
    headers = {**sign(sendgrid_key, body), **changed}

    response = await client.post(
        EVENTS, content=body, headers={k: v for k, v in headers.items() if v is not None}
    )

    assert response.status_code == 403
    assert response.json()["error"] == error
    assert execute(url, "SELECT status FROM cc_messages") == [("sent",)]
    assert rejections(url) == [("webhook.rejected", False, error)]


async def test_a_batch_signed_with_another_key_is_refused_and_audited(
    client: httpx.AsyncClient,
) -> None:
    url = db_url(client)
    store_outbound_email(url)
    body = event_body(fixture_events("delivered"))
    impostor = ec.generate_private_key(ec.SECP256R1())

    response = await client.post(EVENTS, content=body, headers=sign(impostor, body))

    assert response.status_code == 403
    assert response.json()["error"] == "invalid_signature"
    assert execute(url, "SELECT status FROM cc_messages") == [("sent",)]
    assert rejections(url) == [("webhook.rejected", False, "invalid_signature")]


async def test_the_signature_covers_the_body_exactly_as_sent(
    client: httpx.AsyncClient, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    events = fixture_events("delivered")
    signed = event_body(events)
    reformatted = json.dumps(events, indent=2).encode() + b"\r\n"  # same JSON, other bytes

    response = await client.post(EVENTS, content=reformatted, headers=sign(sendgrid_key, signed))

    assert response.status_code == 403


@pytest.mark.parametrize(
    ("offset", "status"),
    # 30 s either side of the 300 s window: a slow machine must not move a case across it.
    [(-330, 403), (330, 403), (-270, 200), (270, 200)],
    ids=["stale", "future", "recent", "slightly-ahead"],
)
async def test_a_batch_signed_outside_the_replay_window_is_refused(
    client: httpx.AsyncClient, sendgrid_key: ec.EllipticCurvePrivateKey, offset: int, status: int
) -> None:
    url = db_url(client)
    store_outbound_email(url)
    body = event_body(fixture_events("delivered"))
    timestamp = str(int(time.time()) + offset)

    response = await client.post(EVENTS, content=body, headers=sign(sendgrid_key, body, timestamp))

    assert response.status_code == status
    if status == 403:
        assert response.json()["error"] == "stale_timestamp"
        assert execute(url, "SELECT status FROM cc_messages") == [("sent",)]
        assert rejections(url) == [("webhook.rejected", False, "stale_timestamp")]
    else:
        assert execute(url, "SELECT status FROM cc_messages") == [("delivered",)]


async def test_an_unset_event_key_answers_503(
    unconfigured: httpx.AsyncClient, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    response = await post_events(unconfigured, sendgrid_key, fixture_events("delivered"))

    assert response.status_code == 503
    assert response.json()["error"] == "secret_not_configured"
    assert "SENDGRID_EVENT_PUBLIC_KEY" in response.json()["detail"]
    assert rejections(db_url(unconfigured)) == [
        ("webhook.rejected", False, "secret_not_configured")
    ]


@pytest.mark.parametrize(
    "public_key",
    [
        "not a key",
        base64.b64encode(b"\x30\x03\x02\x01\x00").decode(),
        # An RSA key: valid DER, but not one an ECDSA signature can be checked with.
        "MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDY1WP0PK2albqIXT03aHqAv8M23Dlf8QTcfij8CpZPhVESuV3G"
        "Qyv408u0QnJ0sjwhdrptDj4i0L9SUhlhDDcv/EWoRkyAP3+KkMM3/uWW29p9Kn8ZWcX99NjF4OA6BBNfXhY6j+5s"
        "dtnzjPmgvwv2BSpbv4bDie5JDfv8OVeRNwIDAQAB",
    ],
    ids=["not-base64-der", "not-a-public-key", "rsa"],
)
async def test_an_unusable_event_key_refuses_every_batch(
    migrated_db: str,
    settings: Settings,
    sendgrid_key: ec.EllipticCurvePrivateKey,
    public_key: str,
) -> None:
    broken = settings.model_copy(update={"sendgrid_event_public_key": public_key})
    async for client in running(create_app(broken, database_url=service_url(migrated_db))):
        response = await post_events(client, sendgrid_key, fixture_events("delivered"))

        assert response.status_code == 403
        assert response.json()["error"] == "invalid_signature"
        assert rejections(migrated_db) == [("webhook.rejected", False, "invalid_signature")]


@pytest.mark.parametrize(
    ("body", "status", "error"),
    [
        (b"[{not json", 400, "malformed_body"),
        (b'{"event": "delivered"}\r\n', 400, "malformed_body"),
        (b"[1, 2]\r\n", 400, "malformed_body"),
        (b"[" * 100_000, 400, "malformed_body"),
        (b"\xff\xfe[]", 400, "malformed_body"),
        (
            json.dumps(
                [
                    {k: v for k, v in e.items() if k != "sg_event_id"}
                    for e in fixture("sendgrid", "events.json")[:2]
                ]
            ).encode(),
            422,
            "missing_field",
        ),
    ],
    ids=["broken-json", "not-an-array", "not-objects", "too-deep", "not-utf8", "no-sg-event-id"],
)
async def test_a_malformed_signed_batch_gets_a_clear_4xx_and_changes_nothing(
    client: httpx.AsyncClient,
    sendgrid_key: ec.EllipticCurvePrivateKey,
    body: bytes,
    status: int,
    error: str,
) -> None:
    url = db_url(client)
    store_outbound_email(url)

    response = await client.post(EVENTS, content=body, headers=sign(sendgrid_key, body))

    assert response.status_code == status
    assert response.json() == {"error": error, "detail": response.json()["detail"]}
    assert response.json()["detail"]
    assert execute(url, "SELECT status FROM cc_messages") == [("sent",)]
    assert count(url, "cc_audit_logs") == 0


@pytest.mark.parametrize("missing", ["sg_event_id", "event", "sg_message_id"])
async def test_a_batch_with_one_incomplete_event_records_none_of_it(
    client: httpx.AsyncClient, sendgrid_key: ec.EllipticCurvePrivateKey, missing: str
) -> None:
    url = db_url(client)
    store_outbound_email(url)
    processed, delivered = fixture_events("processed", "delivered")
    incomplete = {**delivered, missing: None}

    response = await post_events(client, sendgrid_key, [processed, incomplete])

    assert response.status_code == 422
    assert response.json() == {"error": "missing_field", "detail": f"event 1 has no {missing}"}
    assert execute(url, "SELECT status FROM cc_messages") == [("sent",)]
    assert count(url, "cc_audit_logs") == 0


async def test_a_batch_that_is_not_json_is_refused(
    client: httpx.AsyncClient, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    body = event_body(fixture_events("delivered"))
    headers = {**sign(sendgrid_key, body), "Content-Type": "text/plain"}

    response = await client.post(EVENTS, content=body, headers=headers)

    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"
    assert count(db_url(client), "cc_audit_logs") == 0


async def test_an_oversized_batch_is_refused(
    client: httpx.AsyncClient, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    body = event_body(fixture_events("delivered")) + b" " * 1_048_577

    response = await client.post(EVENTS, content=body, headers=sign(sendgrid_key, body))

    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"
    assert count(db_url(client), "cc_audit_logs") == 0


async def test_an_email_with_a_nul_character_is_stored_without_it(
    client: httpx.AsyncClient,
) -> None:
    fields = {**fixture("sendgrid", "inbound_parsed.json"), "text": "hello\x00world"}

    response = await post_email(client, fields)

    assert response.status_code == 200
    assert execute(db_url(client), "SELECT body_text FROM cc_messages") == [("helloworld",)]


async def test_an_overlong_message_id_is_stored_as_its_hash_and_still_deduplicates(
    client: httpx.AsyncClient,
) -> None:
    fields = with_headers(
        fixture("sendgrid", "inbound_parsed.json"), Message_ID="<" + "x" * 4000 + "@ex.example>"
    )

    first = await post_email(client, fields)
    second = await post_email(client, fields)

    assert (first.status_code, second.status_code) == (200, 200)
    assert execute(db_url(client), "SELECT left(provider_message_id, 7) FROM cc_messages") == [
        ("sha256:",)
    ]


async def test_an_event_with_a_nul_character_is_recorded_not_refused(
    client: httpx.AsyncClient, sendgrid_key: ec.EllipticCurvePrivateKey
) -> None:
    url = db_url(client)
    store_outbound_email(url)
    delivered, opened = fixture_events("delivered", "open")

    response = await post_events(
        client, sendgrid_key, [delivered, {**opened, "sg_event_id": "abc\u0000def"}]
    )

    assert response.status_code == 200
    assert execute(url, "SELECT status FROM cc_messages") == [("read",)]


# Hostile emails: each answered quickly while the service goes on serving.


def raw_email(headers: str, body: str = "hello\r\n") -> dict[str, str]:
    """A raw-mode post of an email with these headers (and a Message-ID of its own)."""
    return {
        "email": f"Message-ID: <hostile@mail.example.com>\r\nTo: support@parse.bank.example\r\n"
        f"{headers}\r\n\r\n{body}"
    }


def nested_mime(depth: int) -> dict[str, str]:
    openings = "".join(
        f'Content-Type: multipart/mixed; boundary="b{level}"\r\n\r\n--b{level}\r\n'
        for level in range(depth)
    )
    closings = "".join(f"\r\n--b{level}--\r\n" for level in reversed(range(depth)))
    return {
        "email": "From: ada@example.com\r\nTo: support@parse.bank.example\r\n"
        f"Message-ID: <deep@mail.example.com>\r\n{openings}"
        f"Content-Type: text/plain\r\n\r\nhello{closings}"
    }


HOSTILE_EMAILS = {
    "quotes-in-from": raw_email("From: " + '"' * 40_000),
    "quotes-in-from-under-the-header-bound": raw_email("From: " + '"' * 8_000),
    "a-long-header-never-read": raw_email(
        "From: ada@example.com\r\nX-Antispam-Report: " + '"' * 100_000
    ),
    "nested-comments-in-from": raw_email("From: " + "(" * 8_000),
    "semicolons-in-content-type": raw_email(
        "From: a@example.com\r\nContent-Type: text/plain" + ";" * 8_000
    ),
    "unclosed-tags-in-html": raw_email(
        "From: ada@example.com\r\nContent-Type: text/html", "<a " * 100_000
    ),
    "unclosed-comments-in-html": raw_email(
        "From: ada@example.com\r\nContent-Type: text/html", "<p>hi</p>" + "<!--" * 50_000
    ),
    "quotes-in-parsed-mode-headers": {
        "headers": "Message-ID: <h@mail.example.com>\nTo: " + '"' * 8_000 + "\n",
        "from": "ada@example.com",
        "html": "<![" * 50_000,
    },
    "a-text-of-digits-to-mask": {
        "headers": "Message-ID: <digits@mail.example.com>\nTo: support@parse.bank.example\n",
        "from": "ada@example.com",
        "text": "1 " * 450_000,
    },
    "mime-nested-a-thousand-deep": nested_mime(1_000),
    "messages-nested-a-thousand-deep": raw_email(
        "From: ada@example.com\r\n" + "Content-Type: message/rfc822\r\n\r\n" * 1_000
    ),
}


@pytest.mark.parametrize("fields", HOSTILE_EMAILS.values(), ids=HOSTILE_EMAILS.keys())
async def test_a_hostile_email_is_answered_within_2_s_while_other_requests_are_served(
    client: httpx.AsyncClient, fields: dict[str, str]
) -> None:
    async def timed_post() -> tuple[httpx.Response, float]:
        start = time.monotonic()
        response = await post_email(client, fields)
        return response, time.monotonic() - start

    async def healthz_waits() -> list[float]:
        """How late each health check was answered: a busy event loop delays the wake-up
        from the pause as much as the answer."""
        waits = []
        for _ in range(8):
            start = time.monotonic()
            await asyncio.sleep(0.05)
            assert (await client.get("/healthz")).status_code == 200
            waits.append(time.monotonic() - start - 0.05)
        return waits

    (response, took), waits = await asyncio.gather(timed_post(), healthz_waits())

    assert took < 2.0
    assert response.status_code in (200, 400), response.text
    assert max(waits) < 0.5
    stored = count(db_url(client), "cc_messages")
    assert stored == (1 if response.status_code == 200 else 0)


@pytest.mark.parametrize("name", ["from", "to", "cc", "subject"])
async def test_a_parsed_mode_header_field_over_the_bound_is_refused_like_its_raw_header(
    client: httpx.AsyncClient, name: str
) -> None:
    # SendGrid posts these headers as fields of their own: read as the header is, so bounded.
    fields = {**fixture("sendgrid", "inbound_parsed.json"), name: "a" * 9_000 + "@example.com"}

    response = await post_email(client, fields)

    assert response.status_code == 400
    assert response.json()["error"] == "malformed_body"
    assert f"the {name} header" in response.json()["detail"]
    assert count(db_url(client), "cc_messages") == 0


def delivered_with(name: str, number: str) -> bytes:
    """A batch of the delivered event with `name` set to `number`, written as sent."""
    (event,) = fixture_events("delivered")
    return event_body([{**event, name: "@odd@"}]).replace(b'"@odd@"', number.encode())


@pytest.mark.parametrize(
    ("post", "status", "kept"),
    [
        ({"events": delivered_with("timestamp", "1e999")}, 200, "1e999"),
        ({"events": delivered_with("timestamp", "-1E400")}, 200, "-1E400"),
        ({"events": delivered_with("tls", "1e999")}, 200, None),
        ({"events": delivered_with("timestamp", "NaN")}, 400, None),
        ({"events": delivered_with("timestamp", "Infinity")}, 400, None),
        ({"events": delivered_with("timestamp", "-Infinity")}, 400, None),
        (
            {"email": {**fixture("sendgrid", "inbound_raw.json"), "charsets": '{"a": NaN}'}},
            200,
            None,
        ),
        (
            {
                "email": {
                    **fixture("sendgrid", "inbound_parsed.json"),
                    "charsets": '{"text": 1e999}',
                    "attachment-info": '{"attachment1": {"filename": 1e999}}',
                }
            },
            200,
            None,
        ),
        ({"email": nested_mime(1_000)}, 400, None),
    ],
    ids=[
        "timestamp-1e999",
        "timestamp-minus-1e400",
        "unkept-field-1e999",
        "timestamp-nan",
        "timestamp-infinity",
        "timestamp-minus-infinity",
        "email-charsets-nan",
        "email-fields-1e999",
        "email-mime-nested-a-thousand-deep",
    ],
)
async def test_an_authenticated_odd_delivery_is_stored_or_refused_with_a_4xx_never_a_500(
    client: httpx.AsyncClient,
    sendgrid_key: ec.EllipticCurvePrivateKey,
    post: dict[str, Any],
    status: int,
    kept: str | None,
) -> None:
    url = db_url(client)
    if "events" in post:
        store_outbound_email(url)
        response = await client.post(
            EVENTS, content=post["events"], headers=sign(sendgrid_key, post["events"])
        )
    else:
        response = await post_email(client, post["email"])

    assert response.status_code == status, response.text
    if status != 200:
        assert response.json()["error"] == "malformed_body"
        assert execute(url, "SELECT count(*) FROM cc_audit_logs") == [(0,)]
    elif "events" in post:
        assert execute(url, "SELECT status FROM cc_messages") == [("delivered",)]
        assert execute(
            url,
            "SELECT input_redacted->>'timestamp' FROM cc_audit_logs"
            " WHERE event_type = 'message.status'",
        ) == [(kept or "1776157928",)]
    else:
        assert count(url, "cc_messages") == 1
