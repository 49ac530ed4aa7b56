"""Running the outbound queue: the providers chosen from the settings, and procrastinate's
worker with what the send task needs.

`switchboard worker` runs it on its own; `switchboard run` runs it inside the server's
process, beside the API (app.py), and stops it with the server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from procrastinate import PsycopgConnector
from psycopg_pool import AsyncConnectionPool

from switchboard.db import connection_pool
from switchboard.errors import ConfigurationError
from switchboard.heap import startup_objects_frozen
from switchboard.outbound import config as outbound_config
from switchboard.outbound.delivery import DeliveryContext
from switchboard.outbound.queue import CONTEXT_KEY, QUEUE, queue
from switchboard.outbound.sandbox import SandboxSender
from switchboard.providers.messaging import MessageSender
from switchboard.providers.sendgrid_mail import SendGridMail
from switchboard.providers.twilio_messages import TwilioMessages
from switchboard.settings import OutboundMode, Settings

CONCURRENCY = 4  # sends in flight at once; each mostly waits on the provider
POLL_SECONDS = 1.0  # how often a waiting worker looks for jobs due for a retry
HEARTBEAT_SECONDS = 10.0
# A worker silent this long has died (killed, machine lost): its jobs are run again.
STALLED_SECONDS = 30.0


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
        sandbox = SandboxSender(pool)
        return {"sms": sandbox, "whatsapp": sandbox, "email": sandbox}
    sender = outbound_config.config_from(settings)
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
async def delivery_context(settings: Settings, database_url: str) -> AsyncIterator[DeliveryContext]:
    """Everything the send task needs, open for as long as the block runs."""
    check_live_settings(settings)
    outbound_config.install(settings)
    pool = connection_pool(
        database_url,
        name="switchboard-worker",
        min_size=1,
        max_size=CONCURRENCY + 2,  # the jobs, procrastinate's own queries, its listener
        wait_seconds=settings.db_wait_seconds,
    )
    await pool.open(wait=True, timeout=30)
    try:
        async with httpx.AsyncClient(timeout=settings.outbound_timeout_seconds) as client:
            yield DeliveryContext(
                pool=pool,
                senders=senders_for(settings, client, pool),
                seal_key=outbound_config.config_from(settings).seal_key,
                max_attempts=settings.outbound_max_attempts,
                retry_base_seconds=settings.outbound_retry_base_seconds,
            )
    finally:
        await pool.close()


async def run_worker(
    settings: Settings,
    database_url: str,
    *,
    burst: bool = False,
    install_signal_handlers: bool = True,
) -> None:
    """Send queued messages until stopped (SIGINT/SIGTERM, or cancelled), or with `burst`
    until none is due."""
    async with delivery_context(settings, database_url) as context:
        # A connector of its own for this run: procrastinate keeps the pool it was opened
        # with, so the module's App lends its connector slot only while the worker runs.
        with queue.replace_connector(PsycopgConnector()) as app:
            async with app.open_async(context.pool):
                # A job a dead worker left running would wait forever: run it again (its
                # message is sent unless it already has a status; see delivery.py).
                for job in await app.job_manager.get_stalled_jobs(
                    queue=QUEUE, seconds_since_heartbeat=STALLED_SECONDS
                ):
                    await app.job_manager.retry_job(job)
                with startup_objects_frozen():
                    await app.run_worker_async(
                        queues=[QUEUE],
                        name=QUEUE,
                        wait=not burst,
                        concurrency=CONCURRENCY,
                        fetch_job_polling_interval=POLL_SECONDS,
                        listen_notify=not burst,
                        delete_jobs="successful",
                        additional_context={CONTEXT_KEY: context},
                        install_signal_handlers=install_signal_handlers,
                        shutdown_graceful_timeout=settings.outbound_timeout_seconds + 5,
                        update_heartbeat_interval=HEARTBEAT_SECONDS,
                        stalled_worker_timeout=STALLED_SECONDS,
                    )
