"""The application class and its routes: every request, the busiest webhook's included, passes
the same layers; a RequestRoute's endpoint is called with the Request alone, and is refused
where that would skip something FastAPI would give it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import ClassVar

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from switchboard.app import create_app
from switchboard.errors import MalformedBody, UnsupportedMediaType
from switchboard.http_app import RequestRoute, SwitchboardApp
from switchboard.metrics import Metrics
from switchboard.settings import Settings
from tests.conftest import MIGRATIONS_DIR

pytestmark = pytest.mark.anyio

INBOUND = "/webhooks/twilio/messages"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


class _Seen:
    """A pure ASGI middleware that notes the paths that pass through the app's stack."""

    paths: ClassVar[list[str]] = []

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            _Seen.paths.append(scope["path"])
        await self.app(scope, receive, send)


def _service(tmp_path: Path) -> FastAPI:
    """The service as create_app builds it, in development (its OpenAPI document served).
    Nothing here reaches the database: the requests are refused before they would."""
    settings = Settings(SWITCHBOARD_DATA_DIR=tmp_path, SWITCHBOARD_MIGRATIONS_DIR=MIGRATIONS_DIR)
    return create_app(settings, database_url="postgresql://unused")


def _client(app: ASGIApp) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    return httpx.AsyncClient(transport=transport, base_url="http://test")


async def test_a_middleware_added_to_the_app_sees_the_inbound_text_webhook(
    tmp_path: Path,
) -> None:
    app = _service(tmp_path)
    app.add_middleware(_Seen)
    _Seen.paths = []
    async with _client(app) as client:
        answer = await client.post(INBOUND, content=b"a=b", headers={"content-type": "text/plain"})

    assert answer.status_code == 415
    assert _Seen.paths == [INBOUND]


async def test_an_exception_handler_added_to_the_app_answers_the_inbound_text_webhook(
    tmp_path: Path,
) -> None:
    app = _service(tmp_path)

    @app.exception_handler(UnsupportedMediaType)
    async def ours(_: Request, exc: UnsupportedMediaType) -> JSONResponse:
        return JSONResponse({"handled_by": "the test"}, status_code=418)

    async with _client(app) as client:
        answer = await client.post(INBOUND, content=b"a=b", headers={"content-type": "text/plain"})

    assert (answer.status_code, answer.json()) == (418, {"handled_by": "the test"})


async def test_the_inbound_text_webhooks_errors_get_the_shared_answers(tmp_path: Path) -> None:
    async with _client(_service(tmp_path)) as client:
        refused = await client.post(INBOUND, content=b"a=b", headers={"content-type": "text/plain"})
        wrong_method = await client.get(INBOUND)
        document = await client.get("/openapi.json")

    assert refused.status_code == 415
    assert refused.json()["error"] == "unsupported_media_type"
    assert refused.headers["x-request-id"]
    assert wrong_method.status_code == 405
    assert wrong_method.json()["error"] == "method_not_allowed"
    assert wrong_method.headers["x-request-id"]
    operation = document.json()["paths"][INBOUND]["post"]
    assert operation["summary"] == "Inbound SMS or WhatsApp message"
    assert "415" in operation["responses"]


def _toy_router() -> APIRouter:
    router = APIRouter(prefix="/hooks")

    async def plain(request: Request) -> Response:
        body = await request.body()
        if body == b"refuse":
            raise MalformedBody("refused on purpose")
        if body == b"crash":
            raise RuntimeError("a bug")
        return Response(f"{request.app.title}:{body.decode()}", media_type="text/plain")

    router.add_api_route("/plain", plain, methods=["POST"], route_class_override=RequestRoute)
    return router


@pytest.fixture
async def toy(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    app = _service(tmp_path)
    app.include_router(_toy_router())
    async with _client(app) as client:
        yield client


async def test_a_request_routes_endpoint_is_called_with_the_request(
    toy: httpx.AsyncClient,
) -> None:
    answer = await toy.post("/hooks/plain", content=b"hello")

    assert (answer.status_code, answer.text) == (200, "Switchboard:hello")  # request.app


async def test_a_request_routes_errors_answer_as_every_routes_do(
    toy: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    refused = await toy.post("/hooks/plain", content=b"refuse")
    with caplog.at_level(logging.ERROR, logger="switchboard"):
        crashed = await toy.post("/hooks/plain", content=b"crash")

    assert refused.status_code == 400
    assert refused.json() == {"error": "malformed_body", "detail": "refused on purpose"}
    assert crashed.status_code == 500
    assert crashed.json()["error"] == "internal_error"
    assert "a bug" not in crashed.text
    assert any(record.exc_info and "a bug" in str(record.exc_info[1]) for record in caplog.records)


async def _depends() -> str:
    return "x"


def test_endpoints_that_take_more_than_the_request_are_refused() -> None:
    async def with_dependency(request: Request, value: str = Depends(_depends)) -> Response:
        return Response(value)

    async def with_query(request: Request, page: int = 1) -> Response:
        return Response(str(page))

    async def without_request() -> Response:
        return Response("none")

    for endpoint in (with_dependency, with_query, without_request):
        with pytest.raises(ValueError, match="takes more than the Request"):
            APIRouter().add_api_route(
                "/x", endpoint, methods=["POST"], route_class_override=RequestRoute
            )


def test_dependencies_a_router_or_an_include_adds_are_refused() -> None:
    async def plain(request: Request) -> Response:
        return Response("plain")

    guarded = APIRouter(dependencies=[Depends(_depends)])
    with pytest.raises(ValueError, match="takes more than the Request"):
        guarded.add_api_route("/x", plain, methods=["POST"], route_class_override=RequestRoute)

    # FastAPI builds an included route's handler when it first routes to it or documents it;
    # create_app documents every route before it returns.
    app = SwitchboardApp(metrics=Metrics())
    app.include_router(_toy_router(), dependencies=[Depends(_depends)])
    with pytest.raises(ValueError, match="takes more than the Request"):
        app.openapi()


def test_the_service_builds_every_routes_handler_before_it_serves(tmp_path: Path) -> None:
    app = _service(tmp_path)

    assert app.openapi_schema is not None


def test_a_request_route_with_a_body_limit_is_refused() -> None:
    async def plain(request: Request) -> Response:
        return Response("plain")

    with pytest.raises(ValueError, match="bounds its own body"):
        APIRouter().add_api_route(
            "/x", plain, methods=["POST"], route_class_override=RequestRoute, max_body_size=10
        )


def test_a_router_with_routers_in_it_is_added_by_including_it() -> None:
    outer = APIRouter(prefix="/outer")
    outer.include_router(_toy_router())

    with pytest.raises(ValueError, match="include it instead"):
        SwitchboardApp(metrics=Metrics()).add_routes_of(outer)
