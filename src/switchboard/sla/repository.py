"""SQL for calendars (018's tables), SLA targets, clocks and their events."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import class_row

from switchboard.sla.calendar import Calendar, Interval, calendar
from switchboard.sla.models import Clock, ClockEventRow

CLOCK_COLUMNS = (
    "id, conversation_id, case_id, metric, unit, target, calendar_name, queue_name,"
    " policy_name, priority, basis, state, started_at, running_since, due_at, paused_at,"
    " business_used, fulfilled_at, breached_at, cancelled_at"
)

# One round trip: the zone, the weekly hours and every dated exception, times as seconds after
# midnight (time '24:00' is 86400, which Python's time cannot hold).
_CALENDAR = """
SELECT c.time_zone,
       (SELECT coalesce(json_agg(json_build_array(h.iso_weekday,
                                                  extract(epoch FROM h.opens)::integer,
                                                  extract(epoch FROM h.closes)::integer)),
                        '[]')
          FROM cc_calendar_hours AS h WHERE h.calendar_name = c.name),
       (SELECT coalesce(json_agg(json_build_array(e.on_date,
                                                  extract(epoch FROM e.opens)::integer,
                                                  extract(epoch FROM e.closes)::integer)),
                        '[]')
          FROM cc_calendar_exceptions AS e WHERE e.calendar_name = c.name)
  FROM cc_calendars AS c WHERE c.name = %s
