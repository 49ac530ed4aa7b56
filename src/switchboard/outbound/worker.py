"""Running the outbound queue: the providers chosen from the settings, and procrastinate's
worker with what the send task needs. Beside it, the routing sweep (assignments.service.sweep):
offers nobody answered, and those of agents gone silent, back to their queues.

`switchboard worker` runs it on its own; `switchboard run` runs it inside the server's
process, beside the API (app.py), and stops it with the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from procrastinate import App, PsycopgConnector, signals
from procrastinate.exceptions import ConnectorException
from procrastinate.worker import Worker
from psycopg_pool import AsyncConnectionPool

from switchboard.assignments import service as routing
from switchboard.db import connection_pool, database_fault
from switchboard.errors import ConfigurationError
from switchboard.heap import startup_objects_frozen
from switchboard.metrics import Metrics
from switchboard.outbound.config import config_from
from switchboard.outbound.dispatch import DispatchContext
from switchboard.outbound.handsets import handsets_path
from switchboard.outbound.queue import CONTEXT_KEY, QUEUE, outbound_queue
from switchboard.outbound.sandbox import SandboxSender
from switchboard.providers.messaging import MessageSender
from switchboard.providers.sendgrid_mail import SendGridMail
from switchboard.providers.twilio_messages import TwilioMessages
from switchboard.settings import OutboundMode, Settings
from switchboard.sla import service as sla

CONCURRENCY = 4  # sends in flight at once; each mostly waits on the provider
POLL_SECONDS = 1.0  # how often a waiting worker looks for jobs due for a retry
RECONNECT_SECONDS = 1.0  # how often a worker that lost the database asks for it again
# Offers time out after tens of seconds (cc_queues.offer_timeout): a sweep this often returns
# one to its queue within a few seconds of its expiry. Every worker sweeps; sweeps running at
# once take different rows (SKIP LOCKED).
ROUTING_SWEEP_SECONDS = 5.0
log = logging.getLogger(__name__)


def check_live_settings(settings: Settings) -> None:
    """Live sending needs every credential; name each missing one at start-up."""
    if settings.outbound_mode is not OutboundMode.LIVE:
        if settings.production:
            raise ConfigurationError("OUTBOUND_PROVIDER=sandbox is refused in production")
        return
    missing = [
        name
        for name, value in (
            ("TWILIO_ACCOUNT_SID", settings.twilio_account_sid),
            ("TWILIO_AUTH_TOKEN", settings.twilio_auth_token),
            ("SENDGRID_API_KEY", settings.sendgrid_api_key),
            ("SENDGRID_FROM_EMAIL", settings.sendgrid_from_email),
        )
        if not value.strip()
    ]
    if not (settings.twilio_from_number.strip() or settings.twilio_messaging_service_sid.strip()):
        missing.append("TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID")
    if missing:
        raise ConfigurationError(
            f"OUTBOUND_PROVIDER=live needs {', '.join(missing)}",
            hint="set them (see the settings table in README.md), or use "
            "OUTBOUND_PROVIDER=sandbox in development",
        )


def senders_for(
    settings: Settings, client: httpx.AsyncClient, pool: AsyncConnectionPool[Any]
) -> dict[str, MessageSender]:
    check_live_settings(settings)
    if settings.outbound_mode is OutboundMode.SANDBOX:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        sandbox = SandboxSender(pool, handsets_file=handsets_path(settings.data_dir))
        return {"sms": sandbox, "whatsapp": sandbox, "email": sandbox}
    sender = config_from(settings)
    twilio = TwilioMessages(
        client,
        base_url=settings.twilio_api_base_url,
        account_sid=settings.twilio_account_sid.strip(),
        auth_token=settings.twilio_auth_token.strip(),
        from_number=sender.sms_from,
        messaging_service_sid=sender.messaging_service_sid,
        status_callback_url=settings.public_url + "/webhooks/twilio/status",
    )
    sendgrid = SendGridMail(
        client,
        base_url=settings.sendgrid_api_base_url,
        api_key=settings.sendgrid_api_key.strip(),
        from_email=sender.email_from or settings.sendgrid_from_email.strip(),
    )
    return {"sms": twilio, "whatsapp": twilio, "email": sendgrid}


@asynccontextmanager
async def delivery_context(
    settings: Settings, database_url: str, metrics: Metrics
) -> AsyncIterator[DispatchContext]:
    """Everything the send task needs, open for as long as the block runs."""
    check_live_settings(settings)
    pool = connection_pool(
        database_url,
        name="switchboard-worker",
        min_size=1,
        max_size=CONCURRENCY + 3,  # the jobs, procrastinate's queries, its listener, the sweep
        wait_seconds=settings.db_wait_seconds,
    )
    await pool.open()  # not waiting: a worker started before the database waits for it
    try:
        async with httpx.AsyncClient(timeout=settings.outbound_timeout_seconds) as client:
            yield DispatchContext(
                pool=pool,
                senders=senders_for(settings, client, pool),
                seal_key=config_from(settings).seal_key,
                max_attempts=settings.outbound_max_attempts,
                retry_base_seconds=settings.outbound_retry_base_seconds,
                metrics=metrics,
            )
    finally:
        await pool.close()


async def run_worker(
    settings: Settings,
    database_url: str,
    metrics: Metrics,
    *,
    burst: bool = False,
    install_signal_handlers: bool = True,
) -> None:
    """Send queued messages until stopped (SIGINT/SIGTERM, or cancelled), or with `burst`
    until none is due.

    Losing the database does not stop a waiting worker: it waits for the database to answer,
    then works on as a new procrastinate worker, and the jobs it was running when it lost the
    database are run again at once. Jobs of a worker that died (killed, machine lost) are run
    again by the others once it has been silent for OUTBOUND_STALLED_SECONDS (stalled_bound).
    Its sends are counted in `metrics`: the app's, when it runs inside the server.
    """
    async with delivery_context(settings, database_url, metrics) as context:
        # An App of its own for this run: procrastinate keeps the pool it was opened with.
        with outbound_queue(PsycopgConnector()) as app:
            async with app.open_async(context.pool):
                with startup_objects_frozen():
                    if burst:
                        await _retry_stalled_jobs(app, settings)
                        await _worker(app, context, settings, burst=True).run()
                        return
                    stop_on_signals = install_signal_handlers
                    await _work_until_stopped(app, context, settings, stop_on_signals)


def stalled_bound(settings: Settings) -> float:
    """At most how long after a worker dies its jobs are run again by another: silent for
    OUTBOUND_STALLED_SECONDS since its last heartbeat, found by the next look for stalled
    jobs, then fetched at the next poll."""
    stalled = settings.outbound_stalled_seconds
    return stalled + _every(settings) + POLL_SECONDS


def _every(settings: Settings) -> float:
    # How often a worker beats and looks for stalled jobs: a third of the silence that
    # makes a worker dead, so one late heartbeat is not taken for a death.
    return settings.outbound_stalled_seconds / 3


def _worker(app: App, context: DispatchContext, settings: Settings, *, burst: bool) -> Worker:
    # Built here, not by app.run_worker_async, to read its worker_id after a lost database.
    return Worker(
        app,
        queues=[QUEUE],
        name=QUEUE,
        wait=not burst,
        concurrency=CONCURRENCY,
        fetch_job_polling_interval=POLL_SECONDS,
        listen_notify=not burst,
        delete_jobs="successful",
        additional_context={CONTEXT_KEY: context},
        install_signal_handlers=False,  # the signals stop _work_until_stopped's loop
        shutdown_graceful_timeout=settings.outbound_timeout_seconds + 5,
        update_heartbeat_interval=_every(settings),
        stalled_worker_timeout=settings.outbound_stalled_seconds,
    )


async def _work_until_stopped(
    app: App, context: DispatchContext, settings: Settings, stop_on_signals: bool
) -> None:
    """procrastinate's worker stops, or raises, when the database goes away (a failed fetch,
    heartbeat or listener): run a new one each time the database answers again."""
    stopping = asyncio.Event()
    running: list[Worker] = []

    def stop() -> None:
        stopping.set()
        for worker in running:
            worker.stop()  # stops fetching; the sends in flight end

    sweeper = asyncio.create_task(_retry_stalled_jobs_every(app, settings), name="stalled jobs")
    routing_sweeper = asyncio.create_task(sweep_routing_every(context.pool), name="routing")
    try:
        with signals.on_stop(stop) if stop_on_signals else contextlib.nullcontext():
            lost: int | None = None  # the id of a worker that lost the database
            while not stopping.is_set():
                await _until_the_database_answers(context.pool, stopping)
                worker = _worker(app, context, settings, burst=False)
                running[:] = [worker]
                try:
                    if lost is not None:
                        # Its jobs lose their worker and are stalled: run again below, now.
                        await app.job_manager.unregister_worker(lost)
                        lost = None
                    await _retry_stalled_jobs(app, settings)
                    if stopping.is_set():  # no await from here to run() clearing its stop
                        break
                    await worker.run()
                except Exception as exc:
                    if database_fault(exc) is None:
                        raise
                    log.warning("the outbound worker lost the database: %s", _first_line(exc))
                else:
                    if stopping.is_set():
                        break
                    log.warning("the outbound worker stopped on a lost connection; restarting")
                lost = worker.worker_id or lost  # set while it could not unregister itself
                # Not at once: a worker that stops for a reason that lasts would spin.
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stopping.wait(), RECONNECT_SECONDS)
    finally:
        for task in (sweeper, routing_sweeper):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


async def sweep_routing_every(
    pool: AsyncConnectionPool[Any], seconds: float = ROUTING_SWEEP_SECONDS
) -> None:
    """The routing sweep, every `seconds`, until cancelled; a lost database is waited out. Its
    first sweep to succeed looks at every customer message the clocks have not heeded (the
    worker may have been away); the later ones at the last hour's (sla.HEED_WITHIN)."""
    caught_up = False
    while True:
        await asyncio.sleep(seconds)
        try:
            async with pool.connection() as conn:
                await routing.sweep(conn, heed_within=sla.HEED_WITHIN if caught_up else None)
            caught_up = True
        except Exception as exc:
            if database_fault(exc) is None:
                log.exception("the routing sweep failed")


