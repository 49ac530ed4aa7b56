"""SQL of a supervisor's reads. Each runs in the supervisor's transaction (row_security): the
policies decide which items and clocks it sees; the queues a statement reports on are those
the caller supervises (an admin: all), decided by cc_private's helpers in the same statement."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import dict_row

from switchboard.supervision.models import (
    AgentLoad,
    Breach,
    LiveClock,
    QueueFigures,
    QueueItem,
    int_map,
)

LIVE = "('queued', 'offered', 'active', 'wrap_up')"
SLA_METRICS = "('first_response', 'next_response', 'resolution')"
# The queues the acting agent supervises: an admin every queue, a supervisor theirs.
SUPERVISED = (
    "((SELECT cc_private.agent_role()) = 'admin'"
    " OR ((SELECT cc_private.agent_role()) = 'supervisor'"
    "     AND {name} = ANY ((SELECT cc_private.agent_queues())::text[])))"
)

# Every figure of every supervised queue in one statement: the live items counted by state,
# the oldest queued one, today's met and breached SLA clocks (today: since local midnight in
# the queue's calendar's zone), and the queue's agents with their load.
FIGURES_SQL = f"""
WITH mine AS (
    SELECT q.name, q.display_name, q.priority, c.time_zone,
           date_trunc('day', now() AT TIME ZONE c.time_zone) AT TIME ZONE c.time_zone
               AS day_start
    FROM cc_queues AS q JOIN cc_calendars AS c ON c.name = q.calendar_name
    WHERE {SUPERVISED.format(name="q.name")}
), items AS (
    SELECT w.queue_name,
           count(*) FILTER (WHERE w.state = 'queued') AS queued,
           count(*) FILTER (WHERE w.state = 'offered') AS offered,
           count(*) FILTER (WHERE w.state = 'active') AS active,
           count(*) FILTER (WHERE w.state = 'wrap_up') AS wrap_up,
           min(w.enqueued_at) FILTER (WHERE w.state = 'queued') AS oldest_enqueued_at,
           count(*) FILTER (WHERE w.state = 'queued' AND w.escalated_at IS NOT NULL)
               AS escalated_waiting
    FROM cc_assignments AS w
    WHERE w.state IN {LIVE} AND w.queue_name IN (SELECT name FROM mine)
    GROUP BY w.queue_name
), today AS (
    SELECT k.queue_name,
           count(*) FILTER (WHERE k.state = 'fulfilled' AND k.fulfilled_at >= m.day_start)
               AS met,
           count(*) FILTER (WHERE k.breached_at >= m.day_start) AS breached
    FROM cc_sla_clocks AS k JOIN mine AS m ON m.name = k.queue_name
    WHERE k.metric IN {SLA_METRICS}
      AND (k.fulfilled_at >= m.day_start OR k.breached_at >= m.day_start)
    GROUP BY k.queue_name
), agents AS (
    SELECT s.queue_name,
           jsonb_agg(jsonb_build_object(
               'agent_id', s.agent_id, 'display_name', s.display_name, 'role', s.role,
               'presence', s.presence, 'presence_changed_at', s.presence_changed_at,
               'capacity', s.capacity, 'load', s.load)
               ORDER BY s.display_name, s.agent_id) AS agents
    FROM cc_private.supervised_agents() AS s
    GROUP BY s.queue_name
)
SELECT m.name AS queue, m.display_name, m.time_zone, m.day_start AS day_started_at,
       now() AS as_of,
       coalesce(i.queued, 0) AS queued, coalesce(i.offered, 0) AS offered,
       coalesce(i.active, 0) AS active, coalesce(i.wrap_up, 0) AS wrap_up,
       i.oldest_enqueued_at,
       extract(epoch FROM now() - i.oldest_enqueued_at)::float8 AS oldest_wait_seconds,
       coalesce(i.escalated_waiting, 0) AS escalated_waiting,
       coalesce(t.met, 0) AS met_today, coalesce(t.breached, 0) AS breached_today,
       coalesce(a.agents, '[]'::jsonb) AS agents
