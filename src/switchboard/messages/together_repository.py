"""SQL for recording a group of inbound texts (together.py): each step one statement for the
whole group, and the steps that need nothing from each other in one statement, since on a
busy service each round trip costs more than the rows it carries.

For the same reason the group's transaction is begun in the round trip of its first
statement and committed in that of its last: both go as one simple query (psycopg's
client-side binding, the one way to send two statements at once), which makes a group two
round trips where its threads are open already, against four with BEGIN and COMMIT alone.
The caller rolls back (`roll_back`) if anything in between fails. A simple query is planned
anew each time, and planning these two statements takes longer than running them, so they
are prepared once on each connection (`PREPARE`) and the simple queries EXECUTE them."""

from __future__ import annotations

import contextlib
import json
import weakref
from typing import Any, NamedTuple
from uuid import UUID

import psycopg
from psycopg import AsyncClientCursor, AsyncConnection
from psycopg.pq import TransactionStatus

from switchboard.audit.repository import payload_json


class Arrival(NamedTuple):
    """What a delivery is claimed and looked up by."""

    event_key: str
    identity_channel: str  # cc_identity_links.channel of the sender
    sender: str
    channel: str  # the conversation's
    thread_key: str


class LookedUp(NamedTuple):
    claimed: bool  # False: a delivery already acted on (or listed earlier in the group)
    customer_id: UUID | None  # the sender's, through their linked address
    conversation: tuple[UUID, UUID | None] | None  # the thread's open one, with its customer


_CLAIM_AND_LOOK_UP_NAME = "switchboard_texts_claim_and_look_up"
# $1 provider, $2 event type, $3 the arrivals as a JSON array of objects.
_CLAIM_AND_LOOK_UP = """
WITH arrival AS (
    SELECT * FROM ROWS FROM (json_to_recordset($3) AS (event_key text,
        identity_channel text, sender text, channel text, thread_key text))
        WITH ORDINALITY AS a (event_key, identity_channel, sender, channel, thread_key, n)
), claimed AS (
    -- In key order: two groups sharing keys wait on the first they share, never deadlock.
    INSERT INTO cc_webhook_events (provider, event_key, event_type)
    SELECT $1, event_key, $2 FROM arrival ORDER BY event_key
    ON CONFLICT (provider, event_key) DO NOTHING
    RETURNING event_key
)
SELECT a.event_key IN (SELECT event_key FROM claimed), l.bank_customer_id, c.id,
    c.bank_customer_id
FROM arrival AS a
LEFT JOIN cc_identity_links AS l ON l.channel = a.identity_channel AND l.address = a.sender
LEFT JOIN cc_conversations AS c ON c.channel = a.channel
    AND c.provider_conversation_id = a.thread_key AND c.status IN ('open', 'pending')
ORDER BY a.n
"""


async def begin_claim_and_look_up(
    conn: AsyncConnection[Any], provider: str, event_type: str, arrivals: list[Arrival]
) -> list[LookedUp]:
    """Begin the group's transaction; claim the deliveries, find each sender's customer and
    each thread's open conversation, in one statement; the answers in the arrivals' order."""
    query = f"BEGIN; EXECUTE {_CLAIM_AND_LOOK_UP_NAME} (%s, %s, %s)"
    params = (provider, event_type, json.dumps([a._asdict() for a in arrivals]))
    await _prepare(conn)
    cursor = AsyncClientCursor(conn)
    try:
        await cursor.execute(query, params)
    except psycopg.errors.InvalidSqlStatementName:
        # Deallocated since: psycopg ends a rollback after which its own prepared statements
        # may be stale with DEALLOCATE ALL, and ours go with them.
        await roll_back(conn)
        await _prepare(conn)
        await cursor.execute(query, params)
    cursor.nextset()  # past BEGIN's
    return [
        LookedUp(claimed, customer, None if found is None else (found, found_customer))
        for claimed, customer, found, found_customer in await cursor.fetchall()
    ]


async def commit(conn: AsyncConnection[Any]) -> None:
    await conn.execute("COMMIT")


async def roll_back(conn: AsyncConnection[Any]) -> None:
    """End the group's transaction without its writes, if it is still open. A connection
    that cannot even do that (broken, or cancelled mid-query) is left to its pool, which
    discards it rather than hand it out in a transaction."""
    _prepared_on.discard(conn)  # psycopg may follow the rollback with DEALLOCATE ALL
    if conn.info.transaction_status != TransactionStatus.IDLE:
        with contextlib.suppress(psycopg.Error):
            await conn.execute("ROLLBACK")


