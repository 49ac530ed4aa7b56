"""Refused deliveries: each audited in bounded size, a flood from one source audited at a
bounded rate across processes, and the client recorded the connection's unless a trusted
proxy names it."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from switchboard.app import create_app
from switchboard.cli import uvicorn_options
from switchboard.refusals.service import AUDITED_PER_WINDOW
from switchboard.settings import Settings
from tests.builders import execute
from tests.webhooks.conftest import running

pytestmark = pytest.mark.anyio
BAD_VAPI = {"Content-Type": "application/json", "X-Vapi-Secret": "not-the-secret"}
VAPI_BODY = b'{"message": {"type": "status-update"}}'
# Every text column of an audit row, as stored.
ROW_TEXT_BYTES = (
    "SELECT octet_length(actor_type) + octet_length(actor_id) + octet_length(event_type)"
    " + coalesce(octet_length(error_code), 0) + coalesce(octet_length(error_message), 0)"
    " + octet_length(input_redacted::text) + octet_length(output_redacted::text)"
    " FROM cc_audit_logs ORDER BY created_at"
)


@pytest.fixture
async def client(migrated_db: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    async for client in running(create_app(settings, database_url=migrated_db)):
        yield client


def audit_rows(url: str) -> list[tuple[Any, ...]]:
    return execute(
        url,
        "SELECT event_type, error_code, input_redacted->>'client'"
        " FROM cc_audit_logs ORDER BY created_at",
    )


@pytest.mark.parametrize(
    ("path", "content", "headers"),
    [
        ("/webhooks/vapi", VAPI_BODY, BAD_VAPI),
        (
            "/webhooks/sendgrid/events",
            b"[]",
            {
                "Content-Type": "application/json",
                "X-Twilio-Email-Event-Webhook-Signature": "c2lnbmF0dXJl",
                "X-Twilio-Email-Event-Webhook-Timestamp": "\"'" * 50_000,
            },
        ),
        (
            "/webhooks/twilio/messages",
            b"Body=hi",
            {"Content-Type": "application/x-www-form-urlencoded"},
        ),
    ],
    ids=["vapi", "sendgrid-timestamp", "twilio"],
)
async def test_a_refusal_with_huge_headers_adds_one_row_of_bounded_size(
    client: httpx.AsyncClient,
    migrated_db: str,
    path: str,
    content: bytes,
    headers: dict[str, Any],
) -> None:
    # Latin-1 on the wire, as HTTP headers are: each é is two bytes of UTF-8 when stored.
    headers = {**headers, "User-Agent": '\x01\u00e9"'.encode("latin-1") * 100_000}

    response = await client.post(path, content=content, headers=headers)

    assert response.status_code == 403
    assert len(response.content) < 2048
    sizes = execute(migrated_db, ROW_TEXT_BYTES)
    assert len(sizes) == 1
    assert sizes[0][0] <= 2048
    (user_agent,) = execute(migrated_db, "SELECT input_redacted->>'user_agent' FROM cc_audit_logs")
    assert user_agent[0].startswith('?é"?é"')
    assert "(400000 bytes, sha256 " in user_agent[0]


async def test_a_flood_from_one_source_is_audited_up_to_a_rate_across_processes_then_summed(
    migrated_db: str, settings: Settings
) -> None:
    async def refuse(client: httpx.AsyncClient, times: int) -> None:
        for _ in range(times):
            response = await client.post("/webhooks/vapi", content=VAPI_BODY, headers=BAD_VAPI)
            assert response.status_code == 403

    # Two apps with pools of their own: what two worker processes of the service share is
    # the database alone.
    first = running(create_app(settings, database_url=migrated_db))
    second = running(create_app(settings, database_url=migrated_db))
    one, two = await anext(first), await anext(second)
    try:
        await asyncio.gather(refuse(one, 9), refuse(two, 9))

        assert execute(
            migrated_db,
            "SELECT event_type, count(*) FROM cc_audit_logs GROUP BY event_type",
        ) == [("webhook.rejected", AUDITED_PER_WINDOW)]
        assert execute(
            migrated_db, "SELECT provider, client, error_code, refused FROM cc_webhook_refusals"
        ) == [("vapi", "127.0.0.1", "invalid_signature", 18)]

        # The minute is over (its counter moved back rather than the test waiting for it).
        execute(
            migrated_db,
            "UPDATE cc_webhook_refusals SET window_start = window_start - interval '2 minutes'",
        )
        await refuse(one, 1)
    finally:
        for app in (first, second):
            await app.aclose()

    summaries = execute(
        migrated_db,
        "SELECT error_code, input_redacted->>'client', (input_redacted->>'refused')::int,"
        " (input_redacted->>'not_audited')::int FROM cc_audit_logs"
        " WHERE event_type = 'webhook.rejections_summarised'",
    )
    assert summaries == [("invalid_signature", "127.0.0.1", 18, 18 - AUDITED_PER_WINDOW)]
    assert execute(
        migrated_db, "SELECT count(*) FROM cc_audit_logs WHERE event_type = 'webhook.rejected'"
    ) == [(AUDITED_PER_WINDOW + 1,)]
    assert execute(migrated_db, "SELECT refused FROM cc_webhook_refusals") == [(1,)]


@pytest.fixture
def serve(migrated_db: str) -> Iterator[Any]:
    """Starts the service under uvicorn, configured as `switchboard serve` configures it, on
    an ephemeral port in a thread; yields a function of the settings giving its base URL."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(settings: Settings) -> str:
        options = {**uvicorn_options(settings, "127.0.0.1", 0), "log_level": "warning"}
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings, database_url=migrated_db), **options)
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        servers.append((server, thread))
        for _ in range(300):
            if server.started:
                break
            thread.join(0.05)
        assert server.started, "uvicorn did not start"
        port = server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


@pytest.mark.parametrize(
    ("trusted", "recorded"),
    [("", "127.0.0.1"), ("10.9.0.0/16", "127.0.0.1"), ("127.0.0.1", "203.0.113.9")],
    ids=["no-proxy-trusted", "another-proxy-trusted", "this-proxy-trusted"],
)
def test_the_client_recorded_is_the_connection_unless_a_trusted_proxy_names_it(
    serve: Any, migrated_db: str, settings: Settings, trusted: str, recorded: str
) -> None:
    base_url = serve(settings.model_copy(update={"trusted_proxies": trusted}))

    response = httpx.post(
        base_url + "/webhooks/vapi",
        content=VAPI_BODY,
        headers={**BAD_VAPI, "X-Forwarded-For": "203.0.113.9"},
    )

    assert response.status_code == 403
    assert audit_rows(migrated_db) == [("webhook.rejected", "invalid_signature", recorded)]


def test_a_trusted_proxy_must_be_an_address_or_a_network() -> None:
    with pytest.raises(ValueError, match=r"proxy\.example"):
        Settings(SWITCHBOARD_TRUSTED_PROXIES="10.0.0.1, proxy.example")
    assert Settings(SWITCHBOARD_TRUSTED_PROXIES=" 10.0.0.1 ,10.1.0.0/16").trusted_proxies == (
        "10.0.0.1,10.1.0.0/16"
    )
