"""GET /metrics: who may read it, and what it counts after real traffic (signed webhooks, a
tool call, a queued and sent code), in a format Prometheus parses."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from switchboard.app import create_app
from switchboard.errors import ConfigurationError
from switchboard.metrics import MULTIPROCESS_DIR, Metrics
from switchboard.settings import Settings
from tests.builders import link_customer
from tests.conftest import service_url
from tests.outbound.conftest import drain, make_settings
from tests.test_cli import free_port, wait_until_ready
from tests.tools.conftest import caller
from tests.webhooks.conftest import (
    PUBLIC_URL,
    TWILIO_TOKEN,
    VAPI_SECRET,
    fixture,
    running,
    twilio_post_args,
)

pytestmark = pytest.mark.anyio
INBOUND = "/webhooks/twilio/messages"
KNOWN_NUMBER = "+447700900001"
TOKEN = "metrics-token-for-tests"  # noqa: S105 - a test value
HEALTH_CHECKS = 40


def metrics_settings(tmp_path: Path, **overrides: Any) -> Settings:
    return make_settings(
        tmp_path,
        OUTBOUND_PROVIDER="sandbox",
        TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
        VAPI_SECRET=VAPI_SECRET,
        DEFAULT_PHONE_REGION="GB",
        **overrides,
    )


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    """Every sample of the scrape, by name and labels; parsing fails on a malformed page."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(
    scraped: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float:
    return scraped.get((name, frozenset(labels.items())), 0.0)


async def scrape(client: httpx.AsyncClient) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    return samples(response.text)


def sms(sid: str) -> dict[str, str]:
    return {**fixture("twilio", "inbound_sms.json"), "MessageSid": sid, "Body": "hello"}


async def test_metrics_count_requests_webhooks_tool_calls_sends_and_the_queue(
    migrated_db: str, tmp_path: Path
) -> None:
    link_customer(migrated_db, phone=KNOWN_NUMBER, email="ada@example.com")
    settings = metrics_settings(tmp_path)  # development, no token: open
    async for client in running(create_app(settings, database_url=service_url(migrated_db))):
        app: Any = client._transport.app  # type: ignore[attr-defined]
        first = twilio_post_args(INBOUND, sms("SMmetrics1"))
        assert (await client.post(INBOUND, **first)).status_code == 200
        assert (await client.post(INBOUND, **first)).status_code == 200  # Twilio's retry
        forged = {**first, "headers": {**first["headers"], "X-Twilio-Signature": "forged"}}
        assert (await client.post(INBOUND, **forged)).status_code == 403
        started = await caller(client, KNOWN_NUMBER).use("start_verification", channel="sms")
        assert started.get("code_sent") is True, started
        assert (await client.get("/card/4111111111111111")).status_code == 404
        assert (await client.request("BREW", "/healthz")).status_code == 405

        response = await client.get("/metrics")
        assert "4111111111111111" not in response.text  # a path is never a label
        queued = samples(response.text)
        unmatched = {"route": "-", "method": "GET", "status": "404"}
        assert value(queued, "switchboard_http_requests_total", **unmatched) == 1
        others = [k for k in queued if ("method", "other") in k[1] and k[0].endswith("_total")]
        assert [queued[k] for k in others] == [1], others
        route = {"route": INBOUND, "method": "POST"}
        assert value(queued, "switchboard_http_requests_total", **route, status="200") == 2
        assert value(queued, "switchboard_http_requests_total", **route, status="403") == 1
        assert value(queued, "switchboard_http_request_duration_seconds_count", **route) == 3
        hook = "switchboard_webhooks_total"
        assert value(queued, hook, provider="twilio", outcome="accepted", reason="") == 1
        assert value(queued, hook, provider="twilio", outcome="duplicate", reason="") == 1
        refused = {"provider": "twilio", "outcome": "refused", "reason": "invalid_signature"}
        assert value(queued, hook, **refused) == 1
        assert value(queued, hook, provider="vapi", outcome="accepted", reason="") == 1
        tool = {"tool": "start_verification"}
        assert value(queued, "switchboard_tool_calls_total", **tool, outcome="ok") == 1
        assert value(queued, "switchboard_tool_call_duration_seconds_count", **tool) == 1
        assert value(queued, "switchboard_inbound_group_size_sum") == 2
        assert value(queued, "switchboard_job_queue_depth", queue="outbound") == 1
        assert 0 < value(queued, "switchboard_job_queue_oldest_age_seconds", queue="outbound") < 60
        for pool in ("api", "texts"):
            for state in ("in_use", "idle", "waiting"):
                key = (
                    "switchboard_db_pool_connections",
                    frozenset({"pool": pool, "state": state}.items()),
                )
                assert key in queued, key
        assert value(queued, "switchboard_outbound_sends_total", provider="sandbox",
                     channel="sms", outcome="sent") == 0  # fmt: skip

        await drain(settings, migrated_db, metrics=app.state.metrics)
        sent = await scrape(client)
        assert value(sent, "switchboard_outbound_sends_total", provider="sandbox",
                     channel="sms", outcome="sent") == 1  # fmt: skip
        assert value(sent, "switchboard_job_queue_depth", queue="outbound") == 0
        # The first scrape is counted by the second, under its route's template.
        assert value(sent, "switchboard_http_requests_total", route="/metrics", method="GET",
                     status="200") == 1  # fmt: skip


