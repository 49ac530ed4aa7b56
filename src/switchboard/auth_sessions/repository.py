"""SQL for cc_auth_sessions."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import class_row

from switchboard.auth_sessions.models import REPLACEABLE, AuthSession

_COLUMNS = (
    "id, bank_customer_id, conversation_id, status, channel, destination, provider,"
    " provider_request_id, code_hmac, check_attempts, expires_at, verified_at, created_at"
)


async def lock_sending(
    conn: AsyncConnection[Any], conversation_id: UUID, destination_hmac: bytes
) -> None:
    """Serialise, until the transaction ends, every start in this conversation and every start
    to this destination: the send count and the replacing of older codes must not interleave.
    Always the conversation first, then the destination, so two starts cannot deadlock. One
    statement takes both, since each round trip costs a busy service more than a lock: the
    destination's for each row of the conversation's, which OFFSET 0 keeps a subquery of its
    own (not merged into one list whose order SQL does not promise)."""
    await conn.execute(
        "SELECT pg_advisory_xact_lock(hashtextextended(%(destination)s, 0))"
        " FROM (SELECT pg_advisory_xact_lock(hashtextextended(%(conversation)s, 0))"
        "       OFFSET 0) AS conversation_first",
        {
            "conversation": f"otp:conversation:{conversation_id}",
            "destination": f"otp:destination:{destination_hmac.hex()}",
        },
    )


async def count_sends_since(
    conn: AsyncConnection[Any], destination_hmac: bytes, since: datetime
) -> tuple[int, datetime | None]:
    """How many sessions went to this destination after `since`, and when the oldest did."""
    cursor = await conn.execute(
        "SELECT count(*), min(created_at) FROM cc_auth_sessions"
        " WHERE destination_hmac = %s AND created_at > %s",
        (destination_hmac, since),
    )
    row = await cursor.fetchone()
    return (0, None) if row is None else (int(row[0]), row[1])


async def cancel_replaceable(
    conn: AsyncConnection[Any], conversation_id: UUID, destination_hmac: bytes
) -> list[AuthSession]:
    """Cancel the codes still open in this conversation or to this destination."""
    async with conn.cursor(row_factory=class_row(AuthSession)) as cur:
        await cur.execute(
            "UPDATE cc_auth_sessions SET status = 'cancelled'"
            " WHERE (conversation_id = %s OR destination_hmac = %s) AND status = ANY(%s)"
            f" RETURNING {_COLUMNS}",
            (conversation_id, destination_hmac, list(REPLACEABLE)),
        )
        return await cur.fetchall()


async def insert_session(
    conn: AsyncConnection[Any],
    *,
    session_id: UUID,
    bank_customer_id: UUID,
    conversation_id: UUID,
    channel: str,
    destination: str,
    destination_hmac: bytes,
    provider: str,
    provider_request_id: str | None,
    code_hmac: bytes | None,
    created_at: datetime,
    expires_at: datetime,
) -> AuthSession:
    async with conn.cursor(row_factory=class_row(AuthSession)) as cur:
        await cur.execute(
            "INSERT INTO cc_auth_sessions (id, bank_customer_id, conversation_id, status,"
            " channel, destination, destination_hmac, provider, provider_request_id, code_hmac,"
            " created_at, expires_at)"
            " VALUES (%s, %s, %s, 'created', %s, %s, %s, %s, %s, %s, %s, %s)"
            f" RETURNING {_COLUMNS}",
            (
                session_id,
                bank_customer_id,
                conversation_id,
                channel,
                destination,
                destination_hmac,
                provider,
                provider_request_id,
                code_hmac,
                created_at,
                expires_at,
            ),
        )
        session = await cur.fetchone()
    if session is None:  # INSERT ... RETURNING always returns the row it wrote
        raise RuntimeError("cc_auth_sessions insert returned no row")
    return session


async def lock_session(conn: AsyncConnection[Any], session_id: UUID) -> AuthSession | None:
    async with conn.cursor(row_factory=class_row(AuthSession)) as cur:
        await cur.execute(
            f"SELECT {_COLUMNS} FROM cc_auth_sessions WHERE id = %s FOR UPDATE", (session_id,)
        )
        return await cur.fetchone()


async def lock_latest_session(
    conn: AsyncConnection[Any], conversation_id: UUID
) -> AuthSession | None:
    """The conversation's newest session, locked so that two checks of it take turns."""
    async with conn.cursor(row_factory=class_row(AuthSession)) as cur:
        await cur.execute(
            f"SELECT {_COLUMNS} FROM cc_auth_sessions WHERE conversation_id = %s"
            # Among sessions started at the same instant the newest is the open one, or else
            # one that was not cancelled: starting a session cancels the others.
            " ORDER BY created_at DESC,"
            " CASE WHEN status = ANY(%s) THEN 0 WHEN status <> 'cancelled' THEN 1 ELSE 2 END"
            " LIMIT 1 FOR UPDATE",
            (conversation_id, list(REPLACEABLE)),
        )
        return await cur.fetchone()


