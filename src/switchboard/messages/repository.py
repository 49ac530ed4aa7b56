"""SQL for cc_messages, and for recording inbound messages (inbound.py): each step of that
one statement for the whole group, since on a busy service each round trip costs more than
the rows it carries. The rows go as one JSON document, decoded by json_to_recordset: psycopg
dumps an array element by element in Python, which costs more than the rest of the group's
writing. The values always travel as parameters, never in the statement's text, which
PostgreSQL shows in pg_stat_activity and writes to its log with any error."""

from __future__ import annotations

import json
from typing import Any, NamedTuple
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.audit.repository import payload_json


class Arrival(NamedTuple):
    """What a claimed delivery is looked up by."""

    identity_channel: str  # cc_identity_links.channel of the sender
    sender: str | None
    channel: str  # the conversation's
    thread_key: str


class LookedUp(NamedTuple):
    customer_id: UUID | None  # the sender's, through their linked address
    conversation: tuple[UUID, UUID | None] | None  # the thread's open one, with its customer


_CLAIM = """
INSERT INTO cc_webhook_events (provider, event_key, event_type)
SELECT %(provider)s, a.event_key, %(event_type)s
FROM json_to_recordset(%(keys)s::json) AS a (event_key text)
-- In key order: two groups sharing keys wait on the first they share, never deadlock.
ORDER BY a.event_key
ON CONFLICT (provider, event_key) DO NOTHING
RETURNING event_key
"""


async def claim_deliveries(
    conn: AsyncConnection[Any], provider: str, event_type: str, event_keys: list[str]
) -> set[str]:
    """The keys of the deliveries claimed now; the others were acted on before. A claim held
    by another transaction waits until it ends."""
    cursor = await conn.execute(
        _CLAIM,
        {
            "provider": provider,
            "event_type": event_type,
            "keys": json.dumps([{"event_key": key} for key in event_keys]),
        },
    )
    return {row[0] for row in await cursor.fetchall()}


# A statement sees the rows committed when it started. The look-up is a statement of its own,
# after the claim: a claim may wait for another transaction holding the same delivery, and a
# conversation closed meanwhile must be seen as closed.
_LOOK_UP = """
SELECT l.bank_customer_id, c.id, c.bank_customer_id
FROM ROWS FROM (json_to_recordset(%(arrivals)s::json) AS (identity_channel text,
    sender text, channel text, thread_key text)) WITH ORDINALITY
    AS a (identity_channel, sender, channel, thread_key, n)
LEFT JOIN cc_identity_links AS l ON l.channel = a.identity_channel AND l.address = a.sender
LEFT JOIN cc_conversations AS c ON c.channel = a.channel
    AND c.provider_conversation_id = a.thread_key AND c.status IN ('open', 'pending')
ORDER BY a.n
"""


async def look_up(conn: AsyncConnection[Any], arrivals: list[Arrival]) -> list[LookedUp]:
    """Each sender's customer and each thread's open conversation, in the arrivals' order."""
    cursor = await conn.execute(_LOOK_UP, {"arrivals": json.dumps([a._asdict() for a in arrivals])})
    return [
        LookedUp(customer, None if found is None else (found, known))
        for customer, found, known in await cursor.fetchall()
    ]


class Received(NamedTuple):
    """A message to store, and its audit record's columns (audit.service.record_values),
    whose output gets the message's id once it has one."""

    conversation_id: UUID
    provider_message_id: str
    from_address: str | None
    to_address: str | None
    body_text: str | None
    body_json: dict[str, Any]
    audit: dict[str, Any]


