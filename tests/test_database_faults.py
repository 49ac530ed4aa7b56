"""The service while its PostgreSQL restarts or is down: a PostgreSQL of the test's own (the
embedded package's server in a temporary folder), restarted and stopped under the running
service, which answers every webhook either as usual or 503 with Retry-After, never 500."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from procrastinate.exceptions import ConnectorException
from procrastinate.sync_psycopg_connector import wrap_exceptions
from prometheus_client.parser import text_string_to_metric_families
from psycopg import errors
from psycopg_pool import PoolTimeout

from switchboard.app import QUEUE_READ_SECONDS, create_app
from switchboard.db import connection_pool, database_fault
from switchboard.errors import DatabaseUnavailable, ProviderUnavailable
from switchboard.settings import Settings
from tests.builders import execute, link_customer
from tests.conftest import MIGRATIONS_DIR
from tests.private_postgres import PrivateServer
from tests.webhooks.conftest import (
    PUBLIC_URL,
    TWILIO_TOKEN,
    VAPI_SECRET,
    fixture,
    twilio_post_args,
)

pytestmark = pytest.mark.anyio

SMS = "/webhooks/twilio/messages"
VAPI = "/webhooks/vapi"
CALLER = "+447700900001"
WAIT_SECONDS = 1.5  # what the test service waits for a connection before answering 503


@pytest.fixture
def server(private_server: PrivateServer) -> PrivateServer:
    link_customer(private_server.url, phone=CALLER, email="ada@example.com")
    return private_server


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        SWITCHBOARD_DATA_DIR=tmp_path,
        SWITCHBOARD_MIGRATIONS_DIR=MIGRATIONS_DIR,
        SWITCHBOARD_PUBLIC_URL=PUBLIC_URL,
        TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
        VAPI_SECRET=VAPI_SECRET,
        SWITCHBOARD_DB_WAIT_SECONDS=WAIT_SECONDS,
    )


@pytest.fixture
async def client(server: PrivateServer, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database_url=server.url)
    async with app.router.lifespan_context(app):
        # An error the app lets out is answered 500, as uvicorn would, not raised in the test.
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            yield client


async def sms(client: httpx.AsyncClient) -> httpx.Response:
    params = dict(fixture("twilio", "inbound_sms.json"))
    sid = f"SM{uuid.uuid4().hex}"
    params.update(MessageSid=sid, SmsMessageSid=sid, SmsSid=sid)
    return await client.post(SMS, **twilio_post_args(SMS, params))


async def vapi_turn(client: httpx.AsyncClient) -> httpx.Response:
    payload = fixture("vapi", "transcript_final_user.json")
    payload["message"]["call"]["id"] = str(uuid.uuid4())
    return await _vapi(client, payload)


async def tool_call(client: httpx.AsyncClient) -> httpx.Response:
    payload = fixture("vapi", "tool_calls.json")
    message = payload["message"]
    message["call"]["id"] = str(uuid.uuid4())
    message["toolCallList"] = [
        {
            "id": f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {"name": "identify_caller", "arguments": "{}"},
        }
    ]
    message.pop("toolWithToolCallList", None)
    message.pop("toolCalls", None)
    return await _vapi(client, payload)


async def _vapi(client: httpx.AsyncClient, payload: dict[str, Any]) -> httpx.Response:
    return await client.post(
        VAPI,
        content=json.dumps(payload),
        headers={"Content-Type": "application/json", "X-Vapi-Secret": VAPI_SECRET},
    )


async def each_kind(client: httpx.AsyncClient, times: int) -> dict[str, list[httpx.Response]]:
    """`times` of each webhook at once: inbound texts, Vapi transcript turns, tool calls."""
    kinds = {"sms": sms, "vapi": vapi_turn, "tool": tool_call}
    answers = await asyncio.gather(*(send(client) for send in kinds.values() for _ in range(times)))
    return {kind: list(answers[i * times : (i + 1) * times]) for i, kind in enumerate(kinds)}


def tool_errors(responses: list[httpx.Response]) -> list[str]:
    return [
        result["error"]
        for response in responses
        for result in response.json()["results"]
        if "error" in result
    ]


def statuses(answers: dict[str, list[httpx.Response]]) -> dict[str, list[int]]:
    return {kind: sorted({r.status_code for r in responses}) for kind, responses in answers.items()}


@pytest.mark.slow
async def test_an_idle_restart_costs_no_request_and_an_outage_answers_503(
    server: PrivateServer, client: httpx.AsyncClient
) -> None:
    before = await each_kind(client, 5)  # the pools now hold several connections each
    assert statuses(before) == {"sms": [200], "vapi": [200], "tool": [200]}

    server.restart()
    after_restart = await each_kind(client, 10)

    assert statuses(after_restart) == {"sms": [200], "vapi": [200], "tool": [200]}
    assert tool_errors(after_restart["tool"]) == []
    assert execute(server.url, "SELECT count(*) FROM cc_messages WHERE provider = 'twilio'") == [
        (15,)
    ]

    server.stop()
    started = time.monotonic()
    during = await each_kind(client, 6)
    waited = time.monotonic() - started
    ready = await client.get("/readyz")

    assert statuses(during) == {"sms": [503], "vapi": [503], "tool": [200]}
    for response in during["sms"] + during["vapi"]:
        assert response.json()["error"] == "database_unavailable"
        assert int(response.headers["retry-after"]) > 0
    errors = tool_errors(during["tool"])
    assert len(errors) == 6
    assert all(e.startswith("database_unavailable: ") for e in errors), errors
    assert ready.status_code == 503
    assert int(ready.headers["retry-after"]) > 0  # a load balancer's next probe, not at once
    # Each group of texts waits once for a connection, not once more for each of its texts.
    assert waited < 4 * WAIT_SECONDS

    server.start()
    after_outage = await each_kind(client, 5)

    assert statuses(after_outage) == {"sms": [200], "vapi": [200], "tool": [200]}
    assert tool_errors(after_outage["tool"]) == []
    assert (await client.get("/readyz")).status_code == 200


@pytest.mark.parametrize(
    "error",
    [
        PoolTimeout("couldn't get a connection after 5.00 sec"),
        psycopg.OperationalError("the connection is closed"),
        errors.AdminShutdown("terminating connection due to administrator command"),
        errors.CannotConnectNow("the database system is starting up"),
        errors.TooManyConnections("sorry, too many clients already"),
    ],
)
def test_a_database_that_cannot_serve_is_answered_503_with_retry_after(error: Exception) -> None:
    fault = database_fault(error)

    assert isinstance(fault, DatabaseUnavailable)
    assert (fault.http_status, fault.retry_after) == (503, 5)


@pytest.mark.parametrize(
    "error",
    [
        # The server answered these: the grouped texts' lock timeout is retried text by text.
        errors.LockNotAvailable("canceling statement due to lock timeout"),
        errors.QueryCanceled("canceling statement due to statement timeout"),
        errors.UniqueViolation("duplicate key"),
        ProviderUnavailable("503", provider="twilio", provider_code="http_503"),
        ValueError("a bug"),
    ],
)
def test_other_errors_are_not_taken_for_an_unavailable_database(error: Exception) -> None:
    assert database_fault(error) is None


def _raised_in_the_queue(error: Exception) -> None:
    with wrap_exceptions():  # what procrastinate's connector puts around each query
        raise error


def test_a_driver_error_wrapped_by_the_queue_is_still_seen() -> None:
    with pytest.raises(ConnectorException) as wrapped:
        _raised_in_the_queue(errors.AdminShutdown("terminating connection"))

    assert isinstance(database_fault(wrapped.value), DatabaseUnavailable)


async def test_the_pool_hands_out_no_connection_the_server_closed_and_waits_for_none(
    migrated_db: str,
) -> None:
    pool = connection_pool(migrated_db, name="test-pool", min_size=3, max_size=3, wait_seconds=5)
    await pool.open(wait=True)
    try:
        terminate = (
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = 'test-pool' AND datname = current_database()"
        )
        assert execute(migrated_db, terminate) == [(3,)]  # as a restart ends every session
        while execute(migrated_db, terminate) != [(0,)]:
            await asyncio.sleep(0.01)

        started = time.monotonic()
        async with pool.connection() as conn:
            cursor = await conn.execute("SELECT 1")
            assert await cursor.fetchone() == (1,)
        # psycopg_pool's own check would find the dead ones too, sleeping a second after each.
        assert time.monotonic() - started < 0.5
    finally:
        await pool.close()


async def test_metrics_answer_during_an_outage_without_the_job_queue(
    server: PrivateServer, client: httpx.AsyncClient
) -> None:
    server.stop()
    try:
        assert (await sms(client)).status_code == 503
        started = time.monotonic()
        response = await client.get("/metrics")
        took = time.monotonic() - started
    finally:
        server.start()

    assert response.status_code == 200, response.text
    families = {f.name: f for f in text_string_to_metric_families(response.text)}
    assert "switchboard_db_pool_connections" in families
    assert "switchboard_job_queue_depth" not in families
    assert took < QUEUE_READ_SECONDS + 1
    failed = {"provider": "twilio", "outcome": "failed", "reason": "database_unavailable"}
    assert [s.value for s in families["switchboard_webhooks"].samples if s.labels == failed] == [1]
