"""SQL for cc_agent_sessions and cc_sign_in_failures."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import class_row

from switchboard.agent_sessions.models import Failure, LiveSession

_LIVE = (
    "s.revoked_at IS NULL AND s.idle_expires_at > now() AND s.absolute_expires_at > now()"
    " AND a.status = 'active'"
)


async def insert_session(
    conn: AsyncConnection[Any],
    *,
    token_hash: bytes,
    agent_id: UUID,
    stage: str,
    idle: timedelta,
    absolute: timedelta,
    client_address: str | None,
    user_agent: str | None,
) -> tuple[UUID, datetime, datetime]:
    """The session's id, idle and absolute expiry."""
    cursor = await conn.execute(
        "INSERT INTO cc_agent_sessions (token_hash, agent_id, stage, idle_expires_at,"
        " absolute_expires_at, client_address, user_agent)"
        " VALUES (%s, %s, %s, now() + %s, now() + %s, %s, %s)"
        " RETURNING id, idle_expires_at, absolute_expires_at",
        (token_hash, agent_id, stage, idle, absolute, client_address, user_agent),
    )
    row = await cursor.fetchone()
    if row is None:  # INSERT ... RETURNING always returns the row it wrote
        raise RuntimeError("cc_agent_sessions insert returned no row")
    return row[0], row[1], row[2]


async def live_session(conn: AsyncConnection[Any], token_hash: bytes) -> LiveSession | None:
    async with conn.cursor(row_factory=class_row(LiveSession)) as cur:
        await cur.execute(
            "SELECT s.id, s.agent_id, s.stage, a.email, a.display_name, a.role, a.time_zone,"
            " coalesce((SELECT array_agg(q.queue_name ORDER BY q.queue_name)"
            "  FROM cc_agent_queues AS q WHERE q.agent_id = a.id), '{}') AS queues,"
            " s.created_at, s.last_seen_at, s.idle_expires_at, s.absolute_expires_at"
            " FROM cc_agent_sessions AS s JOIN cc_agents AS a ON a.id = s.agent_id"
            f" WHERE s.token_hash = %s AND {_LIVE}",
            (token_hash,),
        )
        return await cur.fetchone()


async def session_is_live(conn: AsyncConnection[Any], session_id: UUID) -> bool:
    cursor = await conn.execute(
        "SELECT EXISTS (SELECT FROM cc_agent_sessions AS s JOIN cc_agents AS a ON a.id = s.agent_id"
        f" WHERE s.id = %s AND {_LIVE})",
        (session_id,),
    )
    row = await cursor.fetchone()
    return bool(row and row[0])


async def slide_idle_expiry(
    conn: AsyncConnection[Any], session_id: UUID, *, idle: timedelta, every: timedelta
) -> datetime | None:
    """Push the idle expiry on from now (never past the absolute one), unless that was done
    less than `every` ago: the new expiry, or None when nothing was written."""
    cursor = await conn.execute(
        "UPDATE cc_agent_sessions SET last_seen_at = now(),"
        " idle_expires_at = least(now() + %s, absolute_expires_at)"
        " WHERE id = %s AND last_seen_at <= now() - %s AND revoked_at IS NULL"
        " RETURNING idle_expires_at",
        (idle, session_id, every),
    )
    row = await cursor.fetchone()
    return None if row is None else row[0]


async def promote(
    conn: AsyncConnection[Any],
    session_id: UUID,
    token_hash: bytes,
    *,
    idle: timedelta,
    absolute: timedelta,
) -> bool:
    """The session is signed in, under a new token (the first factor's one stops working), with
    the idle expiry from now and the absolute one from its creation (its first factor)."""
    cursor = await conn.execute(
        "UPDATE cc_agent_sessions SET stage = 'signed_in', last_seen_at = now(), token_hash = %s,"
        " absolute_expires_at = created_at + %s,"
        " idle_expires_at = least(now() + %s, created_at + %s)"
        " WHERE id = %s AND stage = 'password' AND revoked_at IS NULL"
        " AND idle_expires_at > now() AND absolute_expires_at > now()",
        (token_hash, absolute, idle, absolute, session_id),
    )
    return cursor.rowcount == 1


