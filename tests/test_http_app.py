"""The application class: endpoints served directly answer as FastAPI would, skip its layers,
and are refused where skipping them would change what the endpoint gets."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from switchboard.app import create_app
from switchboard.errors import MalformedBody
from switchboard.http_app import SwitchboardApp
from switchboard.metrics import Metrics
from switchboard.settings import Settings
from switchboard.webhooks import twilio
from tests.conftest import MIGRATIONS_DIR

pytestmark = pytest.mark.anyio


async def _depends() -> str:
    return "x"


def _toy_router() -> APIRouter:
    router = APIRouter(prefix="/hooks")

    @router.post("/direct")
    async def direct(request: Request) -> Response:
        body = await request.body()
        if body == b"refuse":
            raise MalformedBody("refused on purpose")
        if body == b"crash":
            raise RuntimeError("a bug")
        return Response(f"{request.app.title}:{body.decode()}", media_type="text/plain")

    @router.post("/usual")
    async def usual(request: Request) -> Response:
        return Response("usual", media_type="text/plain")

    return router


class _Seen:
    """A pure ASGI middleware that notes the paths that pass through FastAPI's stack."""

    paths: ClassVar[list[str]] = []

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            _Seen.paths.append(scope["path"])
        await self.app(scope, receive, send)


def _toy_app() -> SwitchboardApp:
    app = SwitchboardApp(title="toy", metrics=Metrics())
    router = _toy_router()
    app.include_router(router)
    direct = next(r for r in router.routes if getattr(r, "name", "") == "direct")
    app.serve_directly(router, direct.endpoint)  # type: ignore[attr-defined]
    app.add_middleware(_Seen)
    return app


@pytest.fixture
async def toy() -> AsyncIterator[httpx.AsyncClient]:
    _Seen.paths = []
    transport = httpx.ASGITransport(app=_toy_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_direct_endpoint_answers_without_passing_fastapis_layers(
    toy: httpx.AsyncClient,
) -> None:
    direct = await toy.post("/hooks/direct", content=b"hello")
    usual = await toy.post("/hooks/usual", content=b"hello")

    assert (direct.status_code, direct.text) == (200, "toy:hello")  # request.app is the app
    assert (usual.status_code, usual.text) == (200, "usual")
    assert _Seen.paths == ["/hooks/usual"]


async def test_a_direct_endpoints_errors_answer_as_the_apps_handlers_do(
    toy: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    refused = await toy.post("/hooks/direct", content=b"refuse")
    with caplog.at_level(logging.ERROR, logger="switchboard"):
        crashed = await toy.post("/hooks/direct", content=b"crash")

    assert refused.status_code == 400
    assert refused.json() == {"error": "malformed_body", "detail": "refused on purpose"}
    assert crashed.status_code == 500
    assert crashed.json()["error"] == "internal_error"
    assert "a bug" not in crashed.text
    assert any(record.exc_info and "a bug" in str(record.exc_info[1]) for record in caplog.records)


async def test_other_methods_and_the_openapi_document_stay_fastapis(
    toy: httpx.AsyncClient,
) -> None:
    wrong_method = await toy.get("/hooks/direct")
    document = await toy.get("/openapi.json")

    assert wrong_method.status_code == 405
    assert "/hooks/direct" in document.json()["paths"]
    assert _Seen.paths == ["/hooks/direct", "/openapi.json"]


async def test_a_root_path_leaves_the_request_to_fastapi() -> None:
    transport = httpx.ASGITransport(app=_toy_app(), root_path="/api")
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        _Seen.paths = []
        answer = await client.post("/api/hooks/direct", content=b"hi")

    assert answer.text == "toy:hi"
    assert _Seen.paths == ["/api/hooks/direct"]


def test_endpoints_that_take_more_than_the_request_are_refused() -> None:
    router = APIRouter()

    @router.post("/with-dependency")
    async def with_dependency(request: Request, value: str = Depends(_depends)) -> Response:
        return Response(value)

    @router.post("/with-query")
    async def with_query(request: Request, page: int = 1) -> Response:
        return Response(str(page))

    @router.get("/read")
    async def read(request: Request) -> Response:
        return Response("read")

    app = SwitchboardApp(metrics=Metrics())
    app.include_router(router)
    for endpoint, error in (
        (with_dependency, "takes more than the Request"),
        (with_query, "takes more than the Request"),
        (read, "is not the endpoint of one POST route"),
    ):
        with pytest.raises(ValueError, match=error):
            app.serve_directly(router, endpoint)


def test_a_router_that_adds_to_its_routes_is_refused() -> None:
    guarded = APIRouter(dependencies=[Depends(_depends)])

    @guarded.post("/guarded")
    async def guarded_endpoint(request: Request) -> Response:
        return Response("guarded")

    moved = _toy_router()
    app = SwitchboardApp(metrics=Metrics())
    app.include_router(guarded)
    app.include_router(moved, prefix="/elsewhere")
    direct = next(r for r in moved.routes if getattr(r, "name", "") == "direct")

    with pytest.raises(ValueError, match="takes more than the Request"):
        app.serve_directly(guarded, guarded_endpoint)
    with pytest.raises(ValueError, match="is not where this app serves"):
        app.serve_directly(moved, direct.endpoint)  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="is not the endpoint of one POST route"):
        app.serve_directly(APIRouter(), guarded_endpoint)


def test_the_service_serves_inbound_texts_directly(tmp_path: Path) -> None:
    settings = Settings(SWITCHBOARD_DATA_DIR=tmp_path, SWITCHBOARD_MIGRATIONS_DIR=MIGRATIONS_DIR)
    app = create_app(settings, database_url="postgresql://unused")

    assert isinstance(app, FastAPI)
    assert app.served_directly == {"/webhooks/twilio/messages": twilio.inbound_message}
