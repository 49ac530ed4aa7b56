"""`switchboard simulate`: traffic signed as the providers sign it, and, against the real
service, every delivery accepted and stored once."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import uuid
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from sendgrid.helpers.eventwebhook import EventWebhook
from twilio.request_validator import RequestValidator

from switchboard.demo import load_demo_data
from switchboard.dev_secrets import load_or_create
from switchboard.outbound.handsets import Delivered
from switchboard.settings import SECRET_SETTINGS, Settings
from switchboard.simulate.payloads import Delivery, Endpoint
from switchboard.simulate.signing import Signer, service_secrets
from switchboard.simulate.traffic import Traffic
from tests.builders import execute
from tests.conftest import MIGRATIONS_DIR
from tests.test_cli import free_port, wait_until_ready

DEMO_TWILIO_INBOUND = 1  # the demo history holds one inbound SMS
PUBLIC_URL = "https://switchboard.bank.example"
STATUS_PATHS = {Endpoint.TWILIO_STATUS.value, Endpoint.SENDGRID_EVENTS.value}


def sent_message(n: int) -> Delivered:
    """A message the sandbox sent: a text, or every third an email."""
    email = n % 3 == 0
    return Delivered(
        message_id=str(uuid.UUID(int=n)),
        provider_message_id=f"SB{n:032x}",
        channel="email" if email else "sms",
        from_address="help@contact.example.com" if email else "+447700900999",
        to_address="ada@example.com" if email else "+447700900001",
        subject="Your code" if email else None,
        text="Your code is 123456",
        sent_at=0.0,
    )


def deliveries(seed: int, scripts: int) -> list[Delivery]:
    """Scripts as the runner plays them: every fourth, the status reports of a message the
    service sent, as the sandbox's handsets would show it."""
    traffic = Traffic(random.Random(seed))  # noqa: S311 - repeatable made-up traffic
    return [
        delivery
        for n in range(scripts)
        for delivery in (
            traffic.status_reports(sent_message(n)) if n % 4 == 0 else traffic.next_script()
        )
    ]


def test_a_seed_repeats_the_traffic() -> None:
    first, again, other = deliveries(3, 50), deliveries(3, 50), deliveries(4, 50)

    assert [d.key for d in first] == [d.key for d in again]
    assert [d.key for d in first] != [d.key for d in other]


def test_about_one_delivery_in_twenty_is_a_retry_of_an_earlier_one() -> None:
    sent = deliveries(5, 2_000)

    seen: set[str] = set()
    retries = 0
    for delivery in sent:
        retries += delivery.key in seen
        seen.add(delivery.key)

    assert 0.03 < retries / len(sent) < 0.07
    assert {d.endpoint for d in sent} == set(Endpoint)
    # A status report names the message the service sent, as its StatusCallback URL does.
    for report in (d for d in sent if d.endpoint is Endpoint.TWILIO_STATUS):
        assert report.fields is not None
        assert report.query is not None
        assert uuid.UUID(report.query["message_id"]).int == int(report.fields["MessageSid"][2:], 16)
    # Late reports exist only where order matters: status callbacks and email events.
    late = Counter(d.endpoint for d in sent if d.late)
    assert set(late) == {Endpoint.TWILIO_STATUS, Endpoint.SENDGRID_EVENTS}


def test_each_delivery_is_signed_as_its_provider_signs_it(tmp_path: Path) -> None:
    settings = Settings(
        SWITCHBOARD_DATA_DIR=tmp_path,
        SWITCHBOARD_MIGRATIONS_DIR=MIGRATIONS_DIR,
        SWITCHBOARD_PUBLIC_URL=PUBLIC_URL,
    )
    dev = load_or_create(tmp_path)
    signer = Signer(service_secrets(settings), settings.public_url)
    by_endpoint = {d.endpoint: d for d in deliveries(6, 200)}

    twilio = signer.sign(by_endpoint[Endpoint.TWILIO_MESSAGES])
    events = signer.sign(by_endpoint[Endpoint.SENDGRID_EVENTS])
    inbound = signer.sign(by_endpoint[Endpoint.SENDGRID_INBOUND])
    vapi = signer.sign(by_endpoint[Endpoint.VAPI])

    assert RequestValidator(dev.twilio_auth_token).validate(
        PUBLIC_URL + Endpoint.TWILIO_MESSAGES,
        dict(parse_qsl(twilio.content.decode(), keep_blank_values=True)),
        twilio.headers["X-Twilio-Signature"],
    )
    webhook = EventWebhook()
    assert webhook.verify_signature(
        events.content.decode(),
        events.headers["X-Twilio-Email-Event-Webhook-Signature"],
        events.headers["X-Twilio-Email-Event-Webhook-Timestamp"],
        webhook.convert_public_key_to_ecdsa(dev.sendgrid_event_public_key),
    )
    assert events.content.endswith(b"\r\n")
    assert inbound.query == {"key": dev.sendgrid_inbound_secret}
    assert inbound.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert vapi.headers["X-Vapi-Secret"] == dev.vapi_secret


