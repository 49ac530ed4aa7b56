"""The service on a freshly migrated database, driven over HTTP (in-process ASGI) with
deliveries signed by the providers' own libraries."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI
from twilio.request_validator import RequestValidator

from switchboard.app import create_app
from switchboard.settings import Settings
from tests.builders import link_customer
from tests.conftest import MIGRATIONS_DIR, service_url

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "webhooks"
PUBLIC_URL = "https://switchboard.bank.example"
TWILIO_TOKEN = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"  # noqa: S105 - a test value
INBOUND_SECRET = "test-inbound-secret"  # noqa: S105
VAPI_SECRET = "test-vapi-secret"  # noqa: S105


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def sendgrid_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def sendgrid_public_key(key: ec.EllipticCurvePrivateKey) -> str:
    der = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(der).decode()


@pytest.fixture
def settings(sendgrid_key: ec.EllipticCurvePrivateKey, tmp_path: Path) -> Settings:
    return Settings(
        SWITCHBOARD_DATA_DIR=tmp_path,
        SWITCHBOARD_MIGRATIONS_DIR=MIGRATIONS_DIR,
        SWITCHBOARD_PUBLIC_URL=PUBLIC_URL,
        TWILIO_AUTH_TOKEN=TWILIO_TOKEN,
        SENDGRID_EVENT_PUBLIC_KEY=sendgrid_public_key(sendgrid_key),
        SENDGRID_INBOUND_SECRET=INBOUND_SECRET,
        VAPI_SECRET=VAPI_SECRET,
        DEFAULT_PHONE_REGION="GB",
    )


async def running(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            yield client


@pytest.fixture
async def client(migrated_db: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The service; one customer is linked to +447700900001 and ada@example.com."""
    link_customer(migrated_db, phone="+447700900001", email="ada@example.com")
    async for client in running(
        create_app(settings, database_url=service_url(migrated_db), pool_size=25)
    ):
        yield client


def fixture(provider: str, name: str) -> Any:
    return json.loads((FIXTURES / provider / name).read_text(encoding="utf-8"))


def twilio_post_args(
    path: str, params: dict[str, str], token: str = TWILIO_TOKEN
) -> dict[str, Any]:
    """Keyword arguments for client.post: the form, signed as Twilio signs it."""
    signature = RequestValidator(token).compute_signature(PUBLIC_URL + path, params)
    return {
        "content": urlencode(params),
        "headers": {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": signature,
        },
    }