FROM mine AS m
LEFT JOIN items AS i ON i.queue_name = m.name
LEFT JOIN today AS t ON t.queue_name = m.name
LEFT JOIN agents AS a ON a.queue_name = m.name
ORDER BY m.priority DESC, m.name
"""


async def queue_figures(conn: AsyncConnection[Any]) -> list[QueueFigures]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(FIGURES_SQL)
        rows = await cur.fetchall()
    return [
        QueueFigures(
            **{key: value for key, value in row.items() if key != "agents"},
            agents=[_agent(agent) for agent in row["agents"]],
        )
        for row in rows
    ]


def _agent(found: dict[str, Any]) -> AgentLoad:
    return AgentLoad(
        agent_id=UUID(found["agent_id"]),
        display_name=found["display_name"],
        role=found["role"],
        presence=found["presence"],
        presence_changed_at=datetime.fromisoformat(found["presence_changed_at"]),
        capacity=int_map(found["capacity"]),
        load=int_map(found["load"]),
    )


async def supervises(conn: AsyncConnection[Any], queue: str) -> bool:
    cursor = await conn.execute(
        f"SELECT FROM cc_queues WHERE name = %s AND {SUPERVISED.format(name='name')}", (queue,)
    )
    return await cursor.fetchone() is not None


# A queue's live items after the cursor, oldest first, each with its conversation's live SLA
# clocks (as the policies let the supervisor read them).
ITEMS_SQL = f"""
SELECT w.id, w.conversation_id, w.case_id, w.state, w.channel, w.priority, w.assigned_to,
       w.enqueued_at, w.offer_expires_at, w.offer_count, w.escalated_at, w.source, w.reason,
       w.version,
       coalesce((SELECT jsonb_agg(jsonb_build_object(
                    'metric', k.metric, 'state', k.state, 'due_at', k.due_at,
                    'overdue', k.state = 'running' AND k.due_at <= now())
                    ORDER BY k.due_at NULLS LAST, k.metric)
                 FROM cc_sla_clocks AS k
                 WHERE k.conversation_id = w.conversation_id
                   AND k.state IN ('running', 'paused')), '[]'::jsonb) AS clocks
FROM cc_assignments AS w
WHERE w.queue_name = %(queue)s AND w.state IN {LIVE}
  AND (%(after_at)s::timestamptz IS NULL
       OR (w.enqueued_at, w.id) > (%(after_at)s::timestamptz, %(after_id)s::uuid))
ORDER BY w.enqueued_at, w.id
LIMIT %(limit)s
"""


async def queue_items(
    conn: AsyncConnection[Any],
    queue: str,
    *,
    after: tuple[datetime, UUID] | None,
    limit: int,
) -> list[QueueItem]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            ITEMS_SQL,
            {
                "queue": queue,
                "after_at": after[0] if after else None,
                "after_id": after[1] if after else None,
                "limit": limit,
            },
        )
        rows = await cur.fetchall()
    return [
        QueueItem(
            **{key: value for key, value in row.items() if key != "clocks"},
            clocks=[
                LiveClock(
                    metric=c["metric"],
                    state=c["state"],
                    due_at=None if c["due_at"] is None else datetime.fromisoformat(c["due_at"]),
                    overdue=bool(c["overdue"]),
                )
                for c in row["clocks"]
            ],
        )
        for row in rows
    ]


# Clocks breached since a time: those measured by the supervised queues' policies, and the
# regulatory clocks of cases the policies let the caller see; newest first.
BREACHES_SQL = f"""
SELECT k.id AS clock_id, k.conversation_id, k.case_id, k.queue_name AS queue, k.metric,
       k.priority, k.due_at, k.breached_at, k.fulfilled_at
FROM cc_sla_clocks AS k
WHERE k.breached_at >= %(since)s
  AND ({SUPERVISED.format(name="k.queue_name")} OR k.case_id IS NOT NULL)
ORDER BY k.breached_at DESC, k.id
LIMIT %(limit)s
"""


async def breaches(conn: AsyncConnection[Any], *, since: datetime, limit: int) -> list[Breach]:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(BREACHES_SQL, {"since": since, "limit": limit})
        return [Breach(**row) for row in await cur.fetchall()]
