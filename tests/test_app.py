"""The service's own routes: readiness, and the API documentation served from the package."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from switchboard.app import create_app
from switchboard.settings import Settings
from tests.conftest import MIGRATIONS_DIR

pytestmark = pytest.mark.anyio
SECRETS = {
    "TWILIO_AUTH_TOKEN": "token",
    "SENDGRID_EVENT_PUBLIC_KEY": "key",
    "SENDGRID_INBOUND_SECRET": "inbound",
    "VAPI_SECRET": "vapi",
    "SWITCHBOARD_SECRET_KEY": "a long random string",
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def settings(tmp_path: Path, **values: Any) -> Settings:
    return Settings(
        SWITCHBOARD_DATA_DIR=tmp_path, SWITCHBOARD_MIGRATIONS_DIR=MIGRATIONS_DIR, **values
    )


async def serving(url: str, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings, database_url=url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def get(url: str, settings: Settings, path: str) -> httpx.Response:
    async for client in serving(url, settings):
        return await client.get(path)
    raise AssertionError("the service did not start")


async def test_production_is_ready_once_every_secret_is_set(
    migrated_db: str, tmp_path: Path
) -> None:
    production = {"SWITCHBOARD_ENV": "production", "OUTBOUND_PROVIDER": "live"}

    ready = await get(migrated_db, settings(tmp_path, **production, **SECRETS), "/readyz")
    unset = {**SECRETS, "VAPI_SECRET": ""}
    not_ready = await get(migrated_db, settings(tmp_path, **production, **unset), "/readyz")

    assert ready.status_code == 200, ready.text
    assert not_ready.status_code == 503
    assert not_ready.json() == {
        "error": "secret_not_configured",
        "detail": "settings not set: VAPI_SECRET",
    }


async def test_development_is_ready_without_secrets(migrated_db: str, tmp_path: Path) -> None:
    response = await get(migrated_db, settings(tmp_path), "/readyz")

    assert response.status_code == 200
