"""Which provider sends, and what queueing needs of the settings."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from switchboard.errors import ConfigurationError
from switchboard.outbound.config import config_from
from switchboard.settings import OutboundMode, Settings
from tests.conftest import MIGRATIONS_DIR


def settings(tmp_path: Path, **values: str) -> Settings:
    return Settings(
        SWITCHBOARD_DATA_DIR=tmp_path, SWITCHBOARD_MIGRATIONS_DIR=MIGRATIONS_DIR, **values
    )


def test_the_sandbox_is_the_default_in_development_and_live_in_production(tmp_path: Path) -> None:
    assert settings(tmp_path).outbound_mode is OutboundMode.SANDBOX
    assert settings(tmp_path, SWITCHBOARD_ENV="production").outbound_mode is OutboundMode.LIVE
    assert settings(tmp_path, OUTBOUND_PROVIDER="live").outbound_mode is OutboundMode.LIVE


def test_the_sandbox_is_refused_at_start_up_in_production(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWITCHBOARD_ENV", "production")
    monkeypatch.setenv("OUTBOUND_PROVIDER", "sandbox")
    monkeypatch.setenv("SWITCHBOARD_MIGRATIONS_DIR", str(MIGRATIONS_DIR))

    with pytest.raises(ConfigurationError, match="sandbox is refused in production"):
        Settings.from_env()


def test_sender_addresses_are_normalised_and_the_seal_key_derived(tmp_path: Path) -> None:
    config = config_from(
        settings(
            tmp_path,
            TWILIO_FROM_NUMBER="07700 900999",
            SENDGRID_FROM_EMAIL="Support <Support@Bank.Example>",
            SWITCHBOARD_SECRET_KEY="a key",  # noqa: S106 - a test value
        )
    )

    assert (config.sms_from, config.email_from) == ("+447700900999", "support@bank.example")
    assert config.seal_key is not None
    assert config.mode_is_sandbox
    assert config_from(settings(tmp_path)).seal_key is None


def test_provider_base_urls_must_be_urls(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="http"):
        settings(tmp_path, TWILIO_API_BASE_URL="api.twilio.com")
    assert settings(
        tmp_path, SENDGRID_API_BASE_URL="https://api.eu.sendgrid.com/"
    ).sendgrid_api_base_url == ("https://api.eu.sendgrid.com")


# Run in a process of its own: this one has imported everything, and may hold an Outbound.
NOTHING_AT_IMPORT = """
import logging
import procrastinate
import switchboard.app, switchboard.cli, switchboard.outbound.worker
from switchboard.outbound import config, queue
from switchboard.settings import Settings

names = ("procrastinate.jobs", "procrastinate.worker", "procrastinate.worker.outbound")
def filters():
    return sum(len(logging.getLogger(name).filters) for name in names)

apps = [m for m in (config, queue) for v in vars(m).values() if isinstance(v, procrastinate.App)]
print("apps at import", len(apps))
print("filters at import", filters())
with config.outbound_for(Settings(SWITCHBOARD_MIGRATIONS_DIR=sys.argv[1])) as outbound:
    print("filters while open", filters(), TASK in outbound.queue.tasks)
print("filters after", filters())
"""


def test_importing_sets_nothing_up_the_outbound_queue_and_its_log_filters_live_with_it(
    tmp_path: Path,
) -> None:
    script = "import sys\nfrom switchboard.outbound.queue import TASK\n" + NOTHING_AT_IMPORT
    result = subprocess.run(
        [sys.executable, "-c", script, str(MIGRATIONS_DIR)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/bin:/bin", "SWITCHBOARD_DATA_DIR": str(tmp_path)},
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "apps at import 0",
        "filters at import 0",
        "filters while open 3 True",
        "filters after 0",
    ]