async def update_session(
    conn: AsyncConnection[Any],
    session_id: UUID,
    *,
    status: str,
    check_attempts: int | None = None,
    verified_at: datetime | None = None,
    provider_request_id: str | None = None,
) -> AuthSession:
    """Set the status, and whatever else is given; what is not given stays as it is."""
    async with conn.cursor(row_factory=class_row(AuthSession)) as cur:
        await cur.execute(
            "UPDATE cc_auth_sessions SET status = %s,"
            " check_attempts = coalesce(%s, check_attempts),"
            " verified_at = coalesce(%s, verified_at),"
            " provider_request_id = coalesce(%s, provider_request_id)"
            f" WHERE id = %s RETURNING {_COLUMNS}",
            (status, check_attempts, verified_at, provider_request_id, session_id),
        )
        session = await cur.fetchone()
    if session is None:
        raise RuntimeError(f"auth session {session_id} vanished while locked")
    return session


async def release_request_id(
    conn: AsyncConnection[Any], provider: str, provider_request_id: str, keep: UUID
) -> list[UUID]:
    """Take a provider's request id off the closed sessions that hold it, so that `keep` may.

    Verify hands out the same verification again when a code to that number is still open
    at Twilio (a cancel that did not get through); the older session is closed by then.
    """
    cursor = await conn.execute(
        "UPDATE cc_auth_sessions SET provider_request_id = NULL"
        " WHERE provider = %s AND provider_request_id = %s AND id <> %s"
        " AND NOT status = ANY(%s) RETURNING id",
        (provider, provider_request_id, keep, list(REPLACEABLE)),
    )
    return [UUID(str(row[0])) for row in await cursor.fetchall()]


async def latest_verification(
    conn: AsyncConnection[Any],
    conversation_id: UUID,
    bank_customer_id: UUID,
    *,
    since: datetime,
    channels: list[str],
) -> datetime | None:
    """When a code of this conversation and customer, sent on one of these channels, was
    last verified after `since`."""
    cursor = await conn.execute(
        "SELECT max(verified_at) FROM cc_auth_sessions"
        " WHERE conversation_id = %s AND bank_customer_id = %s AND status = 'verified'"
        " AND verified_at > %s AND channel = ANY(%s)",
        (conversation_id, bank_customer_id, since, channels),
    )
    row = await cursor.fetchone()
    return None if row is None else row[0]


async def code_sessions(
    conn: AsyncConnection[Any], conversation_id: UUID, now: datetime
) -> list[tuple[UUID, bytes | None, bool]]:
    """Every session of this conversation, whatever its status: (id, code_hmac, whether its
    code may still be read out: sent, not yet expired)."""
    cursor = await conn.execute(
        "SELECT id, code_hmac, status = ANY(%s) AND expires_at > %s FROM cc_auth_sessions"
        " WHERE conversation_id = %s",
        (list(REPLACEABLE), now, conversation_id),
    )
    return [
        (row[0], None if row[1] is None else bytes(row[1]), bool(row[2]))
        for row in await cursor.fetchall()
    ]
