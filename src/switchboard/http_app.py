"""The FastAPI application class, with a shorter way in for the busiest webhook, and the JSON
error answers every route shares.

Every request first passes the request layer (request_layer.py: its id and access log line),
the directly served ones included: the shortcut below sits under it, not around it.

A request through FastAPI passes a dozen ASGI layers before its endpoint runs (telemetry,
error and exception middleware, an exit stack for dependencies, a body limit, router and
route matching, dependency solving): a good part of the service's CPU per inbound text at
peak load (docs/benchmarks.md, "Served directly"). An endpoint that takes nothing but the
Request and needs none of that (no dependencies, no response model, its own body limit) can
be `serve_directly`-ed: its POSTs are handed to it straight from the application's entry,
with the same error answers, while the route stays registered with FastAPI for everything
else (the OpenAPI document, a wrong method's 405, a root path).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from switchboard.db import database_fault
from switchboard.errors import SwitchboardError, WebhookRejected
from switchboard.metrics import Metrics
from switchboard.request_layer import RequestLayer

log = logging.getLogger("switchboard")

Endpoint = Callable[[Request], Awaitable[Response]]


class SwitchboardApp(FastAPI):
    """FastAPI under the request layer, plus the endpoints it was told to serve directly.
    `access_log`: one log line a request (request_layer.py); `metrics`: where requests and
    webhooks are counted (metrics.py), kept in `state.metrics`."""

    def __init__(self, *, metrics: Metrics, access_log: bool = False, **options: Any) -> None:
        super().__init__(**options)
        self._direct: dict[str, tuple[APIRoute, Endpoint]] = {}
        self.state.metrics = metrics
        self._outer = RequestLayer(self._dispatch, access_log=access_log, metrics=metrics)

    def serve_directly(self, router: APIRouter, endpoint: Endpoint) -> None:
        """Hand the POSTs to `endpoint` (a route of `router`, included in this app) to it
        without FastAPI's layers.

        Refused, at start-up, for an endpoint that FastAPI would give anything but the
        Request, or a router that adds dependencies: serving it directly would skip them.
        """
        routes = [r for r in router.routes if isinstance(r, APIRoute) and r.endpoint is endpoint]
        if len(routes) != 1 or routes[0].methods != {"POST"}:
            raise ValueError(f"{endpoint.__qualname__} is not the endpoint of one POST route")
        route = routes[0]
        if self.url_path_for(route.name) != route.path:
            raise ValueError(f"{route.path} is not where this app serves {endpoint.__qualname__}")
        dependant = route.dependant
        takes_more = (
            dependant.path_params
            or dependant.query_params
            or dependant.header_params
            or dependant.cookie_params
            or dependant.body_params
            or dependant.dependencies
            or router.dependencies
            or self.router.dependencies
            or route.response_model is not None
        )
        if takes_more or dependant.request_param_name is None:
            raise ValueError(f"{endpoint.__qualname__} takes more than the Request")
        self._direct[route.path] = (route, endpoint)

    @property
    def served_directly(self) -> dict[str, Endpoint]:
        """{path: endpoint} of the POSTs served directly."""
        return {path: endpoint for path, (_, endpoint) in self._direct.items()}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._outer(scope, receive, send)

    async def _dispatch(self, scope: Scope, receive: Receive, send: Send) -> None:
        direct = None
        if scope["type"] == "http" and scope["method"] == "POST" and not scope.get("root_path"):
            direct = self._direct.get(scope["path"])
        if direct is None:
            await super().__call__(scope, receive, send)
            return
        route, endpoint = direct
        scope["app"] = self  # what FastAPI sets first, for request.app
        scope["route"] = route  # what the router sets, for the access log
        request = Request(scope, receive, send)
        try:
            response = await endpoint(request)
        except Exception as exc:  # the same answers as the app's exception handlers
            response = error_response(request, exc)
        await response(scope, receive, send)


def error_response(request: Request, exc: Exception) -> JSONResponse:
    """The answer to a request that failed with `exc`: its stable code for a SwitchboardError,
    503 database_unavailable (with Retry-After) while the database cannot serve, and for
    anything else a 500 that gives nothing away (the error goes to the log)."""
    fault = database_fault(exc)
    if fault is not None and fault is not exc:
        log.warning(
            "database unavailable on %s %s: %s",
            request.method,
            request.scope["path"],
            str(exc).strip(),
        )
        exc = fault
    if isinstance(exc, SwitchboardError):
        refused = isinstance(exc, WebhookRejected) or exc.http_status < 500
        _count_refused_webhook(request, "refused" if refused else "failed", exc.code)
        response = error_json(exc.http_status, exc.code, exc.message)
        if exc.retry_after:
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    log.error("unhandled error on %s %s", request.method, request.scope["path"], exc_info=exc)
    _count_refused_webhook(request, "failed", "internal_error")
    return error_json(500, "internal_error", "something went wrong; nothing was stored")


_WEBHOOKS = "/webhooks/"


def _count_refused_webhook(request: Request, outcome: str, code: str) -> None:
    """A webhook answered with an error: refused (its signature, secret, body, media type or
    size) or failed (the database, a fault), by its provider and error code."""
    template: str = getattr(request.scope.get("route"), "path", "")
    if not template.startswith(_WEBHOOKS):
        return
    provider = template[len(_WEBHOOKS) :].split("/", 1)[0]
    metrics: Metrics = request.app.state.metrics
    metrics.webhook(provider, outcome, code)


def error_json(status: int, code: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": code, "detail": detail}, status_code=status)
