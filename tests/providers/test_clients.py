"""The Twilio and SendGrid clients against the local servers: what they send, and how they
sort the providers' answers into taken, try again later, and refused."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from uuid import uuid4

import httpx
import pytest

from switchboard.errors import ProviderRejected, ProviderUnavailable
from switchboard.providers.messaging import Outgoing
from switchboard.providers.sendgrid_mail import SendGridMail
from switchboard.providers.twilio_messages import TwilioMessages
from tests.providers.servers import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    SENDGRID_KEY,
    SendGridServer,
    TwilioServer,
    serving,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def twilio_server() -> Iterator[TwilioServer]:
    with serving(TwilioServer()) as server:
        assert isinstance(server, TwilioServer)
        yield server


@pytest.fixture
def sendgrid_server() -> Iterator[SendGridServer]:
    with serving(SendGridServer()) as server:
        assert isinstance(server, SendGridServer)
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=5) as client:
        yield client


def twilio(
    http: httpx.AsyncClient, server: TwilioServer, token: str = AUTH_TOKEN
) -> TwilioMessages:
    return TwilioMessages(
        http,
        base_url=server.base_url,
        account_sid=ACCOUNT_SID,
        auth_token=token,
        from_number="+447700900999",
        messaging_service_sid=None,
        status_callback_url="https://switchboard.bank.example/webhooks/twilio/status",
    )


def sms(channel: str = "sms") -> Outgoing:
    return Outgoing(uuid4(), channel, "+447700900123", None, None, "Hello", "Hello")


async def test_twilio_answers_with_the_sid_status_and_sender(
    http: httpx.AsyncClient, twilio_server: TwilioServer
) -> None:
    accepted = await twilio(http, twilio_server).send(sms())

    assert accepted.provider == "twilio"
    assert accepted.provider_message_id.startswith("SM")
    assert len(accepted.provider_message_id) == 34
    assert (accepted.provider_status, accepted.from_address) == ("queued", "+447700900999")


@pytest.mark.parametrize(
    ("status", "error", "code"),
    [
        (500, ProviderUnavailable, "20500"),
        (503, ProviderUnavailable, "20503"),
        (429, ProviderUnavailable, "20429"),
        (400, ProviderRejected, "21211"),
    ],
)
async def test_twilio_errors_are_sorted_by_status_and_keep_twilios_code(
    http: httpx.AsyncClient,
    twilio_server: TwilioServer,
    status: int,
    error: type[Exception],
    code: str,
) -> None:
    twilio_server.answer(status)

    with pytest.raises(error) as raised:
        await twilio(http, twilio_server).send(sms())

    assert getattr(raised.value, "provider_code", None) == code


async def test_wrong_twilio_credentials_are_refused_not_retried(
    http: httpx.AsyncClient, twilio_server: TwilioServer
) -> None:
    with pytest.raises(ProviderRejected, match="Authenticate") as raised:
        await twilio(http, twilio_server, token="wrong").send(sms())  # noqa: S106

    assert raised.value.provider_code == "20003"


async def test_sendgrid_answers_with_the_x_message_id(
    http: httpx.AsyncClient, sendgrid_server: SendGridServer
) -> None:
    client = SendGridMail(
        http, base_url=sendgrid_server.base_url, api_key=SENDGRID_KEY, from_email="s@bank.example"
    )
    email = Outgoing(uuid4(), "email", "ada@example.com", None, "Hi", "Hello", "Hello")

    accepted = await client.send(email)

    assert accepted.provider == "sendgrid"
    assert len(accepted.provider_message_id) == 22
    assert (accepted.provider_status, accepted.from_address) == ("accepted", "s@bank.example")


async def test_a_wrong_sendgrid_key_is_refused_with_sendgrids_message(
    http: httpx.AsyncClient, sendgrid_server: SendGridServer
) -> None:
    client = SendGridMail(
        http, base_url=sendgrid_server.base_url, api_key="SG.wrong", from_email="s@bank.example"
    )
    email = Outgoing(uuid4(), "email", "ada@example.com", None, "Hi", "Hello", "Hello")

    with pytest.raises(ProviderRejected, match="authorization grant is invalid") as raised:
        await client.send(email)

    assert raised.value.provider_code == "http_401"