"""


async def load_calendar(conn: AsyncConnection[Any], name: str) -> Calendar | None:
    cursor = await conn.execute(_CALENDAR, (name,))
    row = await cursor.fetchone()
    if row is None:
        return None
    time_zone, hours, exceptions = row
    weekly: dict[int, list[Interval]] = {}
    for weekday, opens, closes in hours:
        weekly.setdefault(weekday, []).append((opens, closes))
    dated: dict[date, list[Interval]] = {}
    closed: set[date] = set()
    for on_date, opens, closes in exceptions:
        day = date.fromisoformat(on_date)
        dated.setdefault(day, [])
        if opens is None:
            closed.add(day)  # a row that closes the day wins over rows that open it
        else:
            dated[day].append((opens, closes))
    for day in closed:
        dated[day] = []
    return calendar(name, time_zone, weekly, dated)


async def calendar_names(conn: AsyncConnection[Any]) -> list[str]:
    cursor = await conn.execute("SELECT name FROM cc_calendars ORDER BY name")
    return [name for (name,) in await cursor.fetchall()]


async def queue_targets(
    conn: AsyncConnection[Any], queue: str, priority: str
) -> tuple[str, str, dict[str, timedelta]] | None:
    """The queue's SLA policy, its calendar, and the policy's targets for the priority."""
    cursor = await conn.execute(
        "SELECT q.sla_policy_name, q.calendar_name, t.metric, t.target FROM cc_queues AS q"
        " LEFT JOIN cc_sla_targets AS t ON t.policy_name = q.sla_policy_name"
        " AND t.priority = %s WHERE q.name = %s",
        (priority, queue),
    )
    rows = await cursor.fetchall()
    if not rows:
        return None
    policy, calendar_name = rows[0][0], rows[0][1]
    return policy, calendar_name, {metric: target for _, _, metric, target in rows if metric}


async def policy_target(
    conn: AsyncConnection[Any], policy: str, priority: str, metric: str
) -> timedelta | None:
    cursor = await conn.execute(
        "SELECT target FROM cc_sla_targets WHERE policy_name = %s AND priority = %s"
        " AND metric = %s",
        (policy, priority, metric),
    )
    row = await cursor.fetchone()
    return None if row is None else row[0]


async def conversation_exists(conn: AsyncConnection[Any], conversation_id: UUID) -> bool:
    cursor = await conn.execute("SELECT FROM cc_conversations WHERE id = %s", (conversation_id,))
    return await cursor.fetchone() is not None


async def queue_names(conn: AsyncConnection[Any]) -> list[str]:
    cursor = await conn.execute("SELECT name FROM cc_queues ORDER BY name")
    return [name for (name,) in await cursor.fetchall()]


async def insert_clock(
    conn: AsyncConnection[Any],
    *,
    conversation_id: UUID | None,
    case_id: UUID | None,
    metric: str,
    unit: str,
    target: timedelta,
    calendar_name: str,
    queue_name: str | None,
    policy_name: str | None,
    priority: str | None,
    basis: str,
    started_at: datetime,
    due_at: datetime,
) -> Clock | None:
    """The new running clock, or None when the subject already has a live one of the metric
    (two callers starting the same clock at once: one wins, the other gets nothing)."""
    subject = "conversation_id" if conversation_id is not None else "case_id"
    async with conn.cursor(row_factory=class_row(Clock)) as cur:
        await cur.execute(
            "INSERT INTO cc_sla_clocks (conversation_id, case_id, metric, unit, target,"
            " calendar_name, queue_name, policy_name, priority, basis, state, started_at,"
            " running_since, due_at)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'running', %s, %s, %s)"
            f" ON CONFLICT ({subject}, metric) WHERE state IN ('running', 'paused')"
            f" AND {subject} IS NOT NULL DO NOTHING RETURNING {CLOCK_COLUMNS}",
            (
                conversation_id,
                case_id,
                metric,
                unit,
                target,
                calendar_name,
                queue_name,
                policy_name,
                priority,
                basis,
                started_at,
                started_at,
                due_at,
            ),
        )
        return await cur.fetchone()


async def lock_clocks(
    conn: AsyncConnection[Any], *, conversation_id: UUID | None = None, case_id: UUID | None = None
) -> list[Clock]:
    """Every clock of the conversation (or case), oldest first, locked until the transaction
    ends, so two changes of the same clocks take turns."""
    subject, value = _subject(conversation_id, case_id)
    async with conn.cursor(row_factory=class_row(Clock)) as cur:
        await cur.execute(
            f"SELECT {CLOCK_COLUMNS} FROM cc_sla_clocks WHERE {subject} = %s"
            " ORDER BY started_at, metric FOR UPDATE",
            (value,),
        )
        return await cur.fetchall()


async def clocks_of(
    conn: AsyncConnection[Any], *, conversation_id: UUID | None = None, case_id: UUID | None = None
) -> list[Clock]:
    subject, value = _subject(conversation_id, case_id)
    async with conn.cursor(row_factory=class_row(Clock)) as cur:
        await cur.execute(
            f"SELECT {CLOCK_COLUMNS} FROM cc_sla_clocks WHERE {subject} = %s"
            " ORDER BY started_at, metric",
            (value,),
        )
        return await cur.fetchall()


async def response_due(
    conn: AsyncConnection[Any], conversation_ids: list[UUID]
) -> dict[UUID, tuple[str, str, datetime | None]]:
    """Each conversation's response clock that is running or paused, soonest due first:
    {conversation: (metric, state, due_at)}; a conversation with none is left out."""
    cursor = await conn.execute(
        "SELECT DISTINCT ON (conversation_id) conversation_id, metric, state, due_at"
        " FROM cc_sla_clocks WHERE conversation_id = ANY(%s)"
        " AND metric IN ('first_response', 'next_response') AND state IN ('running', 'paused')"
        " ORDER BY conversation_id, due_at NULLS LAST",
        (conversation_ids,),
    )
    return {row[0]: (row[1], row[2], row[3]) for row in await cursor.fetchall()}


async def lock_running_on_calendar(conn: AsyncConnection[Any], calendar_name: str) -> list[Clock]:
    async with conn.cursor(row_factory=class_row(Clock)) as cur:
        await cur.execute(
            f"SELECT {CLOCK_COLUMNS} FROM cc_sla_clocks WHERE calendar_name = %s"
            " AND state = 'running' ORDER BY due_at FOR UPDATE",
            (calendar_name,),
        )
        return await cur.fetchall()


def _subject(conversation_id: UUID | None, case_id: UUID | None) -> tuple[str, UUID]:
    if conversation_id is not None:
        return "conversation_id", conversation_id
    if case_id is not None:
        return "case_id", case_id
    raise ValueError("a conversation or a case")


async def save_clock(conn: AsyncConnection[Any], clock: Clock) -> None:
    """Write a locked clock's changing columns."""
    await conn.execute(
        "UPDATE cc_sla_clocks SET state = %s, running_since = %s, due_at = %s, paused_at = %s,"
        " business_used = %s, fulfilled_at = %s, breached_at = %s, cancelled_at = %s,"
        " updated_at = now() WHERE id = %s",
        (
            clock.state,
            clock.running_since,
            clock.due_at,
            clock.paused_at,
            clock.business_used,
            clock.fulfilled_at,
            clock.breached_at,
            clock.cancelled_at,
            clock.id,
        ),
    )


async def breach_due(
    conn: AsyncConnection[Any],
    *,
    now: datetime | None,
    limit: int,
    clock_ids: list[UUID] | None = None,
) -> list[Clock]:
    """Mark breached the running clocks due by `now` (the database's now when None), each
    once: a clock another transaction holds is skipped, and one it has already breached no
    longer matches `state = 'running'`. breached_at is the due time: when the target passed."""
    async with conn.cursor(row_factory=class_row(Clock)) as cur:
        await cur.execute(
            "WITH due AS (SELECT id FROM cc_sla_clocks"
            " WHERE state = 'running' AND due_at <= coalesce(%(now)s, now())"
            " AND (%(ids)s::uuid[] IS NULL OR id = ANY(%(ids)s::uuid[]))"
            " ORDER BY due_at LIMIT %(limit)s FOR UPDATE SKIP LOCKED)"
            " UPDATE cc_sla_clocks AS c SET state = 'breached', breached_at = c.due_at,"
            " updated_at = now() FROM due"
            " WHERE c.id = due.id AND c.state = 'running'"
            f" RETURNING {', '.join('c.' + column for column in CLOCK_COLUMNS.split(', '))}",
            {"now": now, "ids": clock_ids, "limit": limit},
        )
        return await cur.fetchall()


