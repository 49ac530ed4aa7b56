"""With OTP_METHOD=twilio_verify the same tools verify the caller through Twilio Verify (a local
server speaking its API); nothing goes through the outbound queue."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from switchboard.app import create_app
from switchboard.settings import Settings
from tests.builders import execute
from tests.conftest import service_url
from tests.outbound.conftest import make_settings
from tests.providers.twilio_verify_server import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    SERVICE_SID,
    VerifyService,
    running_verify_server,
)
from tests.tools.conftest import KNOWN_NUMBER, caller, end_call, report, said, say
from tests.webhooks.conftest import VAPI_SECRET, running

pytestmark = pytest.mark.anyio


@pytest.fixture
def verify() -> Iterator[VerifyService]:
    with running_verify_server() as service:
        yield service


@pytest.fixture
async def verify_client(
    migrated_db: str, tmp_path: Path, verify: VerifyService, customer: uuid.UUID
) -> AsyncIterator[httpx.AsyncClient]:
    settings: Settings = make_settings(
        tmp_path,
        VAPI_SECRET=VAPI_SECRET,
        OTP_METHOD="twilio_verify",
        TWILIO_ACCOUNT_SID=ACCOUNT_SID,
        TWILIO_AUTH_TOKEN=AUTH_TOKEN,
        TWILIO_VERIFY_SERVICE_SID=SERVICE_SID,
        TWILIO_VERIFY_BASE_URL=verify.url,
    )
    async for client in running(create_app(settings, database_url=service_url(migrated_db))):
        yield client


async def test_a_caller_verified_by_twilio_verify_reaches_level_2(
    verify_client: httpx.AsyncClient, migrated_db: str, verify: VerifyService
) -> None:
    call = caller(verify_client, KNOWN_NUMBER)

    started = await call.use("start_verification", channel="sms")
    wrong = await call.use("check_verification", code="000001")
    checked = await call.use("check_verification", code=verify.code_for(KNOWN_NUMBER))

    assert started["destination"] == "+44••••••0001"
    assert (wrong["verified"], wrong["attempts_left"]) == (False, 4)
    assert (checked["verified"], checked["assurance_level"]) == (True, 2)
    assert "cases" in await call.use("list_cases")
    assert execute(
        migrated_db, "SELECT provider, status, left(provider_request_id, 2) FROM cc_auth_sessions"
    ) == [("twilio_verify", "verified", "VE")]
    assert execute(migrated_db, "SELECT count(*) FROM procrastinate_jobs")[0][0] == 0


async def test_with_twilio_verify_every_code_shaped_run_of_the_call_rests_masked(
    verify_client: httpx.AsyncClient, migrated_db: str, verify: VerifyService
) -> None:
    call = caller(verify_client, KNOWN_NUMBER)
    await call.use("start_verification", channel="sms")
    code = verify.code_for(KNOWN_NUMBER)
    assert (await call.use("check_verification", code=code))["verified"] is True

    # Only Twilio knows the code, so after the check too every run that could be one goes.
    await say(call, f"It was {code}, and I paid 1250 on the 3rd", 1)
    await end_call(
        call,
        transcript=f"User: {' '.join(code)}.\n",
        summary=f"The caller read out {code} and asked about 1250 pounds at 2024-05-01.",
    )

    assert said(migrated_db)[0] == f"It was {'•' * len(code)}, and I paid •••• on the 3rd"
    summary = f"The caller read out {'•' * len(code)} and asked about •••• pounds at ••••-••-••."
    assert report(migrated_db) == (summary, summary, f"User: {' '.join('•' * len(code))}.\n")
