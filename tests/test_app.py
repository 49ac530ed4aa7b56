"""The service's own routes: readiness, and the API documentation served from the package."""

from __future__ import annotations

import re
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


async def test_the_docs_pages_load_only_assets_the_service_serves(
    migrated_db: str, tmp_path: Path
) -> None:
    async for client in serving(migrated_db, settings(tmp_path)):
        pages = [await client.get("/docs"), await client.get("/redoc")]
        assets = set()
        for page in pages:
            assert page.status_code == 200
            assert "://" not in page.text  # nothing from another host, no CDN
            assets |= set(re.findall(r"""(?:src|href)=["']?([^"' >]+)""", page.text))
            assert "'/openapi.json'" in page.text or '"/openapi.json"' in page.text
        answers = {asset: await client.get(asset) for asset in sorted(assets)}
        document = await client.get("/openapi.json")

    assert assets == {
        "/docs/assets/swagger-ui-bundle.js",
        "/docs/assets/swagger-ui.css",
        "/docs/assets/redoc.standalone.js",
        "/docs/assets/favicon.png",
    }
    assert {asset: r.status_code for asset, r in answers.items()} == dict.fromkeys(assets, 200)
    assert "javascript" in answers["/docs/assets/swagger-ui-bundle.js"].headers["content-type"]
    assert len(answers["/docs/assets/swagger-ui-bundle.js"].content) > 100_000
    assert document.status_code == 200


async def test_the_document_describes_the_error_answers(migrated_db: str, tmp_path: Path) -> None:
    document = (await get(migrated_db, settings(tmp_path), "/openapi.json")).json()

    error = document["components"]["schemas"]["ErrorBody"]
    assert set(error["properties"]) == {"error", "detail"}
    assert set(error["required"]) == {"error", "detail"}
    reference = {"$ref": "#/components/schemas/ErrorBody"}
    for path in (
        "/webhooks/twilio/messages",
        "/webhooks/twilio/status",
        "/webhooks/sendgrid/inbound",
        "/webhooks/sendgrid/events",
        "/webhooks/vapi",
    ):
        answers = document["paths"][path]["post"]["responses"]
        for status in ("400", "403", "413", "415", "422", "500", "503"):
            assert answers[status]["content"]["application/json"]["schema"] == reference, (
                path,
                status,
            )
    readiness = document["paths"]["/readyz"]["get"]["responses"]["503"]
    assert readiness["content"]["application/json"]["schema"] == reference


@pytest.mark.parametrize(
    ("values", "served"),
    [
        ({"SWITCHBOARD_API_DOCS": "false"}, False),
        ({"SWITCHBOARD_ENV": "production", **SECRETS}, False),
        ({"SWITCHBOARD_ENV": "production", "SWITCHBOARD_API_DOCS": "true", **SECRETS}, True),
    ],
)
async def test_the_docs_can_be_turned_off_and_are_off_in_production_unless_asked(
    migrated_db: str, tmp_path: Path, values: dict[str, str], served: bool
) -> None:
    options = settings(tmp_path, OUTBOUND_PROVIDER="live", **values)
    async for client in serving(migrated_db, options):
        paths = ["/docs", "/redoc", "/openapi.json", "/docs/assets/swagger-ui-bundle.js"]
        answers = {path: (await client.get(path)).status_code for path in paths}

    assert answers == dict.fromkeys(paths, 200 if served else 404)