def require_idle(conn: AsyncConnection[Any]) -> None:
    if conn.info.transaction_status != TransactionStatus.IDLE:
        raise ValueError("a group is written in a transaction of its own, not the caller's")


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


_INSERT_RECEIVED_NAME = "switchboard_texts_insert_received"
_AUDIT_COLUMNS = ("actor_type", "actor_id", "event_type", "event_version", "success")
# $1 direction, $2 provider, $3 status, $4 the rows as a JSON array of objects, and the
# audit records' shared columns: $5 actor type, $6 actor id, $7 event type, $8 event version,
# $9 success.
_INSERT_RECEIVED = """
WITH received AS (
    SELECT * FROM ROWS FROM (json_to_recordset($4) AS (conversation_id uuid,
        provider_message_id text, from_address text, to_address text, body_text text,
        body_json jsonb, audit_input jsonb, audit_output jsonb, bank_customer_id uuid))
        WITH ORDINALITY AS r (conversation_id, provider_message_id, from_address, to_address,
            body_text, body_json, audit_input, audit_output, bank_customer_id, n)
), message AS (
    -- Each row's own time, not the transaction's: messages written together keep their order.
    INSERT INTO cc_messages (conversation_id, direction, provider, provider_message_id,
        from_address, to_address, body_text, body_json, status, status_updated_at, created_at)
    SELECT conversation_id, $1, $2, provider_message_id, from_address,
        to_address, body_text, body_json, $3, now(), clock_timestamp()
    FROM received ORDER BY n
    ON CONFLICT (provider, provider_message_id) DO NOTHING
    RETURNING provider_message_id, id
), audit AS (
    INSERT INTO cc_audit_logs (actor_type, actor_id, event_type, event_version, input_redacted,
        output_redacted, success, conversation_id, bank_customer_id, created_at)
    SELECT $5, $6, $7, $8,
        r.audit_input, r.audit_output || jsonb_build_object('message_id', m.id),
        $9, r.conversation_id, r.bank_customer_id, clock_timestamp()
    FROM received AS r JOIN message AS m USING (provider_message_id) ORDER BY r.n
)
SELECT provider_message_id, id FROM message
"""


async def insert_received_and_commit(
    conn: AsyncConnection[Any],
    *,
    direction: str,
    provider: str,
    status: str,
    received: list[Received],
) -> dict[str, UUID]:
    """Insert the messages, each unless one with its provider id is stored, and an audit
    record for each inserted, in one statement, and commit: {provider message id: id} of
    those inserted. The records' actor, event and outcome are the first's: a group's records
    differ only in their payloads, conversation and customer."""
    if not received:
        await commit(conn)
        return {}
    first = received[0].audit
    # All the rows as one JSON text: psycopg dumps an array element by element in Python,
    # which cost the service more than the rest of the group's writing.
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
    cursor = AsyncClientCursor(conn)  # prepared by begin_claim_and_look_up
    await cursor.execute(
        f"EXECUTE {_INSERT_RECEIVED_NAME} (%s, %s, %s, %s, %s, %s, %s, %s, %s); COMMIT",
        (
            direction,
            provider,
            status,
            rows,
            *(first[name] for name in _AUDIT_COLUMNS),
        ),
    )
    return {row[0]: row[1] for row in await cursor.fetchall()}


_PREPARED = {
    _CLAIM_AND_LOOK_UP_NAME: ("text, text, json", _CLAIM_AND_LOOK_UP),
    _INSERT_RECEIVED_NAME: (
        "text, text, text, json, text, text, text, integer, boolean",
        _INSERT_RECEIVED,
    ),
}
# The connections the statements are prepared on (they last as long as the session).
_prepared_on: weakref.WeakSet[AsyncConnection[Any]] = weakref.WeakSet()


async def _prepare(conn: AsyncConnection[Any]) -> None:
    if conn in _prepared_on:
        return
    for name, (types, statement) in _PREPARED.items():
        with contextlib.suppress(psycopg.errors.DuplicatePreparedStatement):
            await conn.execute(f"PREPARE {name} ({types}) AS {statement}")
    _prepared_on.add(conn)