def test_secrets_set_in_the_environment_win_and_an_unknown_event_key_is_not_used(
    tmp_path: Path,
) -> None:
    other_key = load_or_create(tmp_path / "other").sendgrid_event_public_key
    settings = Settings(
        SWITCHBOARD_DATA_DIR=tmp_path,
        SWITCHBOARD_MIGRATIONS_DIR=MIGRATIONS_DIR,
        TWILIO_AUTH_TOKEN="set-in-the-environment",  # noqa: S106 - a test value
        SENDGRID_EVENT_PUBLIC_KEY=other_key,
    )

    secrets = service_secrets(settings)

    assert secrets.twilio_auth_token == "set-in-the-environment"  # noqa: S105
    assert secrets.vapi_secret == load_or_create(tmp_path).vapi_secret
    assert secrets.sendgrid_event_key is None


def service_env(tmp_path: Path, database_url: str, public_url: str) -> dict[str, str]:
    """The service's environment: its own data folder (so dev secrets are generated there),
    its database, its public URL, and no provider secret from the caller's environment."""
    unset = {*SECRET_SETTINGS, "SWITCHBOARD_ENV", "DATABASE_URL"}
    env = {name: value for name, value in os.environ.items() if name not in unset}
    return env | {
        "DATABASE_URL": database_url,
        "SWITCHBOARD_DATA_DIR": str(tmp_path / "data"),
        "SWITCHBOARD_PUBLIC_URL": public_url,
        "COLUMNS": "200",
    }


@pytest.fixture
def service(migrated_db: str, tmp_path: Path) -> Iterator[dict[str, str]]:
    """`switchboard serve` on the test database with demo customers; yields its environment."""
    load_demo_data(migrated_db)
    port = free_port()
    env = service_env(tmp_path, migrated_db, f"http://127.0.0.1:{port}")
    log = tmp_path / "serve.log"
    with (
        log.open("w") as output,
        subprocess.Popen(
            [sys.executable, "-m", "switchboard.cli", "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,  # away from any .env file in the checkout
            stdout=output,
            stderr=subprocess.STDOUT,
        ) as process,
    ):
        try:
            wait_until_ready(f"http://127.0.0.1:{port}/readyz")
            yield env
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
    if "Traceback" in log.read_text():
        pytest.fail(f"the service logged an error:\n{log.read_text()}")


def simulate(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "switchboard.cli", "simulate", *args],
        env=env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_simulated_traffic_is_all_accepted_and_duplicates_store_nothing(
    service: dict[str, str], migrated_db: str, tmp_path: Path
) -> None:
    summary_path = tmp_path / "summary.json"

    result = simulate(
        service,
        tmp_path,
        "--rate",
        "20",
        "--duration",
        "3",
        "--seed",
        "7",
        "--json",
        str(summary_path),
    )

    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads(summary_path.read_text())
    assert summary["duplicates"] > 0
    for path, tally in summary["endpoints"].items():
        if path in STATUS_PATHS:
            # `serve` works no outbound queue: nothing was sent, so nothing is reported on
            # (test_demo_story.py runs the worker), and no report names a made-up message.
            assert tally["requests"] == 0, path
            continue
        assert tally["requests"] > 0, f"nothing was sent to {path}"
        assert tally["connection_errors"] == 0, path
        assert all(status.startswith("2") for status in tally["answers"]), (path, tally)

    unique = {
        path: tally["requests"] - tally["duplicates"]
        for path, tally in summary["endpoints"].items()
    }
    by_provider = dict(
        execute(
            migrated_db,
            "SELECT provider, count(*) FROM cc_messages WHERE direction = 'inbound'"
            " GROUP BY provider",
        )
    )
    assert by_provider["twilio"] == unique["/webhooks/twilio/messages"] + DEMO_TWILIO_INBOUND
    assert by_provider["sendgrid"] == unique["/webhooks/sendgrid/inbound"]
    assert by_provider["vapi"] > 0
    [(messages, distinct_ids)] = execute(
        migrated_db,
        "SELECT count(*), count(DISTINCT (provider, provider_message_id)) FROM cc_messages",
    )
    assert messages == distinct_ids
    [(conversations,)] = execute(
        migrated_db, "SELECT count(DISTINCT channel) FROM cc_conversations"
    )
    assert conversations >= 3  # SMS, email and voice at least
    # One audit record per Twilio delivery acted on; the retries wrote none.
    [(twilio_audit,)] = execute(
        migrated_db, "SELECT count(*) FROM cc_audit_logs WHERE actor_id = 'twilio'"
    )
    assert twilio_audit == unique["/webhooks/twilio/messages"] + unique["/webhooks/twilio/status"]


@pytest.mark.slow
def test_wrong_secrets_are_reported_and_exit_non_zero(
    service: dict[str, str], tmp_path: Path
) -> None:
    other_secrets = service | {"SWITCHBOARD_DATA_DIR": str(tmp_path / "elsewhere")}

    result = simulate(other_secrets, tmp_path, "--rate", "20", "--duration", "1", "--seed", "7")

    assert result.returncode == 1
    assert "403" in result.stdout
    assert "hint: 403 means the service checks other secrets" in result.stdout
    assert "Traceback" not in result.stderr


def test_a_service_that_is_not_running_is_a_clear_error(tmp_path: Path) -> None:
    env = service_env(tmp_path, "postgresql://unused", f"http://127.0.0.1:{free_port()}")

    result = simulate(env, tmp_path, "--duration", "1")

    assert result.returncode == 1
    assert "nothing answers at http://127.0.0.1:" in result.stderr
    assert "hint: start the service" in result.stderr
    assert "Traceback" not in result.stderr
