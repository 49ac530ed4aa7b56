"""Which provider sends, and what queueing needs of the settings."""

from __future__ import annotations

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
