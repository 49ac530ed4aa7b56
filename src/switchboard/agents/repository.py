"""SQL for cc_agents and cc_agent_queues."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import class_row

from switchboard.agents.models import Agent, Credentials, Enrolment

_AGENT_COLUMNS = (
    "a.id, a.email, a.display_name, a.role, a.status,"
    " coalesce(array_agg(q.queue_name ORDER BY q.queue_name)"
    " FILTER (WHERE q.queue_name IS NOT NULL), '{}') AS queues,"
    " a.capacity, a.time_zone, a.created_at, a.disabled_at,"
    " a.password_hash IS NOT NULL AS enrolled, a.totp_last_step IS NOT NULL AS totp_confirmed"
    " FROM cc_agents AS a LEFT JOIN cc_agent_queues AS q ON q.agent_id = a.id"
)


async def queue_names(conn: AsyncConnection[Any]) -> list[str]:
    cursor = await conn.execute("SELECT name FROM cc_queues ORDER BY name")
    return [str(row[0]) for row in await cursor.fetchall()]


async def insert_agent(
    conn: AsyncConnection[Any],
    *,
    email: str,
    display_name: str,
    role: str,
    enrolment_secret_hash: bytes,
    enrolment_hours: int,
    time_zone: str,
) -> tuple[UUID, datetime]:
    """The new agent's id and when its enrolment secret expires. A taken email (whatever its
    case) raises psycopg's UniqueViolation."""
    cursor = await conn.execute(
        "INSERT INTO cc_agents (email, display_name, role, enrolment_secret_hash,"
        " enrolment_expires_at, time_zone)"
        " VALUES (%s, %s, %s, %s, now() + make_interval(hours => %s), %s)"
        " RETURNING id, enrolment_expires_at",
        (email, display_name, role, enrolment_secret_hash, enrolment_hours, time_zone),
    )
    row = await cursor.fetchone()
    if row is None:  # INSERT ... RETURNING always returns the row it wrote
        raise RuntimeError("cc_agents insert returned no row")
    return row[0], row[1]


async def add_queues(conn: AsyncConnection[Any], agent_id: UUID, queues: list[str]) -> list[str]:
    """The queues newly added (those the agent already had are left as they are)."""
    cursor = await conn.execute(
        "INSERT INTO cc_agent_queues (agent_id, queue_name)"
        " SELECT %s, unnest(%s::text[]) ON CONFLICT DO NOTHING RETURNING queue_name",
        (agent_id, queues),
    )
    return sorted(str(row[0]) for row in await cursor.fetchall())


async def remove_queues(conn: AsyncConnection[Any], agent_id: UUID, queues: list[str]) -> list[str]:
    cursor = await conn.execute(
        "DELETE FROM cc_agent_queues WHERE agent_id = %s AND queue_name = ANY(%s)"
        " RETURNING queue_name",
        (agent_id, queues),
    )
    return sorted(str(row[0]) for row in await cursor.fetchall())


async def touch(conn: AsyncConnection[Any], agent_id: UUID) -> None:
    await conn.execute("UPDATE cc_agents SET updated_at = now() WHERE id = %s", (agent_id,))


async def agent_by_email(conn: AsyncConnection[Any], email: str) -> Agent | None:
    async with conn.cursor(row_factory=class_row(Agent)) as cur:
        await cur.execute(
            f"SELECT {_AGENT_COLUMNS} WHERE lower(a.email) = lower(%s) GROUP BY a.id", (email,)
        )
        return await cur.fetchone()


async def agent_by_id(conn: AsyncConnection[Any], agent_id: UUID) -> Agent | None:
    async with conn.cursor(row_factory=class_row(Agent)) as cur:
        await cur.execute(f"SELECT {_AGENT_COLUMNS} WHERE a.id = %s GROUP BY a.id", (agent_id,))
        return await cur.fetchone()