async def _until_the_database_answers(
    pool: AsyncConnectionPool[Any], stopping: asyncio.Event
) -> None:
    told = False
    while not stopping.is_set():
        try:
            async with pool.connection(timeout=RECONNECT_SECONDS) as conn:
                await AsyncConnectionPool.check_connection(conn)
        except Exception as exc:
            if database_fault(exc) is None:
                raise
            if not told:
                log.warning("waiting for the database: %s", _first_line(exc))
                told = True
        else:
            if told:
                log.warning("the database answers again")
            return


async def _retry_stalled_jobs_every(app: App, settings: Settings) -> None:
    while True:
        await asyncio.sleep(_every(settings))
        try:
            await _retry_stalled_jobs(app, settings)
        except Exception as exc:
            if database_fault(exc) is None:
                log.exception("could not look for stalled jobs")
            # else: the worker's loop is waiting for the database too


async def _retry_stalled_jobs(app: App, settings: Settings) -> None:
    """Run again the jobs of workers silent for OUTBOUND_STALLED_SECONDS (or gone): a message
    already recorded as sent is not sent again (delivery.py)."""
    seconds = settings.outbound_stalled_seconds
    for job in await app.job_manager.get_stalled_jobs(queue=QUEUE, seconds_since_heartbeat=seconds):
        try:
            await app.job_manager.retry_job(job)
        except ConnectorException as exc:
            if database_fault(exc) is not None:
                raise
            continue  # another worker ran it again first
        log.warning("job %s of a worker silent for %.0f s or more is run again", job.id, seconds)


def _first_line(exc: BaseException) -> str:
    cause = exc.__cause__ or exc
    return (str(cause).strip().splitlines() or [type(cause).__name__])[0]