_AUDIT_COLUMNS = ("actor_type", "actor_id", "event_type", "event_version", "success")
_INSERT_RECEIVED = """
WITH received AS (
    SELECT * FROM ROWS FROM (json_to_recordset(%(received)s::json) AS (conversation_id uuid,
        provider_message_id text, from_address text, to_address text, body_text text,
        body_json jsonb, audit_input jsonb, audit_output jsonb, bank_customer_id uuid))
        WITH ORDINALITY AS r (conversation_id, provider_message_id, from_address, to_address,
            body_text, body_json, audit_input, audit_output, bank_customer_id, n)
), message AS (
    -- Each row's own time, not the transaction's: messages written together keep their order.
    INSERT INTO cc_messages (conversation_id, direction, provider, provider_message_id,
        from_address, to_address, body_text, body_json, status, status_updated_at, created_at)
    SELECT conversation_id, %(direction)s, %(provider)s, provider_message_id, from_address,
        to_address, body_text, body_json, %(status)s, now(), clock_timestamp()
    FROM received ORDER BY n
    ON CONFLICT (provider, provider_message_id) DO NOTHING
    RETURNING provider_message_id, id
), audit AS (
    -- Each record's time is set by the database as it is inserted (013's trigger).
    INSERT INTO cc_audit_logs (actor_type, actor_id, event_type, event_version, input_redacted,
        output_redacted, success, conversation_id, bank_customer_id)
    SELECT %(actor_type)s, %(actor_id)s, %(event_type)s, %(event_version)s,
        r.audit_input, r.audit_output || jsonb_build_object('message_id', m.id),
        %(success)s, r.conversation_id, r.bank_customer_id
    FROM received AS r JOIN message AS m USING (provider_message_id) ORDER BY r.n
)
SELECT provider_message_id, id FROM message
"""


async def insert_received(
    conn: AsyncConnection[Any],
    *,
    direction: str,
    provider: str,
    status: str,
    received: list[Received],
) -> dict[str, UUID]:
    """Insert the messages, each unless one with its provider id is stored, and an audit
    record for each inserted, in one statement: {provider message id: id} of those
    inserted. The records' actor, event and outcome are the first's: a group's records differ
    only in their payloads, conversation and customer."""
    if not received:
        return {}
    first = received[0].audit
    rows = payload_json(
        [
            {
                "conversation_id": r.conversation_id,
                "provider_message_id": r.provider_message_id,
                "from_address": r.from_address,
                "to_address": r.to_address,
                "body_text": r.body_text,
                "body_json": r.body_json,
                "audit_input": r.audit["input"],
                "audit_output": r.audit["output"],
                "bank_customer_id": r.audit["bank_customer_id"],
            }
            for r in received
        ]
    )
    cursor = await conn.execute(
        _INSERT_RECEIVED,
        {
            "direction": direction,
            "provider": provider,
            "status": status,
            "received": rows,
            **{name: first[name] for name in _AUDIT_COLUMNS},
        },
    )
    return {row[0]: row[1] for row in await cursor.fetchall()}


async def lock_message(
    conn: AsyncConnection[Any], provider: str, provider_message_id: str
) -> tuple[UUID, UUID, str | None] | None:
    """(id, conversation id, status) of the message, locked until the transaction ends."""
    cursor = await conn.execute(
        "SELECT id, conversation_id, status FROM cc_messages"
        " WHERE provider = %s AND provider_message_id = %s FOR UPDATE",
        (provider, provider_message_id),
    )
    row = await cursor.fetchone()
    if row is None:
        return None
    return row[0], row[1], row[2]


async def lock_outbound_awaiting_id(
    conn: AsyncConnection[Any], message_id: UUID, provider: str, provider_message_id: str
) -> tuple[UUID, UUID, str | None] | None:
    """(id, conversation id, status) of our outbound message sent through this provider,
    locked, if it has no provider id yet or has this one."""
    cursor = await conn.execute(
        "SELECT id, conversation_id, status FROM cc_messages"
        " WHERE id = %s AND direction = 'outbound' AND provider = %s"
        " AND (provider_message_id IS NULL OR provider_message_id = %s) FOR UPDATE",
        (message_id, provider, provider_message_id),
    )
    row = await cursor.fetchone()
    if row is None:
        return None
    return row[0], row[1], row[2]


async def update_status(
    conn: AsyncConnection[Any],
    message_id: UUID,
    *,
    status: str,
    provider_status: str,
    error_code: str | None,
    provider_message_id: str,
) -> None:
    """The new status; the provider's id is kept where the message had none yet."""
    await conn.execute(
        "UPDATE cc_messages SET status = %s, provider_status = %s,"
        " error_code = coalesce(%s, error_code),"
        " provider_message_id = coalesce(provider_message_id, %s),"
        " status_updated_at = now() WHERE id = %s",
        (status, provider_status, error_code, provider_message_id, message_id),
    )