async def revoke(conn: AsyncConnection[Any], session_id: UUID, reason: str) -> bool:
    cursor = await conn.execute(
        "UPDATE cc_agent_sessions SET revoked_at = now(), revoked_reason = %s"
        " WHERE id = %s AND revoked_at IS NULL",
        (reason, session_id),
    )
    return cursor.rowcount == 1


async def revoke_all(conn: AsyncConnection[Any], agent_id: UUID, reason: str) -> int:
    """How many sessions were still open."""
    cursor = await conn.execute(
        "UPDATE cc_agent_sessions SET revoked_at = now(), revoked_reason = %s"
        " WHERE agent_id = %s AND revoked_at IS NULL",
        (reason, agent_id),
    )
    return cursor.rowcount


async def refuse_if_blocked(conn: AsyncConnection[Any], subjects: list[tuple[str, str]]) -> float:
    """Seconds until the longest block among `subjects` ends (0: none is blocked); each
    blocked subject counts the attempt it refuses."""
    kinds = [kind for kind, _ in subjects]
    names = [name for _, name in subjects]
    cursor = await conn.execute(
        "UPDATE cc_sign_in_failures AS f SET refused_while_blocked = f.refused_while_blocked + 1"
        " FROM unnest(%s::text[], %s::text[]) AS s (kind, subject)"
        " WHERE f.subject_kind = s.kind AND f.subject = s.subject"
        " AND f.blocked_until > clock_timestamp()"
        " RETURNING extract(epoch FROM f.blocked_until - clock_timestamp())::float8",
        (kinds, names),
    )
    waits = [float(row[0]) for row in await cursor.fetchall()]
    return max(waits, default=0.0)


async def reserve_attempt(
    conn: AsyncConnection[Any], kind: str, subject: str, *, free: int, cap: timedelta
) -> Failure | None:
    """Count the attempt about to be checked as one more failure in a row for the subject,
    unless it is blocked (None); from the `free`-th on, the subject is blocked for 1 s, 2 s,
    4 s ... at most `cap`. The row's lock makes concurrent attempts count one after another,
    so no more are checked than the back-off allows; release_attempt undoes one that passed.
    Times are the clock's, not the transaction's start: a concurrent attempt whose transaction
    began before another's committed must not read that one's time as a block to come."""
    async with conn.cursor(row_factory=class_row(Failure)) as cur:
        await cur.execute(
            "INSERT INTO cc_sign_in_failures AS f (subject_kind, subject, blocked_until)"
            " VALUES (%(kind)s, %(s)s, CASE WHEN 1 >= %(free)s"
            "  THEN clock_timestamp() + interval '1 second' ELSE clock_timestamp() END)"
            " ON CONFLICT (subject_kind, subject) DO UPDATE SET failures = f.failures + 1,"
            "  last_failed_at = clock_timestamp(), blocked_until = CASE"
            "   WHEN f.failures + 1 >= %(free)s THEN clock_timestamp() + least("
            "    make_interval(secs => power(2, least(f.failures + 1 - %(free)s, 20))), %(cap)s)"
            "   ELSE clock_timestamp() END"
            "  WHERE f.blocked_until <= clock_timestamp()"
            " RETURNING f.failures, f.blocked_until, f.failures >= %(free)s AS block_started,"
            "  f.refused_while_blocked",
            {"kind": kind, "s": subject, "free": free, "cap": cap},
        )
        return await cur.fetchone()


async def release_attempt(
    conn: AsyncConnection[Any], kind: str, subject: str, *, free: int
) -> None:
    """Undo reserve_attempt for an attempt that did not fail: one failure fewer, and no block
    while fewer than `free` remain."""
    await conn.execute(
        "DELETE FROM cc_sign_in_failures WHERE subject_kind = %s AND subject = %s"
        " AND failures <= 1",
        (kind, subject),
    )
    await conn.execute(
        "UPDATE cc_sign_in_failures SET failures = failures - 1, blocked_until = CASE"
        "  WHEN failures - 1 < %s THEN least(blocked_until, clock_timestamp())"
        "  ELSE blocked_until END"
        " WHERE subject_kind = %s AND subject = %s",
        (free, kind, subject),
    )


async def clear_failures(conn: AsyncConnection[Any], kind: str, subject: str) -> None:
    await conn.execute(
        "DELETE FROM cc_sign_in_failures WHERE subject_kind = %s AND subject = %s",
        (kind, subject),
    )
