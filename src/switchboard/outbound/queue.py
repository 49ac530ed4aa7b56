"""The outbound job queue: procrastinate's App, the send task, and deferring a send on the
caller's own connection, so that it commits or rolls back with the message row.

The App is built at import without connecting: deferring uses the caller's connection, and
the worker (worker.py) lends it a connector of its own for as long as it runs.
"""

from __future__ import annotations

import logging
import re
from typing import Any
from uuid import UUID

from procrastinate import App, BaseRetryStrategy, JobContext, PsycopgConnector, RetryDecision
from procrastinate.jobs import Job
from psycopg import AsyncConnection

from switchboard.db import database_fault
from switchboard.outbound.delivery import DeliveryContext, RetryLater, deliver

QUEUE = "outbound"
TASK = "switchboard.outbound.send_message"
CONTEXT_KEY = "outbound"  # where the worker puts its DeliveryContext in additional_context
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


queue = App(connector=PsycopgConnector())


@queue.task(name=TASK, queue=QUEUE, pass_context=True, retry=_RetryWhenAsked())
async def send_message(
    context: JobContext, message_id: str, sealed_body: str | None = None
) -> None:
    delivery: DeliveryContext = context.additional_context[CONTEXT_KEY]
    # job.attempts counts the runs before this one.
    await deliver(delivery, UUID(message_id), sealed_body, attempt=context.job.attempts + 1)


async def defer_send(conn: AsyncConnection[Any], message_id: UUID, sealed_body: str | None) -> int:
    """Queue the send in the caller's transaction; the job id."""
    arguments: dict[str, Any] = {"message_id": str(message_id)}
    if sealed_body is not None:
        arguments["sealed_body"] = sealed_body
    # The lock keeps two runs of one message's job (a stalled one retried) from overlapping.
    deferrer = send_message.configure(connection=conn, lock=f"cc_messages:{message_id}")
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


for _name in ("procrastinate.jobs", "procrastinate.worker", f"procrastinate.worker.{QUEUE}"):
    logging.getLogger(_name).addFilter(RedactSealed())
