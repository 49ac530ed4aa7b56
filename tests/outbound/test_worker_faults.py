"""`switchboard worker` processes when the database goes away under them, and when one of them
is killed in the middle of a send: the queue is worked on, and nothing is left `doing`."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection

from switchboard.outbound.config import outbound_for
from switchboard.outbound.models import OutboundRequest
from switchboard.outbound.service import queue_message
from switchboard.outbound.worker import stalled_bound
from switchboard.preferences.models import ContactChannel, Purpose
from switchboard.settings import Settings
from tests.builders import execute
from tests.outbound.conftest import AGENT, OUR_EMAIL, OUR_NUMBER, PUBLIC_URL, SECRET_KEY
from tests.outbound.test_worker_command import environment, queue_otp
from tests.private_postgres import PrivateServer
from tests.providers.servers import ACCOUNT_SID, AUTH_TOKEN, SENDGRID_KEY, TwilioServer

pytestmark = pytest.mark.slow

PHONE = "+447700900123"
# Short, so that a test sees a dead worker's job run again within seconds.
STALLED_SECONDS = 3


@contextmanager
def worker_process(env: dict[str, str]) -> Iterator[subprocess.Popen[str]]:
    """`switchboard worker`, ended by the test (or killed when the test fails)."""
    with subprocess.Popen(
        [sys.executable, "-m", "switchboard.cli", "worker"],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        try:
            yield process
        finally:
            if process.poll() is None:
                process.kill()


def wait_for(what: str, ready: Callable[[], bool], seconds: float) -> float:
    """Seconds until `ready()`; fails after `seconds`."""
    start = time.monotonic()
    while not ready():
        assert time.monotonic() - start < seconds, f"{what}: not within {seconds} s"
        time.sleep(0.05)
    return time.monotonic() - start


def workers(url: str) -> int:
    count: int = execute(url, "SELECT count(*) FROM procrastinate_workers")[0][0]
    return count


def status_of(url: str, message_id: Any) -> str | None:
    found = execute(url, "SELECT status FROM cc_messages WHERE id = %s", (message_id,))
    status: str | None = found[0][0]
    return status


def test_a_worker_carries_on_across_a_database_restart(
    private_server: PrivateServer, tmp_path: Path
) -> None:
    url = private_server.url
    env = environment(
        tmp_path,
        url,
        OUTBOUND_PROVIDER="sandbox",
        OUTBOUND_STALLED_SECONDS=str(STALLED_SECONDS),
        SWITCHBOARD_DB_WAIT_SECONDS="1",
    )
    with worker_process(env) as worker:
        wait_for("the worker registers", lambda: workers(url) == 1, 15)

        private_server.stop()
        time.sleep(3)  # long enough for the worker's fetch, heartbeat and listener to fail
        private_server.start()
        message_id = queue_otp(url, tmp_path)

        wait_for("the message is sent", lambda: status_of(url, message_id) == "sent", 15)
        assert worker.poll() is None, worker.communicate()[1]
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, worker.communicate()[1]

    assert execute(url, "SELECT count(*) FROM cc_sandbox_outbox") == [(1,)]
    assert workers(url) == 0  # the one that lost the database was unregistered too
    assert execute(url, "SELECT count(*) FROM procrastinate_jobs") == [(0,)]


def live_environment(tmp_path: Path, url: str, twilio: TwilioServer) -> dict[str, str]:
    return environment(
        tmp_path,
        url,
        OUTBOUND_PROVIDER="live",
        SWITCHBOARD_PUBLIC_URL=PUBLIC_URL,
        SWITCHBOARD_SECRET_KEY=SECRET_KEY,
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_FROM_NUMBER=OUR_NUMBER,
        TWILIO_API_BASE_URL=twilio.base_url,
        SENDGRID_API_KEY=SENDGRID_KEY,
        SENDGRID_FROM_EMAIL=OUR_EMAIL,
        SENDGRID_API_BASE_URL=twilio.base_url,  # no email is sent here
        OUTBOUND_STALLED_SECONDS=str(STALLED_SECONDS),
    )


async def queue_sms(url: str, settings: Settings) -> Any:
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        request = OutboundRequest(ContactChannel.SMS, PHONE, Purpose.OTP, "Your login was approved")
        with outbound_for(settings) as outbound:
            return (await queue_message(conn, AGENT, request, outbound=outbound)).message_id


def test_a_job_of_a_worker_killed_mid_send_is_sent_by_another_within_the_bound(
    migrated_db: str, tmp_path: Path, twilio: TwilioServer, live_settings: Settings
) -> None:
    env = live_environment(tmp_path, migrated_db, twilio)
    bound = stalled_bound(live_settings.model_copy(update={"outbound_stalled_seconds": 3}))
    twilio.hold(1)  # the first send is received, and never answered
    with worker_process(env) as first:
        wait_for("the first worker registers", lambda: workers(migrated_db) == 1, 15)
        message_id = asyncio.run(queue_sms(migrated_db, live_settings))
        wait_for("the first worker sends", lambda: len(twilio.received) == 1, 15)
        with worker_process(env) as second:
            wait_for("the second worker registers", lambda: workers(migrated_db) == 2, 15)

            first.kill()  # SIGKILL, mid-send: no chance to give its job back
            first.wait(timeout=10)
            took = wait_for(
                "another worker sends it",
                lambda: status_of(migrated_db, message_id) == "sent",
                bound + 5,
            )

            assert took <= bound + 1  # the poll's own second, and this test's polling
            assert second.poll() is None
            second.send_signal(signal.SIGTERM)
            assert second.wait(timeout=30) == 0, second.communicate()[1]

    # Twilio had the first request when its sender died: it may have sent it, and the other
    # worker sent it again (the duplicate window, README's outbound section).
    assert [r.form["To"] for r in twilio.received] == [PHONE, PHONE]
    assert execute(migrated_db, "SELECT count(*) FROM procrastinate_jobs") == [(0,)]


def test_a_send_the_database_went_away_under_is_given_back_when_it_returns(
    private_server: PrivateServer, tmp_path: Path, twilio: TwilioServer, live_settings: Settings
) -> None:
    url = private_server.url
    # Long: only the worker giving its own jobs back can run this one again within the test.
    env = live_environment(tmp_path, url, twilio) | {
        "OUTBOUND_STALLED_SECONDS": "600",
        "SWITCHBOARD_DB_WAIT_SECONDS": "1",
    }
    twilio.hold(1)
    with worker_process(env) as worker:
        wait_for("the worker registers", lambda: workers(url) == 1, 15)
        message_id = asyncio.run(queue_sms(url, live_settings))
        wait_for("the worker sends", lambda: len(twilio.received) == 1, 15)

        private_server.stop()
        twilio.release()  # Twilio takes it; the worker cannot record that it did
        time.sleep(3)
        private_server.start()

        wait_for("the send is run again", lambda: status_of(url, message_id) == "sent", 15)
        assert worker.poll() is None
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, worker.communicate()[1]

    # The duplicate window: Twilio took the first, which the worker could not record.
    assert [r.form["To"] for r in twilio.received] == [PHONE, PHONE]
    assert workers(url) == 0
    assert execute(url, "SELECT count(*) FROM procrastinate_jobs") == [(0,)]


def test_a_send_whose_connection_is_lost_mid_statement_is_run_again(
    migrated_db: str, tmp_path: Path, twilio: TwilioServer, live_settings: Settings
) -> None:
    """The database answers again before the job's end is written (a restart of half a
    second, a connection ended): the job is run again, not marked failed with its message
    pending for ever."""
    env = live_environment(tmp_path, migrated_db, twilio) | {"OUTBOUND_STALLED_SECONDS": "600"}
    twilio.hold(1)
    with worker_process(env) as worker, psycopg.connect(migrated_db) as blocker:
        wait_for("the worker registers", lambda: workers(migrated_db) == 1, 15)
        message_id = asyncio.run(queue_sms(migrated_db, live_settings))
        wait_for("the worker sends", lambda: len(twilio.received) == 1, 15)
        # The worker's write of the outcome waits on this lock, and its connection is ended
        # in the middle of that statement, as a restart ends it.
        blocker.execute("SELECT 1 FROM cc_messages WHERE id = %s FOR UPDATE", (message_id,))
        twilio.release()
        wait_for("the outcome's write waits", lambda: len(waiting_on_a_lock(migrated_db)) == 1, 15)
        (waiting,) = waiting_on_a_lock(migrated_db)
        execute(migrated_db, "SELECT pg_terminate_backend(%s)", (waiting,))
        blocker.rollback()

        wait_for("the send is run again", lambda: status_of(migrated_db, message_id) == "sent", 15)
        assert worker.poll() is None
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=30) == 0, worker.communicate()[1]

    # The duplicate window: Twilio took the first, which the worker could not record.
    assert [r.form["To"] for r in twilio.received] == [PHONE, PHONE]
    assert execute(migrated_db, "SELECT count(*) FROM procrastinate_jobs") == [(0,)]


def waiting_on_a_lock(url: str) -> list[int]:
    rows = execute(
        url,
        "SELECT pid FROM pg_stat_activity"
        " WHERE application_name = 'switchboard-worker' AND wait_event_type = 'Lock'",
    )
    return [row[0] for row in rows]
