"""Recording what the providers tell us about messages: status reports, each once; and what
makes a provider's value storable (inbound messages are recorded by inbound.py)."""

from __future__ import annotations

import hashlib
import re
from dataclasses import replace
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.audit import service as audit
from switchboard.audit.models import ActorType, AuditEntry
from switchboard.messages import repository
from switchboard.messages.models import (
    MessageStatus,
    Recorded,
    StatusReport,
)
from switchboard.messages.status import moves_forward
from switchboard.privacy import Identifier
from switchboard.webhook_ledger import service as webhook_ledger

SANDBOX = "sandbox"  # cc_messages.provider of what the sandbox sent (outbound.models)
# PostgreSQL stores neither NUL characters nor lone surrogates, in text or in jsonb; anyone
# who can send an email can put them in one.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
# Ids become unique-index keys; past this length they are stored as their hash.
MAX_KEY_LENGTH = 200


def storable(value: Any) -> Any:
    """The same JSON-like value without the characters PostgreSQL cannot store."""
    if isinstance(value, str):
        return UNSTORABLE.sub("", value)
    if isinstance(value, dict):
        return {storable(k): storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(v) for v in value]
    return value


def key(value: str) -> str:
    """An id fit for a unique index: itself, or its SHA-256 when too long or unstorable."""
    if len(value) <= MAX_KEY_LENGTH and not UNSTORABLE.search(value):
        return value
    digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()
    return f"sha256:{digest}"


async def record_status(conn: AsyncConnection[Any], report: StatusReport) -> Recorded:
    """Apply a delivery report if it moves the message forward; audit it either way."""
    report = replace(
        report,
        provider_message_id=key(report.provider_message_id),
        event_key=key(report.event_key),
        raw_status=storable(report.raw_status),
        error_code=None if report.error_code is None else storable(report.error_code),
        details=storable(report.details),
    )
    async with conn.transaction():
        if not await webhook_ledger.claim(
            conn,
            provider=report.provider,
            event_key=report.event_key,
            event_type="message.status",
        ):
            return Recorded(duplicate=True)
        found = await repository.lock_message(conn, report.provider, report.provider_message_id)
        if found is None:
            # In development the sandbox sends in the providers' place (its ids start SB, no
            # provider's do): the simulator reports on those sends as the provider would.
            found = await repository.lock_message(conn, SANDBOX, report.provider_message_id)
        if found is None and report.message_id is not None:
            # Sent by us, its report arriving before the worker stored the provider's id.
            found = await repository.lock_outbound_awaiting_id(
                conn, report.message_id, report.provider, report.provider_message_id
            )
        if found is None:
            await audit.append(
                conn, _status_entry(report, success=False, outcome="unknown_message")
            )
            return Recorded(duplicate=False)
        message_id, conversation_id, current = found
        current_status = MessageStatus(current) if current else None
        applied = report.status is not None and moves_forward(current_status, report.status)
        if applied and report.status is not None:
            await repository.update_status(
                conn,
                message_id,
                status=report.status,
                provider_status=report.raw_status,
                error_code=report.error_code,
                provider_message_id=report.provider_message_id,
            )
        outcome = "applied" if applied else ("no_status" if report.status is None else "stale")
        await audit.append(
            conn,
            _status_entry(
                report,
                success=True,
                outcome=outcome,
                previous=current,
                message_id=message_id,
                conversation_id=conversation_id,
            ),
        )
        return Recorded(False, message_id, conversation_id)


def _status_entry(
    report: StatusReport,
    *,
    success: bool,
    outcome: str,
    previous: str | None = None,
    message_id: UUID | None = None,
    conversation_id: Any = None,
) -> AuditEntry:
    return AuditEntry(
        actor_type=ActorType.PROVIDER,
        actor_id=report.provider,
        event_type="message.status",
        success=success,
        error_code=None if success else outcome,
        input={
            "provider_message_id": Identifier(report.provider_message_id),
            "provider_status": report.raw_status,
            "error_code": report.error_code,
            **report.details,
        },
        output={
            "outcome": outcome,
            "previous": previous,
            "status": report.status if outcome == "applied" else previous,
            "message_id": message_id,
        },
        conversation_id=conversation_id,
    )