async def test_metrics_are_refused_in_production_without_a_token(tmp_path: Path) -> None:
    settings = metrics_settings(tmp_path, SWITCHBOARD_ENV="production")
    app = create_app(settings, database_url="postgresql://unused")
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC_URL) as c:
        for headers in ({}, {"Authorization": "Bearer "}, {"Authorization": "Bearer anything"}):
            response = await c.get("/metrics", headers=headers)
            assert response.status_code == 403
            assert response.json()["error"] == "metrics_not_configured"


async def test_metrics_want_the_token_once_one_is_set(tmp_path: Path) -> None:
    for env in ("production", "development"):
        settings = metrics_settings(tmp_path, SWITCHBOARD_ENV=env, SWITCHBOARD_METRICS_TOKEN=TOKEN)
        app = create_app(settings, database_url="postgresql://unused")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as c:
            for authorization in (None, "Bearer wrong", f"Basic {TOKEN}", TOKEN):
                headers = {} if authorization is None else {"Authorization": authorization}
                response = await c.get("/metrics", headers=headers)
                assert response.status_code == 401, (env, authorization)
                assert response.json()["error"] == "metrics_token_invalid"
                assert response.headers["www-authenticate"] == "Bearer"


async def test_metrics_open_with_the_right_token(migrated_db: str, tmp_path: Path) -> None:
    settings = metrics_settings(tmp_path, SWITCHBOARD_METRICS_TOKEN=TOKEN)
    async for client in running(create_app(settings, database_url=service_url(migrated_db))):
        response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
        assert response.status_code == 200, response.text
        scraped = samples(response.text)
        assert value(scraped, "switchboard_job_queue_depth", queue="outbound") == 0


def test_serve_with_workers_counts_every_process_in_each_scrape(
    migrated_db: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k != MULTIPROCESS_DIR}
    env |= {"DATABASE_URL": migrated_db, "SWITCHBOARD_DATA_DIR": str(tmp_path)}
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    command = [sys.executable, "-m", "switchboard.cli", "serve", "--port", str(port)]
    with subprocess.Popen(
        [*command, "--workers", "2"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    ) as server:
        try:
            wait_until_ready(f"{base}/readyz")
            for _ in range(HEALTH_CHECKS):
                # A connection each, so that both processes get some of them.
                assert httpx.get(f"{base}/healthz", timeout=5).status_code == 200
            scrapes = [httpx.get(f"{base}/metrics", timeout=5).text for _ in range(6)]
        finally:
            server.send_signal(signal.SIGTERM)
            server.wait(timeout=30)

    health = {"route": "/healthz", "method": "GET", "status": "200"}
    for text in scrapes:
        assert value(samples(text), "switchboard_http_requests_total", **health) == HEALTH_CHECKS


def test_a_multiprocess_directory_named_too_late_is_refused(tmp_path: Path) -> None:
    # This process imported prometheus_client without PROMETHEUS_MULTIPROC_DIR: its values
    # stay in memory, and a scrape of the directory would show none of them.
    with pytest.raises(ConfigurationError, match=MULTIPROCESS_DIR):
        Metrics(multiprocess_dir=str(tmp_path))
