"""The outbound job queue: procrastinate's App, the send task, and deferring a send on the
caller's own connection, so that it commits or rolls back with the message row.

Nothing here runs at import: the API's start-up (config.outbound_for) and the worker's
(worker.py) each build their App with `outbound_queue`, which also keeps sealed bodies out of
procrastinate's logs for as long as the App is in use. The API's App never connects (deferring
uses the caller's connection); the worker opens its own on its pool.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from procrastinate import App, BaseConnector, BaseRetryStrategy, JobContext, RetryDecision
from procrastinate.jobs import Job
from psycopg import AsyncConnection

from switchboard.db import database_fault
from switchboard.outbound.dispatch import DispatchContext, RetryLater, dispatch

QUEUE = "outbound"
TASK = "switchboard.outbound.send_message"
CONTEXT_KEY = "outbound"  # where the worker puts its DispatchContext in additional_context
DATABASE_RETRY_SECONDS = 1  # a send the database went away under is run again after this


class _RetryWhenAsked(BaseRetryStrategy):
    """Retry when the task says so, after the delay it computed (from the settings), and when
    the database went away under it: a connection ended mid-statement by a restart that is
    over by the time the job's end is written would otherwise fail the job, and leave its
    message pending for ever, unsent or sent unrecorded. Run again, a message whose send the
    provider took is sent twice: the duplicate window of the README.

    Anything else the task raises is a bug: the job fails and the message keeps status NULL
    (provider_status pending or retrying), visible to operators.
    """

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, RetryLater):
            return RetryDecision(retry_in={"milliseconds": max(1, round(exception.seconds * 1000))})
        if database_fault(exception) is not None:
            return RetryDecision(retry_in={"seconds": DATABASE_RETRY_SECONDS})
        return None


@contextmanager
def outbound_queue(connector: BaseConnector) -> Iterator[App]:
    """procrastinate's App with the send task, on this connector, sealed bodies kept out of
    procrastinate's logs until the block ends."""
    app = App(connector=connector)
    app.task(name=TASK, queue=QUEUE, pass_context=True, retry=_RetryWhenAsked())(send_message)
    with _sealed_bodies_redacted():
        yield app


async def send_message(
    context: JobContext, message_id: str, sealed_body: str | None = None
) -> None:
    delivery: DispatchContext = context.additional_context[CONTEXT_KEY]
    # job.attempts counts the runs before this one.
    await dispatch(delivery, UUID(message_id), sealed_body, attempt=context.job.attempts + 1)


async def defer_send(
    queue: App, conn: AsyncConnection[Any], message_id: UUID, sealed_body: str | None
) -> int:
    """Queue the send in the caller's transaction (the job row is inserted on `conn`, not on
    the App's connector); the job id."""
    arguments: dict[str, Any] = {"message_id": str(message_id)}
    if sealed_body is not None:
        arguments["sealed_body"] = sealed_body
    # The lock keeps two runs of one message's job (a stalled one retried) from overlapping.
    deferrer = queue.tasks[TASK].configure(connection=conn, lock=f"cc_messages:{message_id}")
    return await deferrer.defer_async(**arguments)


# procrastinate logs every job with its arguments (the "call string"); a sealed body must
# not reach any log, even encrypted.
_SEALED = re.compile(r"sealed:v1:[A-Za-z0-9_=-]+")


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return _SEALED.sub("sealed:v1:[redacted]", value)
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_scrub(v) for v in value)
    return value


class RedactSealed(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, value in list(vars(record).items()):
            if isinstance(value, str | dict | list | tuple):
                setattr(record, name, _scrub(value))
        return True


_LOGGERS = ("procrastinate.jobs", "procrastinate.worker", f"procrastinate.worker.{QUEUE}")


@contextmanager
def _sealed_bodies_redacted() -> Iterator[None]:
    # Each block adds and removes its own filter: the API and the worker of `switchboard run`
    # share the process and end at different times.
    redact = RedactSealed()
    loggers = [logging.getLogger(name) for name in _LOGGERS]
    for logger in loggers:
        logger.addFilter(redact)
    try:
        yield
    finally:
        for logger in loggers:
            logger.removeFilter(redact)
