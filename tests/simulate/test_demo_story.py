"""The demo as a newcomer runs it: `switchboard run` (the service, its worker on the sandbox,
demo data and the demo's agents), then `switchboard simulate`; work lands in the people's
queues, status reports update the messages the service sent, and the printed agents sign in."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest

from switchboard.outbound.handsets import FILE_NAME as HANDSETS
from tests.builders import execute
from tests.test_cli import free_port, wait_until_ready
from tests.test_simulate import service_env, simulate

SAME_ORIGIN = {"Sec-Fetch-Site": "same-origin"}
# A seed whose first scripts hold a text about a lost card from a new number, an email
# dispute, and fraud calls whose codes go by text and by email.
SEED = "72"


@dataclass
class Running:
    env: dict[str, str]
    url: str
    log: Path

    def printed(self) -> str:
        return self.log.read_text()


@pytest.fixture
def demo(migrated_db: str, tmp_path: Path) -> Iterator[Running]:
    """`switchboard run` on the test database, as `make run` runs it."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = service_env(tmp_path, migrated_db, url)
    log = tmp_path / "run.log"
    with (
        log.open("w") as output,
        subprocess.Popen(
            [sys.executable, "-m", "switchboard.cli", "run", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=output,
            stderr=subprocess.STDOUT,
        ) as process,
    ):
        try:
            wait_until_ready(f"{url}/readyz", seconds=60)
            yield Running(env, url, log)
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    if "Traceback" in log.read_text():
        pytest.fail(f"the service logged an error:\n{log.read_text()}")


def simulated(demo: Running, tmp_path: Path) -> dict[str, Any]:
    summary_path = tmp_path / "summary.json"
    result = simulate(
        demo.env,
        tmp_path,
        "--url",
        demo.url,
        "--rate",
        "10",
        "--duration",
        "20",
        "--seed",
        SEED,
        "--json",
        str(summary_path),
    )
    assert result.returncode == 0, result.stdout + result.stderr
    summary: dict[str, Any] = json.loads(summary_path.read_text())
    return summary


@pytest.mark.slow
def test_one_run_queues_work_for_cards_disputes_and_fraud_and_reports_on_real_messages(
    demo: Running, migrated_db: str, tmp_path: Path
) -> None:
    started = time.monotonic()
    summary = simulated(demo, tmp_path)

    assert time.monotonic() - started < 60
    queued = dict(
        execute(
            migrated_db,
            "SELECT queue_name, count(*) FROM cc_assignments"
            " WHERE state = 'queued' AND source IS NOT NULL GROUP BY queue_name",
        )
    )  # the demo data's own item has no source
    assert queued.get("cards", 0) >= 1, queued
    assert queued.get("disputes", 0) >= 1, queued
    assert queued.get("fraud", 0) >= 1, queued
    # The fraud team's callers were verified by the code the assistant sent (a text's code
    # reaches assurance 2), and every transfer is the assistant's, audited as such.
    assert summary["codes_read"] >= 1
    [(verified,)] = execute(
        migrated_db,
        "SELECT count(*) FROM cc_assignments WHERE queue_name = 'fraud'"
        " AND source = 'ai_handoff' AND assurance_level = 2",
    )
    assert verified >= 1
    [(transfers,)] = execute(
        migrated_db,
        "SELECT count(*) FROM cc_audit_logs WHERE event_type = 'tool.transfer_to_human'"
        " AND actor_type = 'ai_agent' AND success",
    )
    assert transfers == queued["fraud"]
    _status_reports_are_about_messages_the_service_sent(summary, migrated_db, tmp_path)


def _status_reports_are_about_messages_the_service_sent(
    summary: dict[str, Any], migrated_db: str, tmp_path: Path
) -> None:
    """Of the same run (one run of the simulator is 20 s of the suite)."""
    sent = [
        json.loads(line)
        for line in (tmp_path / "data" / HANDSETS).read_text().splitlines()
        if line.strip()
    ]
    assert {one["channel"] for one in sent} >= {"sms", "email"}
    assert summary["reported_messages"] >= 2
    statuses = execute(
        migrated_db,
        "SELECT actor_id, success, error_code, output_redacted ->> 'message_id'"
        " FROM cc_audit_logs WHERE event_type = 'message.status'",
    )
    assert {actor for actor, *_ in statuses} == {"twilio", "sendgrid"}
    assert [row for row in statuses if not row[1]] == []  # no unknown_message
    reported = {message_id for *_, message_id in statuses}
    assert reported <= {one["message_id"] for one in sent}
    moved = execute(
        migrated_db,
        "SELECT channel, status FROM cc_messages m JOIN cc_sandbox_outbox o"
        " ON o.message_id = m.id WHERE m.id::text = ANY(%s)"
        " AND m.status IN ('delivered', 'failed', 'read')",
        (sorted(reported),),
    )
    assert {channel for channel, _ in moved} == {"sms", "email"}


def test_the_printed_demo_agents_sign_in_with_their_totp_secret(demo: Running) -> None:
    printed = demo.printed()
    assert f"sign in at {demo.url}/console" in printed
    found = re.findall(
        r"(agent|supervisor)\s+(\S+@demo\.example)\s+password (\S+)\s+TOTP secret ([A-Z2-7]+)",
        printed,
    )
    assert [(role, email) for role, email, *_ in found] == [
        ("agent", "agent@demo.example"),
        ("supervisor", "supervisor@demo.example"),
    ]
    for _, email, password, secret in found:
        with httpx.Client(base_url=demo.url, headers=SAME_ORIGIN) as client:
            first = client.post("/api/v1/session", json={"email": email, "password": password})
            assert first.status_code == 200, first.text
            assert first.json()["stage"] == "password"
            # The __Host- cookie is Secure: sent by hand over this plain-HTTP test server.
            cookie = {"Cookie": first.headers["set-cookie"].split(";", 1)[0]}
            second = client.post(
                "/api/v1/session/totp",
                json={"code": pyotp.TOTP(secret).now()},
                headers=cookie | {"X-CSRF-Token": first.json()["csrf_token"]},
            )
            assert second.status_code == 200, second.text
            assert second.json()["stage"] == "signed_in"