async def list_agents(conn: AsyncConnection[Any]) -> list[Agent]:
    async with conn.cursor(row_factory=class_row(Agent)) as cur:
        await cur.execute(f"SELECT {_AGENT_COLUMNS} GROUP BY a.id ORDER BY lower(a.email)")
        return await cur.fetchall()


async def disable(conn: AsyncConnection[Any], agent_id: UUID) -> bool:
    """False when the agent was already disabled."""
    cursor = await conn.execute(
        "UPDATE cc_agents SET status = 'disabled', disabled_at = now(), updated_at = now(),"
        " presence = 'offline', presence_changed_at = now(),"
        " enrolment_secret_hash = NULL, enrolment_expires_at = NULL"
        " WHERE id = %s AND status = 'active'",
        (agent_id,),
    )
    return cursor.rowcount == 1


async def credentials_by_email(conn: AsyncConnection[Any], email: str) -> Credentials | None:
    async with conn.cursor(row_factory=class_row(Credentials)) as cur:
        await cur.execute(
            "SELECT id, email, role, status, password_hash, totp_secret_sealed, totp_last_step"
            " FROM cc_agents WHERE lower(email) = lower(%s)",
            (email,),
        )
        return await cur.fetchone()


async def credentials_by_id(conn: AsyncConnection[Any], agent_id: UUID) -> Credentials | None:
    async with conn.cursor(row_factory=class_row(Credentials)) as cur:
        await cur.execute(
            "SELECT id, email, role, status, password_hash, totp_secret_sealed, totp_last_step"
            " FROM cc_agents WHERE id = %s",
            (agent_id,),
        )
        return await cur.fetchone()


async def enrolment_for_update(conn: AsyncConnection[Any], secret_hash: bytes) -> Enrolment | None:
    """The active agent whose unexpired enrolment secret hashes to `secret_hash`, locked."""
    async with conn.cursor(row_factory=class_row(Enrolment)) as cur:
        await cur.execute(
            "SELECT id AS agent_id, email, role, password_hash IS NOT NULL AS password_set,"
            " totp_secret_sealed FROM cc_agents"
            " WHERE enrolment_secret_hash = %s AND enrolment_expires_at > now()"
            " AND status = 'active' FOR UPDATE",
            (secret_hash,),
        )
        return await cur.fetchone()


async def set_password_and_totp(
    conn: AsyncConnection[Any], agent_id: UUID, password_hash: str, totp_secret_sealed: str
) -> None:
    """A new password and TOTP secret: no code of the new secret has been accepted yet."""
    await conn.execute(
        "UPDATE cc_agents SET password_hash = %s, totp_secret_sealed = %s,"
        " totp_last_step = NULL, updated_at = now() WHERE id = %s",
        (password_hash, totp_secret_sealed, agent_id),
    )


async def set_password_hash(conn: AsyncConnection[Any], agent_id: UUID, password_hash: str) -> None:
    await conn.execute(
        "UPDATE cc_agents SET password_hash = %s, updated_at = now() WHERE id = %s",
        (password_hash, agent_id),
    )


async def accept_totp_step(conn: AsyncConnection[Any], agent_id: UUID, step: int) -> bool:
    """Record `step` as the last accepted one, unless it (or a later one) already was: false
    then, and the code is refused. Atomic: two requests with the same code cannot both pass."""
    cursor = await conn.execute(
        "UPDATE cc_agents SET totp_last_step = %s"
        " WHERE id = %s AND (totp_last_step IS NULL OR totp_last_step < %s)",
        (step, agent_id, step),
    )
    return cursor.rowcount == 1


async def burn_enrolment(conn: AsyncConnection[Any], agent_id: UUID) -> None:
    await conn.execute(
        "UPDATE cc_agents SET enrolment_secret_hash = NULL, enrolment_expires_at = NULL,"
        " updated_at = now() WHERE id = %s",
        (agent_id,),
    )
