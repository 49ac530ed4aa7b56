"""The Verify client on its own: configuration, and answers that are not what they should be."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from switchboard.errors import OtpNotConfigured
from switchboard.providers.twilio_verify import TwilioVerifyClient, VerifyError
from switchboard.settings import Settings
from tests.providers.twilio_verify_server import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    SERVICE_SID,
    VerifyService,
    running_verify_server,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def verify_server() -> Iterator[VerifyService]:
    with running_verify_server() as service:
        yield service


def settings(**values: str) -> Settings:
    return Settings(
        _env_file=None,  # type: ignore[call-arg]
        SWITCHBOARD_MIGRATIONS_DIR=Path(__file__).resolve().parents[2] / "migrations",
        **values,
    )


def test_missing_settings_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("TWILIO_ACCOUNT_SID", "TWILIO_VERIFY_SERVICE_SID"):
        monkeypatch.delenv(name, raising=False)

    with pytest.raises(OtpNotConfigured, match="TWILIO_ACCOUNT_SID, TWILIO_VERIFY_SERVICE_SID"):
        TwilioVerifyClient.from_settings(settings(TWILIO_AUTH_TOKEN=AUTH_TOKEN))


async def test_the_settings_choose_the_server_service_and_credentials(
    verify_server: VerifyService,
) -> None:
    configured = settings(
        TWILIO_VERIFY_BASE_URL=verify_server.url + "/",
        TWILIO_VERIFY_SERVICE_SID=SERVICE_SID,
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
    )
    async with TwilioVerifyClient.from_settings(configured) as client:
        started = await client.start(to="+447700900123", channel="sms")

    assert (started.status, started.sid.startswith("VE")) == ("pending", True)


async def test_an_answer_without_a_sid_is_an_error(verify_server: VerifyService) -> None:
    verify_server.answer_next("start", 201, {"status": "pending"})
    async with client_of(verify_server) as client:
        with pytest.raises(VerifyError, match="without a verification sid") as raised:
            await client.start(to="+447700900123", channel="sms")

    assert (raised.value.http_status, raised.value.unavailable) == (201, False)


async def test_an_error_answer_keeps_twilios_status_and_code(verify_server: VerifyService) -> None:
    async with client_of(verify_server) as client:
        with pytest.raises(VerifyError) as raised:
            await client.start(to="+447700900123", channel="carrier-pigeon")

    assert (raised.value.http_status, raised.value.code, raised.value.message) == (
        400,
        60200,
        "Invalid parameter",
    )


async def test_a_server_that_is_not_there_is_unavailable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with TwilioVerifyClient(
        base_url=f"http://127.0.0.1:{port}",
        service_sid=SERVICE_SID,
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
    ) as client:
        with pytest.raises(VerifyError, match="could not be reached") as raised:
            await client.start(to="+447700900123", channel="sms")

    assert raised.value.unavailable


async def test_a_sid_that_is_not_one_never_reaches_a_url(verify_server: VerifyService) -> None:
    async with client_of(verify_server) as client:
        with pytest.raises(ValueError, match="not a verification sid"):
            await client.cancel(verification_sid="../../Accounts")

    assert verify_server.requests == []


def client_of(service: VerifyService) -> TwilioVerifyClient:
    return TwilioVerifyClient(
        base_url=service.url,
        service_sid=SERVICE_SID,
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
    )
