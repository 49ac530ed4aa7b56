"""The HTTP service: wiring only. Rules live in the domain packages the routes call."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import psycopg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from switchboard import __version__
from switchboard.agent_api import conversations, customers, search, supervision, work
from switchboard.agent_sessions import http as agent_sessions
from switchboard.api_docs import READINESS_ERRORS, serve_api_docs
from switchboard.console.pages import serve_console
from switchboard.db import connection_pool
from switchboard.errors import (
    DatabaseUnavailable,
    MetricsNotConfigured,
    MetricsTokenInvalid,
    SwitchboardError,
)
from switchboard.heap import startup_objects_frozen
from switchboard.http_app import SwitchboardApp, error_json, error_response
from switchboard.http_limits import API_MAX_BODY_BYTES, BodyLimit, BodyLimits
from switchboard.live import http as live
from switchboard.live.listener import Listener
from switchboard.logs import configure_logging
from switchboard.messages.group_commit import InboundTexts
from switchboard.metrics import CONTENT_TYPE, Metrics, pool_gauges, queue_gauges
from switchboard.migrations.files import load_migrations
from switchboard.migrations.runner import LEDGER
from switchboard.outbound.config import outbound_for
from switchboard.outbound.queue import QUEUE
from switchboard.outbound.worker import check_live_settings, run_worker
from switchboard.settings import Settings
from switchboard.tools.context import tool_services
from switchboard.webhooks import sendgrid, twilio, vapi
from switchboard.webhooks.common import same_secret

log = logging.getLogger("switchboard")
# How long a scrape waits for the job queue's figures: a scrape must answer while the
# database is slow, and then does without them.
QUEUE_READ_SECONDS = 2.0


def create_app(
    settings: Settings, *, database_url: str, pool_size: int = 10, with_worker: bool = False
) -> SwitchboardApp:
    """The service for these settings; it connects when it starts, never at import.

    `with_worker` also runs the outbound queue's worker in this process (`switchboard run`):
    it starts after the API's pool and stops, letting sends in flight finish, before it.
    """
    latest = {m.id for m in load_migrations(settings.migrations_dir)}
    metrics = Metrics.for_process()
    if with_worker:
        check_live_settings(settings)  # refuse to start, rather than start without it

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        exits = contextlib.AsyncExitStack()
        pool = connection_pool(
            database_url,
            name="switchboard-api",
            min_size=2,
            max_size=pool_size,
            wait_seconds=settings.db_wait_seconds,
        )
        # No longer than a request would wait: the pool stops trying by then (db.py).
        await pool.open(wait=True, timeout=settings.db_wait_seconds)
        app.state.pool = pool
        # Its own connection, not the pool's; left before the pool closes, its streams ended.
        app.state.live = await exits.enter_async_context(
            Listener(
                database_url,
                per_agent=settings.live_streams_per_agent,
                most=settings.live_streams_most,
                wait_seconds=settings.db_wait_seconds,
                readers=max(1, pool_size // 2),
            )
        )
        # Left before the pool closes (below): the groups being written use it to fall back.
        app.state.inbound_texts = await exits.enter_async_context(InboundTexts(pool, metrics))
        outbound = exits.enter_context(outbound_for(settings))
        app.state.tool_services = await exits.enter_async_context(
            tool_services(settings, outbound, metrics)
        )
        exits.enter_context(startup_objects_frozen())
        worker = None
        if with_worker:
            worker = asyncio.create_task(
                run_worker(settings, database_url, metrics, install_signal_handlers=False),
                name="outbound worker",
            )
            worker.add_done_callback(_report_worker_end)
        try:
            yield
        finally:
            if worker is not None:
                worker.cancel()  # procrastinate stops fetching and lets running jobs end
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            await exits.aclose()
            await pool.close()

    app = SwitchboardApp(
        title="Switchboard",
        version=__version__,
        summary="A bank's omnichannel contact-center backend: provider webhooks in, "
        "conversations, messages and an append-only audit trail out.",
        lifespan=lifespan,
        metrics=metrics,
        access_log=settings.access_log_on,
        body_limits=BodyLimits(
            [module.body_limit_of(settings) for module in (twilio, sendgrid, vapi)],
            default=BodyLimit("/", API_MAX_BODY_BYTES),
        ),
        docs_url=None,  # FastAPI's pages load their scripts from a CDN: ours are below
        redoc_url=None,
        openapi_url="/openapi.json" if settings.api_docs_served else None,
    )
    if settings.api_docs_served:
        serve_api_docs(app)
    app.state.settings = settings
    _serve_routes(app, settings)

    @app.get("/healthz", tags=["health"], summary="The process is up")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["health"],
        responses=READINESS_ERRORS,
        summary="The database answers and is fully migrated, and (in production) every secret "
        "is set",
    )
    async def readyz(request: Request) -> JSONResponse:
        if (unset := _secrets_unset(settings)) is not None:
            return unset
        try:
            async with request.app.state.pool.connection(timeout=2) as conn:
                cursor = await conn.execute(f"SELECT id FROM {LEDGER}")
                applied = {str(row[0]) for row in await cursor.fetchall()}
        except (psycopg.Error, TimeoutError) as exc:
            unavailable = DatabaseUnavailable(f"the database did not answer: {exc}")
            return error_response(request, unavailable)  # with its Retry-After
        pending = sorted(latest - applied)
        if pending:
            return error_json(503, "database_behind", f"migrations pending: {', '.join(pending)}")
        # Our migrations: the ledger also holds the job queue's rows (010/…).
        return JSONResponse({"status": "ready", "migrations": len(applied & latest)})

    _serve_metrics(app, settings, metrics)
    _answer_errors(app)
    # FastAPI builds an included route's handler when it first routes to it or documents
    # it: documenting every route now makes a route it refuses (http_app.RequestRoute) fail
    # here, at start-up, rather than at its first request.
    app.openapi()
    return app


def _serve_routes(app: SwitchboardApp, settings: Settings) -> None:
    """The providers' webhooks, the agents' API and the console."""
    app.state.sign_in = agent_sessions.sign_in_for(settings)
    webhooks = (twilio.router, sendgrid.router, vapi.router)
    agents_api = (
        agent_sessions.router, conversations.router, customers.router, work.router,
        supervision.router, search.router, live.router,
    )  # fmt: skip
    for router in (*webhooks, *agents_api):
        app.add_routes_of(router)
    serve_console(app)


def _serve_metrics(app: FastAPI, settings: Settings, metrics: Metrics) -> None:
    """GET /metrics: what `metrics` counted, with the pools and the job queue as they are."""

    @app.get(
        "/metrics",
        tags=["health"],
        summary="Prometheus metrics (docs/operations.md), with the bearer token "
        "SWITCHBOARD_METRICS_TOKEN sets",
        response_class=Response,
    )
    async def metrics_page(request: Request) -> Response:
        refused = _metrics_refused(settings, request.headers.get("authorization"))
        if refused is not None:
            response = error_response(request, refused)
            if isinstance(refused, MetricsTokenInvalid):
                response.headers["WWW-Authenticate"] = "Bearer"
            return response
        state = request.app.state
        read = [pool_gauges({"api": state.pool, "texts": state.inbound_texts.group_pool})]
        try:
            async with asyncio.timeout(QUEUE_READ_SECONDS):
                async with state.pool.connection() as conn:
                    read += await queue_gauges(conn, shown=(QUEUE,))
        except (psycopg.Error, TimeoutError) as exc:
            log.warning("/metrics without the job queue's figures: %s", str(exc).strip())
        return Response(metrics.exposition(read), media_type=CONTENT_TYPE)


def _metrics_refused(settings: Settings, authorization: str | None) -> SwitchboardError | None:
    """Why /metrics is refused to this caller, or None. Open in development while no token
    is set; in production a token must be set, and sent."""
    token = settings.metrics_token.strip()
    if not token:
        if settings.production:
            return MetricsNotConfigured(
                "/metrics is refused: SWITCHBOARD_METRICS_TOKEN is not set",
                hint="set SWITCHBOARD_METRICS_TOKEN and give it to the scraper as a bearer token",
            )
        return None
    scheme, _, presented = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not same_secret(presented.strip(), token):
        return MetricsTokenInvalid(
            "/metrics needs the bearer token SWITCHBOARD_METRICS_TOKEN sets",
            hint="send Authorization: Bearer <SWITCHBOARD_METRICS_TOKEN>",
        )
    return None


def _answer_errors(app: FastAPI) -> None:
    """Every failure is answered as {"error", "detail"} with its status (http_app.py)."""

    @app.exception_handler(SwitchboardError)
    async def switchboard_error(request: Request, exc: SwitchboardError) -> JSONResponse:
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return error_json(422, "invalid_request", str(exc.errors()))

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code, "http_error")
        return error_json(exc.status_code, code, str(exc.detail))

    @app.exception_handler(psycopg.OperationalError)
    async def database_error(request: Request, exc: psycopg.OperationalError) -> JSONResponse:
        return error_response(request, exc)  # answered here, not re-raised to the server's log

    @app.exception_handler(psycopg.DataError)
    async def data_error(request: Request, exc: psycopg.DataError) -> JSONResponse:
        # Here rather than under Exception, which the server's error middleware re-raises to
        # its log after answering: text a caller sent that cannot be stored is their 422.
        return error_response(request, exc)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        return error_response(request, exc)


def _secrets_unset(settings: Settings) -> JSONResponse | None:
    """Not ready while a secret is unset in production (development generates them): a load
    balancer must not send the service traffic that its webhooks would refuse."""
    missing = settings.missing_secrets() if settings.production else []
    if not missing:
        return None
    return error_json(503, "secret_not_configured", f"settings not set: {', '.join(missing)}")


def _report_worker_end(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("the outbound worker stopped", exc_info=task.exception())


def create_app_from_env() -> FastAPI:
    """The app for each of uvicorn's worker processes (`switchboard serve --workers N`): its
    settings come from the environment, which `serve` completed with the database URL."""
    from switchboard.dev_secrets import with_dev_secrets  # noqa: PLC0415 - avoids an import cycle

    settings = with_dev_secrets(Settings.from_env())
    configure_logging(settings)  # a process of its own: serve's set-up is not inherited
    if not settings.database_url:
        raise SwitchboardError("worker started without DATABASE_URL; start it with serve")
    return create_app(settings, database_url=settings.database_url)
