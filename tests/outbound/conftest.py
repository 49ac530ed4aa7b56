"""Outbound tests: a migrated database, the providers as local HTTP servers, and the real
worker run in burst mode until the queue has nothing left to do."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from switchboard.audit.models import Actor, ActorType
from switchboard.metrics import Metrics
from switchboard.outbound.config import Outbound, outbound_for
from switchboard.outbound.worker import run_worker
from switchboard.settings import Settings
from tests.builders import execute
from tests.conftest import MIGRATIONS_DIR, service_url
from tests.providers.servers import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    SENDGRID_KEY,
    SendGridServer,
    TwilioServer,
)

AGENT = Actor(ActorType.AGENT, "agent-7")
OUR_NUMBER = "+447700900999"
OUR_EMAIL = "support@bank.example"
PUBLIC_URL = "https://switchboard.bank.example"
SECRET_KEY = "test-secret-key-for-sealing-0123456789"  # noqa: S105 - a test value
MAX_ATTEMPTS = 3


def make_settings(tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "SWITCHBOARD_DATA_DIR": tmp_path,
        "SWITCHBOARD_MIGRATIONS_DIR": MIGRATIONS_DIR,
        "SWITCHBOARD_PUBLIC_URL": PUBLIC_URL,
        "SWITCHBOARD_SECRET_KEY": SECRET_KEY,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": OUR_NUMBER,
        "SENDGRID_FROM_EMAIL": OUR_EMAIL,
        "OUTBOUND_MAX_ATTEMPTS": MAX_ATTEMPTS,
        "OUTBOUND_RETRY_BASE_SECONDS": 0.02,
        "OUTBOUND_TIMEOUT_SECONDS": 5,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
def sandbox_settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path, OUTBOUND_PROVIDER="sandbox")


@pytest.fixture
def outbound(request: pytest.FixtureRequest) -> Iterator[Outbound]:
    """What the API would queue with: built from live_settings when the test runs with them
    (itself or through another fixture), else from sandbox_settings."""
    name = "live_settings" if "live_settings" in request.fixturenames else "sandbox_settings"
    with outbound_for(request.getfixturevalue(name)) as built:
        yield built


@pytest.fixture
def live_settings(tmp_path: Path, twilio: TwilioServer, sendgrid: SendGridServer) -> Settings:
    return make_settings(
        tmp_path,
        OUTBOUND_PROVIDER="live",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_API_BASE_URL=twilio.base_url,
        SENDGRID_API_KEY=SENDGRID_KEY,
        SENDGRID_API_BASE_URL=sendgrid.base_url,
    )


async def drain(
    settings: Settings, url: str, *, seconds: float = 20, metrics: Metrics | None = None
) -> None:
    """Run the worker (as the service connects) until no job is waiting, waking for retries
    scheduled in the future; its sends are counted in `metrics` (the app's, say)."""
    metrics = metrics or Metrics()
    deadline = time.monotonic() + seconds
    while True:
        await run_worker(
            settings, service_url(url), metrics, burst=True, install_signal_handlers=False
        )
        due = execute(
            url,
            "SELECT extract(epoch FROM min(coalesce(scheduled_at, now()) - now()))::float"
            " FROM procrastinate_jobs WHERE status IN ('todo', 'doing')",
        )[0][0]
        if due is None:
            return
        if time.monotonic() > deadline:
            raise AssertionError("the queue did not drain in time")
        await asyncio.sleep(max(0.0, min(due, 1.0)))


def message_row(url: str, message_id: Any) -> dict[str, Any]:
    found = execute(url, "SELECT to_jsonb(m) FROM cc_messages AS m WHERE id = %s", (message_id,))
    assert found, f"no message {message_id}"
    row: dict[str, Any] = found[0][0]
    return row


def audit_events(url: str) -> list[tuple[Any, ...]]:
    """(event_type, success, error_code, actor_type) in the order they were written."""
    return execute(
        url,
        "SELECT event_type, success, error_code, actor_type FROM cc_audit_logs"
        " WHERE event_type LIKE 'message.%' ORDER BY created_at, event_type",
    )
