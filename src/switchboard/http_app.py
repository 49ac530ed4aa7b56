"""The FastAPI application class, the route class of endpoints that take nothing but the
Request, and the JSON error answers every route shares.

Every request passes the same layers, in this order: the request layer (request_layer.py: its
id, access log line and metrics), then FastAPI's and Starlette's stack (error and exception
middleware, anything added with `add_middleware`, routing), then its route. Nothing is served
around them: a middleware or an exception handler added to the app sees every request.

What a route may skip, for speed, is below all of that: FastAPI's per-route work of solving
dependencies and validating parameters, which an endpoint that takes nothing but the Request
does not need. Such an endpoint is registered with `RequestRoute` (docs/benchmarks.md,
inbound SMS webhooks): it is called with the Request as it is, and its errors go to the app's
exception handlers like any route's; the OpenAPI document and a wrong method's 405 are
FastAPI's as usual. Routers are added with `add_routes_of`, their routes matched as the
app's own. Static files are served with `add_static_files`, under the same layers.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import fastapi.routing
from fastapi import APIRouter, FastAPI, Request
from fastapi.routing import APIRoute
from starlette.responses import JSONResponse, Response
from starlette.routing import Match, Mount, request_response
from starlette.staticfiles import StaticFiles
from starlette.types import Receive, Scope, Send

from switchboard.db import database_fault, input_fault
from switchboard.errors import SwitchboardError, WebhookRejected
from switchboard.http_limits import BodyLimits
from switchboard.metrics import Metrics
from switchboard.request_layer import RequestLayer

log = logging.getLogger("switchboard")

Endpoint = Callable[[Request], Coroutine[Any, Any, Response]]


class SwitchboardApp(FastAPI):
    """FastAPI under the request layer. `access_log`: one log line a request
    (request_layer.py); `metrics`: where requests and webhooks are counted (metrics.py), kept
    in `state.metrics`; `body_limits`: each route family's body limit (http_limits.py; by
    default the API's, for every route)."""

    def __init__(
        self,
        *,
        metrics: Metrics,
        access_log: bool = False,
        body_limits: BodyLimits | None = None,
        **options: Any,
    ) -> None:
        super().__init__(**options)
        self.state.metrics = metrics
        self._outer = RequestLayer(
            super().__call__,
            access_log=access_log,
            metrics=metrics,
            body_limits=body_limits or BodyLimits.api_only(),
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._outer(scope, receive, send)

    def add_routes_of(self, router: APIRouter) -> None:
        """The routes of `router`, each with its prefix, tags, responses and dependencies, as
        this app's own. FastAPI's include_router keeps an included router apart, and matches
        every request to it through it, which each of them pays for; our routers are given
        no options when they are added, so nothing is lost. Nested routers are refused."""
        if any(not isinstance(route, APIRoute) for route in router.routes):
            raise ValueError(f"{router.prefix} holds more than routes: include it instead")
        self.router.routes.extend(router.routes)

    def add_static_files(self, path: str, directory: Path, *, name: str, max_age: int) -> None:
        """Serve the files in `directory` under `path`, public and kept by browsers and
        proxies for `max_age` seconds (revalidated by ETag after that). A missing directory
        or file is a 404 like any other, not a failure at start-up."""
        files = _PublicFiles(directory=directory, check_dir=False, max_age=max_age)
        self.router.routes.append(_NamedMount(path, app=files, name=name))


class _NamedMount(Mount):
    """A Mount that names itself as the request's route, as FastAPI's routes do: the request
    layer counts and logs its requests under its path (one series for all its files), not
    under "-"."""

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        match, child = super().matches(scope)
        if match is Match.FULL:
            child["route"] = self
        return match, child


class _PublicFiles(StaticFiles):
    def __init__(self, *, max_age: int, **options: Any) -> None:
        super().__init__(**options)
        self._cache_control = f"public, max-age={max_age}"

    async def check_config(self) -> None:
        """Nothing to check: a missing directory serves 404s (lookup_path finds nothing)."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        # Also on a 304, which keeps the answer's Cache-Control.
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["Cache-Control"] = self._cache_control
        return response


class RequestRoute(APIRoute):
    """A route whose endpoint takes the Request alone and returns a Response: FastAPI calls it
    with the Request, without solving dependencies or validating parameters, which it has
    none of. Everything around the route (the request layer, the middleware, the exception
    handlers, routing) is as for any route.

    Refused for an endpoint that FastAPI would give anything but the Request (parameters,
    dependencies of its own or added by a router or an include, a response model): called
    this way, it would not get them. Refused when the route is built, or, for what an include
    adds, when FastAPI first documents or routes the included route, which create_app has it
    do before it returns.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        super().__init__(path, endpoint, **options)
        if self.max_body_size is not None:
            raise ValueError(f"{self.endpoint.__qualname__} bounds its own body")
        # Starlette's: the Request, and the app's exception handlers for what the endpoint
        # raises; without FastAPI's exit stacks, which close the dependencies it has none of.
        # (An included router's copy of the route keeps FastAPI's: see get_route_handler.)
        self.app = request_response(endpoint)

    def get_route_handler(self) -> Endpoint:
        # When a router is included FastAPI builds the route's handler again, for the route
        # as that inclusion sees it (its prefix, its added dependencies), and names it here.
        included = fastapi.routing._effective_route_context_var.get()
        route = included if included is not None and included.original_route is self else self
        dependant = route.dependant
        takes_more = (
            dependant.path_params
            or dependant.query_params
            or dependant.header_params
            or dependant.cookie_params
            or dependant.body_params
            or dependant.dependencies
            or route.response_model is not None
        )
        if takes_more or dependant.request_param_name is None:
            raise ValueError(f"{self.endpoint.__qualname__} takes more than the Request")
        endpoint: Endpoint = self.endpoint
        return endpoint


def error_response(request: Request, exc: Exception) -> JSONResponse:
    """The answer to a request that failed with `exc`: its stable code for a SwitchboardError,
    503 database_unavailable (with Retry-After) while the database cannot serve, 422
    invalid_input for text the database cannot hold (a NUL), and for
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
    refused_input = input_fault(exc)
    if refused_input is not None:
        exc = refused_input
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