async def insert_events(
    conn: AsyncConnection[Any], events: list[tuple[UUID, str, datetime, Any, timedelta, str, str]]
) -> None:
    """(clock_id, event, at, due_at, business_used, actor_type, actor_id) each."""
    if not events:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            "INSERT INTO cc_sla_clock_events (clock_id, event, at, due_at, business_used,"
            " actor_type, actor_id) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            events,
        )


async def events_of(conn: AsyncConnection[Any], clock_id: UUID) -> list[ClockEventRow]:
    async with conn.cursor(row_factory=class_row(ClockEventRow)) as cur:
        await cur.execute(
            "SELECT clock_id, event, at, due_at, business_used, actor_type, actor_id,"
            " recorded_at FROM cc_sla_clock_events WHERE clock_id = %s"
            " ORDER BY recorded_at, id",
            (clock_id,),
        )
        return await cur.fetchall()


async def inbound_message(
    conn: AsyncConnection[Any], message_id: UUID
) -> tuple[datetime, UUID, UUID | None] | None:
    """An inbound message's received time, conversation and that conversation's customer."""
    cursor = await conn.execute(
        "SELECT m.created_at, m.conversation_id, c.bank_customer_id FROM cc_messages AS m"
        " JOIN cc_conversations AS c ON c.id = m.conversation_id"
        " WHERE m.id = %s AND m.direction = 'inbound'",
        (message_id,),
    )
    row = await cursor.fetchone()
    return None if row is None else (row[0], row[1], row[2])


async def case_subject(
    conn: AsyncConnection[Any], case_id: UUID
) -> tuple[str, UUID | None, UUID | None] | None:
    """A case's type, customer and conversation."""
    cursor = await conn.execute(
        "SELECT case_type, bank_customer_id, conversation_id FROM cc_cases WHERE id = %s",
        (case_id,),
    )
    row = await cursor.fetchone()
    return None if row is None else (row[0], row[1], row[2])


async def insert_closed_day(
    conn: AsyncConnection[Any], calendar_name: str, on_date: date, label: str
) -> bool:
    """Close the date, unless a row already closes it. False: it was closed already."""
    cursor = await conn.execute(
        "INSERT INTO cc_calendar_exceptions (calendar_name, on_date, label)"
        " SELECT %(name)s, %(day)s, %(label)s WHERE NOT EXISTS (SELECT FROM"
        " cc_calendar_exceptions WHERE calendar_name = %(name)s AND on_date = %(day)s"
        " AND opens IS NULL)",
        {"name": calendar_name, "day": on_date, "label": label},
    )
    return cursor.rowcount == 1


# Conversations whose customer wrote after their clocks last took notice: after a clock was
# paused (it waits on the customer), or after a human's answer when no response clock is live
# (the next response is owed). With the time of the first such message. Only conversations
# with an inbound message in the last %(within)s (NULL: ever) are looked at, found by the index
# of 027: the scan is bounded by the messages of that window, not by the number of live clocks.
_UNHEEDED = """
WITH recent AS (
    SELECT DISTINCT m.conversation_id FROM cc_messages AS m
    WHERE m.direction = 'inbound'
      AND m.created_at > coalesce(now() - %(within)s::interval, '-infinity')
), live AS (
    SELECT r.conversation_id, r.started_at AS episode FROM recent AS n
    JOIN cc_sla_clocks AS r ON r.conversation_id = n.conversation_id
    WHERE r.metric = 'resolution' AND r.state IN ('running', 'paused')
), since AS (
    SELECT l.conversation_id, coalesce(
        (SELECT min(p.paused_at) FROM cc_sla_clocks AS p
         WHERE p.conversation_id = l.conversation_id AND p.state = 'paused'),
        (SELECT max(a.fulfilled_at) FROM cc_sla_clocks AS a
         WHERE a.conversation_id = l.conversation_id
           AND a.metric IN ('first_response', 'next_response') AND a.fulfilled_at IS NOT NULL
           AND a.started_at >= l.episode
           AND NOT EXISTS (SELECT FROM cc_sla_clocks AS o
                           WHERE o.conversation_id = l.conversation_id
                             AND o.metric IN ('first_response', 'next_response')
                             AND o.state IN ('running', 'paused')))
    ) AS after
    FROM live AS l
)
SELECT s.conversation_id, w.first FROM since AS s
CROSS JOIN LATERAL (SELECT min(m.created_at) AS first FROM cc_messages AS m
                    WHERE m.conversation_id = s.conversation_id AND m.direction = 'inbound'
                      AND m.created_at > s.after) AS w
WHERE s.after IS NOT NULL AND w.first IS NOT NULL
ORDER BY w.first LIMIT %(limit)s
"""


async def customer_messages_unheeded(
    conn: AsyncConnection[Any], limit: int, within: timedelta | None
) -> list[tuple[UUID, datetime]]:
    """`within` None: every message, whenever it came (a worker's first sweep, catching up)."""
    cursor = await conn.execute(_UNHEEDED, {"within": within, "limit": limit})
    return [(row[0], row[1]) for row in await cursor.fetchall()]
