"""SQL for outbound rows of cc_messages (until a provider takes them) and cc_sandbox_outbox."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb


@dataclass(frozen=True)
class OutboundRow:
    id: UUID
    conversation_id: UUID
    bank_customer_id: UUID | None
    channel: str
    provider: str | None
    provider_message_id: str | None
    from_address: str | None
    to_address: str
    body_text: str | None
    body_json: dict[str, Any]
    status: str | None
    provider_status: str | None


async def insert_outbound_message(
    conn: AsyncConnection[Any],
    *,
    message_id: UUID,
    conversation_id: UUID,
    provider: str,
    from_address: str | None,
    to_address: str,
    body_text: str,
    body_json: dict[str, Any],
    provider_status: str,
) -> None:
    await conn.execute(
        "INSERT INTO cc_messages (id, conversation_id, direction, provider, from_address,"
        " to_address, body_text, body_json, provider_status, status_updated_at)"
        " VALUES (%s, %s, 'outbound', %s, %s, %s, %s, %s, %s, now())",
        (
            message_id,
            conversation_id,
            provider,
            from_address,
            to_address,
            body_text,
            Jsonb(body_json),
            provider_status,
        ),
    )


async def find_outbound_message(conn: AsyncConnection[Any], message_id: UUID) -> OutboundRow | None:
    async with conn.cursor(row_factory=dict_row) as cursor:
        await cursor.execute(
            "SELECT m.id, m.conversation_id, c.bank_customer_id, c.channel, m.provider,"
            " m.provider_message_id, m.from_address, m.to_address, m.body_text,"
            " coalesce(m.body_json, '{}') AS body_json, m.status, m.provider_status"
            " FROM cc_messages AS m JOIN cc_conversations AS c ON c.id = m.conversation_id"
            " WHERE m.id = %s AND m.direction = 'outbound'",
            (message_id,),
        )
        row = await cursor.fetchone()
    return None if row is None else OutboundRow(**row)


async def mark_accepted(
    conn: AsyncConnection[Any],
    message_id: UUID,
    *,
    provider: str,
    provider_message_id: str,
    provider_status: str,
    status: str,
    from_address: str | None,
) -> bool:
    """Record the provider's id and status; False if the message was settled meanwhile.

    A status report for this very send may have been recorded first (it found the message by
    our id before this commit): its status, further on than "accepted", is kept."""
    cursor = await conn.execute(
        "UPDATE cc_messages SET provider = %(provider)s, provider_message_id = %(sid)s,"
        " provider_status = CASE WHEN status IS NULL THEN %(provider_status)s"
        "   ELSE provider_status END,"
        " error_code = CASE WHEN status IS NULL THEN NULL ELSE error_code END,"
        " status = coalesce(status, %(status)s),"
        " from_address = coalesce(%(from_address)s, from_address), status_updated_at = now()"
        " WHERE id = %(id)s AND (status IS NULL OR provider_message_id = %(sid)s)",
        {
            "provider": provider,
            "sid": provider_message_id,
            "provider_status": provider_status,
            "status": status,
            "from_address": from_address,
            "id": message_id,
        },
    )
    return cursor.rowcount == 1


async def mark_unsent(
    conn: AsyncConnection[Any],
    message_id: UUID,
    *,
    status: str | None,
    provider_status: str,
    error_code: str,
) -> bool:
    """A send that did not go through: failed (status 'failed') or to be retried (NULL)."""
    cursor = await conn.execute(
        "UPDATE cc_messages SET status = %s, provider_status = %s, error_code = %s,"
        " status_updated_at = now() WHERE id = %s AND status IS NULL",
        (status, provider_status, error_code, message_id),
    )
    return cursor.rowcount == 1


async def insert_sandbox_send(
    conn: AsyncConnection[Any],
    *,
    message_id: UUID,
    provider_message_id: str,
    channel: str,
    from_address: str | None,
    to_address: str,
    subject: str | None,
    body_text: str | None,
    sealed: bool,
) -> None:
    await conn.execute(
        "INSERT INTO cc_sandbox_outbox (message_id, provider_message_id, channel, from_address,"
        " to_address, subject, body_text, sealed) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
        (
            message_id,
            provider_message_id,
            channel,
            from_address,
            to_address,
            subject,
            body_text,
            sealed,
        ),
    )


async def waiting_jobs(conn: AsyncConnection[Any]) -> list[tuple[str, int, float]]:
    """(queue, jobs waiting, seconds the oldest due one has been due) for each queue with a
    waiting job: one not yet taken by a worker, a retry scheduled later included in the count.
    A job's due time is its schedule, else when it was queued (procrastinate's event)."""
    cursor = await conn.execute(
        """
        SELECT j.queue_name,
               count(*),
               coalesce(extract(epoch FROM now() - min(coalesce(j.scheduled_at, e.at))
                        FILTER (WHERE j.scheduled_at IS NULL OR j.scheduled_at <= now())), 0)
        FROM procrastinate_jobs AS j
        LEFT JOIN procrastinate_events AS e ON e.job_id = j.id AND e.type = 'deferred'
        WHERE j.status = 'todo'
        GROUP BY j.queue_name
        """
    )
    rows = await cursor.fetchall()
    return [(str(queue), int(count), max(0.0, float(age))) for queue, count, age in rows]
