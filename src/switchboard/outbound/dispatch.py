"""The worker's use case: hand one queued message to its provider and record the outcome.

A job may run more than once (a retry, a worker that died mid-job): a message that already
has a status is never sent again. The provider call happens outside any transaction; the
outcome is recorded, with its audit record, in one transaction after it.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg_pool import AsyncConnectionPool

from switchboard.audit import service as audit
from switchboard.audit.models import ActorType, AuditEntry
from switchboard.errors import ProviderRejected, ProviderUnavailable
from switchboard.messages.models import MessageStatus
from switchboard.messages.status import SENDGRID, TWILIO
from switchboard.metrics import Metrics
from switchboard.outbound import repository
from switchboard.outbound.models import SendState
from switchboard.outbound.repository import OutboundRow
from switchboard.privacy import mask_address
from switchboard.providers.messaging import Accepted, MessageSender, Outgoing
from switchboard.sealing import UnsealFailed, unseal

log = logging.getLogger(__name__)
WORKER_ID = "outbound-worker"
# A provider's first answer can only say it has the message, or (rarely) that it failed.
_SETTLING = frozenset({MessageStatus.DELIVERED, MessageStatus.FAILED, MessageStatus.READ})


_MAPS: dict[str, Mapping[str, MessageStatus | None]] = {"twilio": TWILIO, "sendgrid": SENDGRID}


class RetryLater(Exception):
    """The provider could not take the message; the queue runs the job again after `seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry in {seconds:.3f} s")
        self.seconds = seconds


@dataclass(frozen=True)
class DispatchContext:
    pool: AsyncConnectionPool[Any]
    senders: Mapping[str, MessageSender]  # by channel: sms, whatsapp, email
    seal_key: bytes | None
    max_attempts: int
    retry_base_seconds: float
    metrics: Metrics  # each attempt's outcome, by provider and channel


def _count(context: DispatchContext, provider: str, row: OutboundRow, outcome: str) -> None:
    context.metrics.sends.labels(provider, row.channel, outcome).inc()


async def dispatch(
    context: DispatchContext, message_id: UUID, sealed_body: str | None, *, attempt: int
) -> None:
    """Send the message (attempt 1, 2, ...); raises RetryLater when it should be tried again."""
    async with context.pool.connection() as conn:
        row = await repository.find_outbound_message(conn, message_id)
    if row is None or row.status is not None:
        log.info("message %s is %s; not sending it", message_id, row and row.status)
        return
    sender = context.senders.get(row.channel)
    if sender is None:
        reason = f"nothing sends {row.channel}"
        _count(context, "none", row, "not_sent")
        await _unsent(context, row, attempt, code="no_provider", message=reason)
        return
    try:
        text = (row.body_text or "") if sealed_body is None else _opened(context, row, sealed_body)
    except UnsealFailed as exc:
        reason = f"{exc} (was SWITCHBOARD_SECRET_KEY changed?)"
        _count(context, "none", row, "not_sent")
        await _unsent(context, row, attempt, code="unseal_failed", message=reason)
        return
    outgoing = Outgoing(
        message_id=row.id,
        channel=row.channel,
        to_address=row.to_address,
        from_address=row.from_address,
        subject=row.body_json.get("subject"),
        text=text,
        stored_text=row.body_text,
    )
    try:
        accepted = await sender.send(outgoing)
    except ProviderRejected as exc:
        _count(context, exc.provider, row, "rejected")
        await _unsent(context, row, attempt, code=exc.provider_code, message=exc.message)
        return
    except ProviderUnavailable as exc:
        if attempt >= context.max_attempts:
            _count(context, exc.provider, row, "gave_up")
            await _unsent(
                context,
                row,
                attempt,
                code=exc.provider_code,
                message=exc.message,
                state=SendState.GAVE_UP,
            )
            return
        delay = context.retry_base_seconds * 2 ** (attempt - 1)
        _count(context, exc.provider, row, "retrying")
        await _retrying(context, row, attempt, exc, delay)
        raise RetryLater(delay) from exc
    _count(context, accepted.provider, row, "sent")
    await _accepted(context, row, attempt, accepted)


def _opened(context: DispatchContext, row: OutboundRow, sealed_body: str) -> str:
    return unseal(context.seal_key, sealed_body, bound_to=row.id)


async def _accepted(
    context: DispatchContext, row: OutboundRow, attempt: int, accepted: Accepted
) -> None:
    mapped = _MAPS.get(accepted.provider, {}).get(accepted.provider_status)
    status = mapped if mapped in _SETTLING else MessageStatus.SENT
    async with context.pool.connection() as conn, conn.transaction():
        recorded = await repository.mark_accepted(
            conn,
            row.id,
            provider=accepted.provider,
            provider_message_id=accepted.provider_message_id,
            provider_status=accepted.provider_status,
            status=status,
            from_address=accepted.from_address,
        )
        if recorded:
            await audit.append(
                conn,
                _entry(
                    row,
                    "message.sent",
                    attempt,
                    success=True,
                    output={
                        "provider": accepted.provider,
                        "provider_message_id": accepted.provider_message_id,
                        "provider_status": accepted.provider_status,
                        "status": status,
                    },
                ),
            )


async def _retrying(
    context: DispatchContext,
    row: OutboundRow,
    attempt: int,
    error: ProviderUnavailable,
    delay: float,
) -> None:
    async with context.pool.connection() as conn, conn.transaction():
        if await repository.mark_unsent(
            conn,
            row.id,
            status=None,
            provider_status=SendState.RETRYING,
            error_code=error.provider_code,
        ):
            await audit.append(
                conn,
                _entry(
                    row,
                    "message.send_retrying",
                    attempt,
                    success=False,
                    error_code=error.provider_code,
                    error_message=error.message,
                    output={"provider": error.provider, "retry_in_seconds": delay},
                ),
            )


async def _unsent(
    context: DispatchContext,
    row: OutboundRow,
    attempt: int,
    *,
    code: str,
    message: str,
    state: SendState = SendState.REJECTED,
) -> None:
    async with context.pool.connection() as conn, conn.transaction():
        if await repository.mark_unsent(
            conn,
            row.id,
            status=MessageStatus.FAILED,
            provider_status=state,
            error_code=code,
        ):
            await audit.append(
                conn,
                _entry(
                    row,
                    "message.send_failed",
                    attempt,
                    success=False,
                    error_code=code,
                    error_message=message,
                    output={"status": MessageStatus.FAILED, "provider_status": state},
                ),
            )


def _entry(
    row: OutboundRow,
    event_type: str,
    attempt: int,
    *,
    success: bool,
    output: dict[str, Any],
    error_code: str | None = None,
    error_message: str | None = None,
) -> AuditEntry:
    return AuditEntry(
        actor_type=ActorType.SYSTEM,
        actor_id=WORKER_ID,
        event_type=event_type,
        success=success,
        error_code=error_code,
        error_message=error_message,
        input={
            "message_id": str(row.id),
            "channel": row.channel,
            "to": mask_address(row.to_address),
            "attempt": attempt,
        },
        output=output,
        conversation_id=row.conversation_id,
        bank_customer_id=row.bank_customer_id,
    )
