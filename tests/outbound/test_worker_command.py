"""`switchboard worker` and `switchboard run` as an operator runs them: the queue is worked,
misconfiguration is refused at start-up, and a signal stops it cleanly."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from psycopg import AsyncConnection

from switchboard.audit.models import Actor, ActorType
from switchboard.outbound.config import outbound_for
from switchboard.outbound.models import OutboundRequest
from switchboard.outbound.service import queue_message
from switchboard.preferences.models import ContactChannel, Purpose
from switchboard.settings import Settings
from tests.builders import execute
from tests.conftest import MIGRATIONS_DIR, service_url
from tests.test_cli import free_port, wait_until_ready

SYSTEM = Actor(ActorType.SYSTEM, "test")


def environment(tmp_path: Path, url: str | None, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("TWILIO", "SENDGRID", "OUTBOUND", "SWITCHBOARD", "DATABASE_URL"))
    }
    env["SWITCHBOARD_DATA_DIR"] = str(tmp_path)
    if url is not None:
        env["DATABASE_URL"] = service_url(url)
    return env | extra


def switchboard(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "switchboard.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=120,
        check=False,
    )


def queue_otp(url: str, tmp_path: Path) -> Any:
    """An OTP (allowed at any hour) queued for the sandbox, as the API would queue it."""
    settings = Settings(
        SWITCHBOARD_DATA_DIR=tmp_path,
        SWITCHBOARD_MIGRATIONS_DIR=MIGRATIONS_DIR,
        OUTBOUND_PROVIDER="sandbox",
    )

    async def queue() -> Any:
        async with await AsyncConnection.connect(url, autocommit=True) as conn:
            request = OutboundRequest(
                ContactChannel.SMS, "+447700900001", Purpose.OTP, "Your login was approved"
            )
            with outbound_for(settings) as outbound:
                return (await queue_message(conn, SYSTEM, request, outbound=outbound)).message_id

    return asyncio.run(queue())


def test_worker_burst_sends_what_is_queued_and_exits(migrated_db: str, tmp_path: Path) -> None:
    message_id = queue_otp(migrated_db, tmp_path)

    result = switchboard("worker", "--burst", env=environment(tmp_path, migrated_db))

    assert result.returncode == 0, result.stderr
    assert "outbound worker (sandbox)" in result.stdout
    assert execute(
        migrated_db, "SELECT status, provider FROM cc_messages WHERE id = %s", (message_id,)
    ) == [("sent", "sandbox")]
    assert execute(migrated_db, "SELECT count(*) FROM cc_sandbox_outbox") == [(1,)]


def test_the_sandbox_is_refused_in_production(migrated_db: str, tmp_path: Path) -> None:
    env = environment(
        tmp_path, migrated_db, SWITCHBOARD_ENV="production", OUTBOUND_PROVIDER="sandbox"
    )

    result = switchboard("worker", env=env)

    assert result.returncode == 1
    assert "configuration_error" in result.stderr
    assert "OUTBOUND_PROVIDER=sandbox is refused in production" in result.stderr
    assert "Traceback" not in result.stderr


def test_live_sending_without_credentials_names_what_is_missing(
    migrated_db: str, tmp_path: Path
) -> None:
    env = environment(tmp_path, migrated_db, OUTBOUND_PROVIDER="live")

    result = switchboard("worker", env=env)

    assert result.returncode == 1
    assert "OUTBOUND_PROVIDER=live needs TWILIO_ACCOUNT_SID" in result.stderr
    assert "SENDGRID_API_KEY" in result.stderr
    assert "TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID" in result.stderr
    assert "Traceback" not in result.stderr
    # Nothing was generated for it: only the webhook secrets are, in development.
    assert "SENDGRID_API_KEY" not in (tmp_path / "dev-secrets.json").read_text()


def test_sigterm_stops_a_waiting_worker_cleanly(migrated_db: str, tmp_path: Path) -> None:
    with subprocess.Popen(
        [sys.executable, "-m", "switchboard.cli", "worker"],
        env=environment(tmp_path, migrated_db),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None
        assert "outbound worker" in process.stdout.readline()
        deadline = time.monotonic() + 15
        while not execute(migrated_db, "SELECT count(*) FROM procrastinate_workers")[0][0]:
            assert time.monotonic() < deadline, "the worker never registered"
            time.sleep(0.05)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0

    assert execute(migrated_db, "SELECT count(*) FROM procrastinate_workers") == [(0,)]


def test_run_works_the_queue_beside_the_server_and_stops_with_it(
    migrated_db: str, tmp_path: Path
) -> None:
    port = free_port()
    with subprocess.Popen(
        [sys.executable, "-m", "switchboard.cli", "run", "--port", str(port)],
        env=environment(tmp_path, migrated_db),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as process:
        wait_until_ready(f"http://127.0.0.1:{port}/readyz")
        message_id = queue_otp(migrated_db, tmp_path)
        deadline = time.monotonic() + 15
        query = "SELECT status FROM cc_messages WHERE id = %s"
        while execute(migrated_db, query, (message_id,)) != [("sent",)]:
            assert time.monotonic() < deadline, "the message was never sent"
            time.sleep(0.1)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0

    assert execute(migrated_db, "SELECT count(*) FROM procrastinate_workers") == [(0,)]
