"""SQL for cc_assignments, claim-next and offers (cc_private's functions), and agents'
presence."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg.rows import class_row, dict_row
from psycopg.types.json import Jsonb

from switchboard.assignments.models import (
    COLUMNS,
    TRANSITIONS,
    Assignment,
    Move,
    Presence,
    State,
)
from switchboard.audit.repository import audit_parameters

LIVE = "('queued', 'offered', 'active', 'wrap_up')"


def _assignment(row: dict[str, Any]) -> Assignment:
    return Assignment(**{**row, "state": State(row["state"])})


async def _one(conn: AsyncConnection[Any], query: str, params: Any) -> Assignment | None:
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query.encode(), params)
        row = await cur.fetchone()
    return None if row is None else _assignment(row)


async def insert_queued(
    conn: AsyncConnection[Any],
    *,
    conversation_id: UUID | None,
    case_id: UUID | None,
    queue_name: str,
    channel: str,
    priority: int,
    source: str,
    reason: str | None,
    within: timedelta,
    assurance_level: int | None = None,
    last_agent_id: UUID | None = None,
    transferred_from: UUID | None = None,
    enqueued_at_of: UUID | None = None,
) -> Assignment | None:
    """The new queued item; None when the conversation already has a live one (the partial
    unique index decides, whatever runs at the same time). `enqueued_at_of`: an item whose
    time in the queue this one keeps (a transfer keeps the customer's place)."""
    return await _one(
        conn,
        "INSERT INTO cc_assignments (conversation_id, case_id, queue_name, channel, priority,"
        " source, reason, sla_due_at, assurance_level, last_agent_id, transferred_from,"
        " enqueued_at)"
        " VALUES (%(conversation_id)s, %(case_id)s, %(queue_name)s, %(channel)s, %(priority)s,"
        " %(source)s, %(reason)s, now() + %(within)s, %(assurance_level)s, %(last_agent_id)s,"
        " %(transferred_from)s, coalesce((SELECT enqueued_at FROM cc_assignments"
        " WHERE id = %(enqueued_at_of)s), now()))"
        f" ON CONFLICT (conversation_id) WHERE state IN {LIVE} DO NOTHING"
        f" RETURNING {COLUMNS}",
        {
            "conversation_id": conversation_id,
            "case_id": case_id,
            "queue_name": queue_name,
            "channel": channel,
            "priority": priority,
            "source": source,
            "reason": reason,
            "within": within,
            "assurance_level": assurance_level,
            "last_agent_id": last_agent_id,
            "transferred_from": transferred_from,
            "enqueued_at_of": enqueued_at_of,
        },
    )


# Each conversation written to that nobody holds or waits for, queued in one statement with
# its audit record: in its last item's queue for its last agent (a reopened conversation),
# else in general. The records' payloads are the caller's (audit.service.values_now),
# completed with the item queued.
QUEUE_UNHELD_SQL = f"""
WITH last AS (
    SELECT DISTINCT ON (w.conversation_id) w.conversation_id, w.queue_name, w.priority,
           w.channel, w.assigned_to
    FROM cc_assignments AS w
    WHERE w.conversation_id = ANY (%(conversations)s::uuid[])
    ORDER BY w.conversation_id, w.created_at DESC, w.id DESC
), unheld AS (
    -- A holder written before 019 may be free text, or no agent's id: then there is none.
    -- Worked before: its last queue; else the one its customer's words asked for.
    SELECT c.id, c.channel, c.bank_customer_id, l.queue_name IS NOT NULL AS worked_before,
           coalesce(l.queue_name, %(first_queues)s::jsonb ->> c.id::text, 'general') AS queue,
           l.priority,
           (SELECT a.id FROM cc_agents AS a WHERE a.id::text = l.assigned_to) AS last_agent
    FROM cc_conversations AS c LEFT JOIN last AS l ON l.conversation_id = c.id
    WHERE c.id = ANY (%(conversations)s::uuid[])
      AND NOT EXISTS (SELECT FROM cc_assignments AS w
                      WHERE w.conversation_id = c.id AND w.state IN {LIVE})
), queued AS (
    INSERT INTO cc_assignments (conversation_id, queue_name, channel, priority, source,
                                sla_due_at, last_agent_id, enqueued_at)
    SELECT u.id, u.queue, u.channel, coalesce(u.priority, 0),
           CASE WHEN u.worked_before THEN 'reopen' ELSE 'inbound' END,
           now() + coalesce((%(slas)s::jsonb ->> u.queue)::interval, %(default_sla)s),
           u.last_agent, now()
    FROM unheld AS u
    ON CONFLICT (conversation_id) WHERE state IN {LIVE} DO NOTHING
    RETURNING id, conversation_id, queue_name, source
)
INSERT INTO cc_audit_logs (actor_type, actor_id, event_type, event_version, input_redacted,
                           output_redacted, success, error_code, error_message,
                           conversation_id, case_id, bank_customer_id)
SELECT %(actor_type)s, %(actor_id)s, %(event_type)s, %(event_version)s,
       %(input)s || jsonb_strip_nulls(jsonb_build_object(
           'queue', q.queue_name, 'source', q.source,
           'request_id', %(request_ids)s::jsonb ->> q.conversation_id::text)),
       %(output)s || jsonb_build_object('assignment_id', q.id),
       %(success)s, %(error_code)s, %(error_message)s, q.conversation_id, NULL,
       u.bank_customer_id
FROM queued AS q JOIN unheld AS u ON u.id = q.conversation_id
RETURNING conversation_id
"""


async def queue_unheld(
    conn: AsyncConnection[Any],
    conversation_ids: list[UUID],
    audit: dict[str, Any],
    *,
    request_ids: dict[str, str],
    first_queues: dict[str, str],
    slas: dict[str, str],
    default_sla: timedelta,
) -> list[UUID]:
    """The conversations queued now (those nobody held or waited for). `request_ids`: by
    conversation id, the request whose message queued it (its audit record's);
    `first_queues`: by conversation id, the queue of one never queued before (else general)."""
    cursor = await conn.execute(
        QUEUE_UNHELD_SQL,
        {
            **audit_parameters(audit),
            "conversations": conversation_ids,
            "request_ids": Jsonb(request_ids),
            "first_queues": Jsonb(first_queues),
            "slas": Jsonb(slas),
            "default_sla": default_sla,
        },
    )
    return [row[0] for row in await cursor.fetchall()]


async def items_without_clocks(conn: AsyncConnection[Any], limit: int) -> list[Assignment]:
    """Live items of conversations whose resolution clock has not started (queued by the
    inbound path, which leaves starting them to the sweep), oldest first."""
    async with conn.cursor(row_factory=class_row(Assignment)) as cur:
        await cur.execute(
            f"SELECT {COLUMNS} FROM cc_assignments AS w"
            f" WHERE w.state IN {LIVE} AND w.conversation_id IS NOT NULL"
            " AND NOT EXISTS (SELECT FROM cc_sla_clocks AS k"
            "                 WHERE k.conversation_id = w.conversation_id"
            "                   AND k.metric = 'resolution' AND k.state IN ('running', 'paused'))"
            " ORDER BY w.enqueued_at LIMIT %s",
            (limit,),
        )
        return await cur.fetchall()


async def reopened_not_yet_offered(conn: AsyncConnection[Any], limit: int) -> list[Assignment]:
    """Items queued again for a conversation worked before, not offered to anyone yet."""
    async with conn.cursor(row_factory=class_row(Assignment)) as cur:
        await cur.execute(
            f"SELECT {COLUMNS} FROM cc_assignments"
            " WHERE state = 'queued' AND source = 'reopen' AND offer_count = 0"
            " AND last_agent_id IS NOT NULL AND enqueued_at > now() - interval '10 minutes'"
            " ORDER BY enqueued_at LIMIT %s",
            (limit,),
        )
        return await cur.fetchall()


async def get_assignment(conn: AsyncConnection[Any], assignment_id: UUID) -> Assignment | None:
    return await _one(conn, f"SELECT {COLUMNS} FROM cc_assignments WHERE id = %s", (assignment_id,))


async def live_assignment(conn: AsyncConnection[Any], conversation_id: UUID) -> Assignment | None:
    return await _one(
        conn,
        f"SELECT {COLUMNS} FROM cc_assignments WHERE conversation_id = %s AND state IN {LIVE}",
        (conversation_id,),
    )


async def last_assignment(conn: AsyncConnection[Any], conversation_id: UUID) -> Assignment | None:
    """The conversation's most recent finished item: whose agent a reopen goes back to."""
    return await _one(
        conn,
        f"SELECT {COLUMNS} FROM cc_assignments WHERE conversation_id = %s"
        " AND state IN ('done', 'cancelled')"
        " ORDER BY coalesce(done_at, updated_at) DESC, created_at DESC LIMIT 1",
        (conversation_id,),
    )


async def held_by(conn: AsyncConnection[Any], agent_id: UUID) -> list[Assignment]:
    """The agent's offers and work, oldest first."""
    async with conn.cursor(row_factory=class_row(Assignment)) as cur:
        await cur.execute(
            f"SELECT {COLUMNS} FROM cc_assignments"
            " WHERE assigned_to = %s AND state IN ('offered', 'active', 'wrap_up')"
            " ORDER BY coalesce(accepted_at, offered_at), id",
            (str(agent_id),),
        )
        return await cur.fetchall()


async def conversation_channel(conn: AsyncConnection[Any], conversation_id: UUID) -> str | None:
    cursor = await conn.execute(
        "SELECT channel FROM cc_conversations WHERE id = %s", (conversation_id,)
    )
    row = await cursor.fetchone()
    return None if row is None else str(row[0])


# The claim, and its audit record when it took an item, in one statement: one round trip,
# one transaction. The record's payloads are the caller's (audit.service.values_now), its
# output completed with the item the claim took.
CLAIM_SQL = (
    f"WITH claimed AS (SELECT {COLUMNS} FROM cc_private.claim_next_assignment(%(agent_id)s)),"
    " audited AS (INSERT INTO cc_audit_logs (actor_type, actor_id, event_type, event_version,"
    " input_redacted, output_redacted, success, error_code, error_message, conversation_id,"
    " case_id, bank_customer_id)"
    " SELECT %(actor_type)s, %(actor_id)s, %(event_type)s, %(event_version)s, %(input)s,"
    " %(output)s || jsonb_build_object('assignment_id', c.id, 'state', c.state,"
    " 'queue', c.queue_name, 'assigned_to', c.assigned_to, 'version', c.version),"
    " %(success)s, %(error_code)s, %(error_message)s, c.conversation_id, c.case_id,"
    " %(bank_customer_id)s FROM claimed AS c)"
    f" SELECT {COLUMNS} FROM claimed"
)


async def claim_next_assignment(
    conn: AsyncConnection[Any], agent_id: UUID, audit: dict[str, Any]
) -> Assignment | None:
    """The item claim-next gave the agent, its audit record (`audit`: its columns, as
    audit.service.values_now gives them) written with it; None when it gave none."""
    return await _one(conn, CLAIM_SQL, {**audit_parameters(audit), "agent_id": agent_id})


async def offer_assignment(
    conn: AsyncConnection[Any], assignment_id: UUID, agent_id: UUID
) -> Assignment | None:
    return await _one(
        conn,
        f"SELECT {COLUMNS} FROM cc_private.offer_assignment(%s, %s)",
        (assignment_id, agent_id),
    )


# What each move sets beyond the state; moves not listed here have their own statement.
_SETS: dict[Move, str] = {
    Move.ACCEPT: "accepted_at = now()",
    Move.WRAP_UP: "wrap_started_at = now()",
    Move.FINISH: "done_at = now(), end_reason = 'resolved'",
    Move.TRANSFER: "done_at = now(), end_reason = 'transferred'",
    Move.CANCEL: "done_at = now(), end_reason = %(end_reason)s, assigned_to = NULL,"
    " offered_at = NULL, offer_expires_at = NULL",
}
# Beyond the state: an offer is accepted only before it expires.
_WHERE: dict[Move, str] = {Move.ACCEPT: " AND offer_expires_at > now()"}


async def move(
    conn: AsyncConnection[Any],
    move: Move,
    assignment_id: UUID,
    *,
    holder: UUID | None = None,
    version: int | None = None,
    end_reason: str | None = None,
) -> Assignment | None:
    """The item after the move; None when it was not in a state the move starts from (or not
    held by `holder`, or past `version`): the state is checked by the UPDATE itself."""
    transition = TRANSITIONS[move]
    return await _one(
        conn,
        f"UPDATE cc_assignments SET state = %(target)s, {_SETS[move]},"
        " version = version + 1, updated_at = now()"
        " WHERE id = %(id)s AND state = ANY(%(sources)s)"
        " AND (%(holder)s::text IS NULL OR assigned_to = %(holder)s::text)"
        " AND (%(version)s::integer IS NULL OR version = %(version)s::integer)"
        f"{_WHERE.get(move, '')} RETURNING {COLUMNS}",
        {
            "target": str(transition.target),
            "id": assignment_id,
            "sources": [str(s) for s in transition.sources],
            "holder": holder,
            "version": version,
            "end_reason": end_reason,
        },
    )


# An offer that comes back keeps enqueued_at (its place) and counts; at the queue's
# max_offers a supervisor is called once (escalated_at), and the item stays queued.
_REQUEUE = (
    "UPDATE cc_assignments AS a SET state = 'queued', assigned_to = NULL, offered_at = NULL,"
    " offer_expires_at = NULL, offer_count = a.offer_count + 1,"
    " escalated_at = CASE WHEN a.escalated_at IS NULL AND a.offer_count + 1 >= q.max_offers"
    " THEN now() ELSE a.escalated_at END,"
    " version = a.version + 1, updated_at = now()"
    " FROM cc_queues AS q WHERE q.name = a.queue_name AND a.state = 'offered' AND {where}"
    " RETURNING {columns}, a.escalated_at = now() AS escalated_now"
)


async def _requeue(
    conn: AsyncConnection[Any], where: str, params: dict[str, Any]
) -> tuple[Assignment, bool] | None:
    columns = ", ".join(f"a.{c.strip()}" for c in COLUMNS.split(","))
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_REQUEUE.format(where=where, columns=columns).encode(), params)
        row = await cur.fetchone()
    if row is None:
        return None
    escalated = bool(row.pop("escalated_now"))
    return _assignment(row), escalated


async def requeue_offer(
    conn: AsyncConnection[Any],
    assignment_id: UUID,
    *,
    holder: UUID | None = None,
    version: int | None = None,
) -> tuple[Assignment, bool] | None:
    """Decline (by its holder) or withdraw an offer: (the item, whether this escalated it)."""
    return await _requeue(
        conn,
        "a.id = %(id)s AND (%(holder)s::text IS NULL OR a.assigned_to = %(holder)s::text)"
        " AND (%(version)s::integer IS NULL OR a.version = %(version)s::integer)",
        {"id": assignment_id, "holder": holder, "version": version},
    )


async def one_expired_offer(conn: AsyncConnection[Any]) -> tuple[UUID, UUID | None] | None:
    """One offer past its expiry, locked, and its holder; SKIP LOCKED: sweeps running at once
    (two workers) take different ones, and one an agent is accepting is left to them."""
    cursor = await conn.execute(
        "SELECT id, assigned_to FROM cc_assignments WHERE state = 'offered'"
        " AND offer_expires_at <= now() ORDER BY offer_expires_at LIMIT 1"
        " FOR UPDATE SKIP LOCKED"
    )
    row = await cursor.fetchone()
    return None if row is None else (row[0], _agent_or_none(row[1]))


async def set_away_if_available(conn: AsyncConnection[Any], agent_id: UUID) -> bool:
    cursor = await conn.execute(
        "UPDATE cc_agents SET presence = 'away', presence_changed_at = now()"
        " WHERE id = %s AND presence = 'available' RETURNING id",
        (agent_id,),
    )
    return await cursor.fetchone() is not None


async def requeue_one_offer_of_absent_agent(
    conn: AsyncConnection[Any],
) -> tuple[Assignment, bool] | None:
    """One open offer whose agent is not available (away, offline, disabled), back in the
    queue."""
    return await _requeue(
        conn,
        "a.id = (SELECT o.id FROM cc_assignments AS o JOIN cc_agents AS g"
        " ON g.id::text = o.assigned_to WHERE o.state = 'offered'"
        " AND (g.presence <> 'available' OR g.status <> 'active')"
        " LIMIT 1 FOR UPDATE OF o SKIP LOCKED)",
        {},
    )


# -- agents' presence ---------------------------------------------------------------------


async def set_presence(
    conn: AsyncConnection[Any], agent_id: UUID, presence: Presence
) -> tuple[str, str] | None:
    """(presence before, after); None for an unknown agent."""
    cursor = await conn.execute(
        "UPDATE cc_agents AS a SET presence = %(presence)s,"
        " presence_changed_at = CASE WHEN a.presence = %(presence)s THEN a.presence_changed_at"
        " ELSE now() END, last_seen_at = now(), updated_at = now()"
        " FROM (SELECT id, presence FROM cc_agents WHERE id = %(id)s FOR NO KEY UPDATE) AS b"
        " WHERE a.id = b.id RETURNING b.presence, a.presence",
        {"id": agent_id, "presence": str(presence)},
    )
    row = await cursor.fetchone()
    return None if row is None else (str(row[0]), str(row[1]))


async def waiting_by_queue(conn: AsyncConnection[Any], queues: Sequence[str]) -> dict[str, int]:
    """How many items wait in each of `queues` for someone to take them, queued or offered
    (as many as the transaction may see)."""
    cursor = await conn.execute(
        "SELECT q.name, count(a.id) FROM unnest(%s::text[]) AS q(name)"
        " LEFT JOIN cc_assignments AS a ON a.queue_name = q.name"
        "  AND a.state IN ('queued', 'offered')"
        " GROUP BY q.name ORDER BY q.name",
        (list(queues),),
    )
    return {str(row[0]): int(row[1]) for row in await cursor.fetchall()}


async def idle_available_agents(conn: AsyncConnection[Any], limit: int) -> list[UUID]:
    """Active agents who are available and hold no open offer, the longest idle first: the
    one whose last offer or claim is oldest, and before all of them one never given any."""
    cursor = await conn.execute(
        "SELECT g.id FROM cc_agents AS g"
        " WHERE g.presence = 'available' AND g.status = 'active'"
        "   AND NOT EXISTS (SELECT FROM cc_assignments AS o"
        "                   WHERE o.assigned_to = g.id::text AND o.state = 'offered')"
        " ORDER BY (SELECT max(coalesce(w.offered_at, w.accepted_at)) FROM cc_assignments AS w"
        "           WHERE w.assigned_to = g.id::text) NULLS FIRST, g.id"
        " LIMIT %s",
        (limit,),
    )
    return [row[0] for row in await cursor.fetchall()]


async def offer_best_item(conn: AsyncConnection[Any], agent_id: UUID) -> Assignment | None:
    """The best waiting item of the agent's queues in a channel they have room in (the
    claim's order: the queue's priority, the item's, the oldest), offered to them; skipped
    while another transaction holds it, as claims skip."""
    return await _one(
        conn,
        f"SELECT {COLUMNS} FROM cc_private.offer_assignment("
        "  (SELECT a.id FROM cc_assignments AS a"
        "   JOIN cc_agent_queues AS m ON m.queue_name = a.queue_name AND m.agent_id = %(agent)s"
        "   JOIN cc_queues AS q ON q.name = a.queue_name"
        "   WHERE a.state = 'queued'"
        "     AND a.channel = ANY (cc_private.agent_channels_with_room(%(agent)s))"
        "   ORDER BY q.priority DESC, a.priority DESC, a.enqueued_at, a.id"
        "   LIMIT 1 FOR UPDATE OF a SKIP LOCKED),"
        "  %(agent)s)",
        {"agent": agent_id},
    )


def _agent_or_none(holder: str | None) -> UUID | None:
    """A holder is an agent's id as text; one written otherwise (before 019) is nobody."""
    try:
        return None if holder is None else UUID(holder)
    except ValueError:
        return None


async def presence_of(conn: AsyncConnection[Any], agent_id: UUID) -> str | None:
    cursor = await conn.execute("SELECT presence FROM cc_agents WHERE id = %s", (agent_id,))
    row = await cursor.fetchone()
    return None if row is None else str(row[0])


async def touch_agent(conn: AsyncConnection[Any], agent_id: UUID) -> bool:
    cursor = await conn.execute(
        "UPDATE cc_agents SET last_seen_at = now() WHERE id = %s RETURNING id", (agent_id,)
    )
    return await cursor.fetchone() is not None


async def one_silent_agent_offline(
    conn: AsyncConnection[Any], silent_for: timedelta
) -> tuple[UUID, str] | None:
    """An agent not offline whose last heartbeat is older than `silent_for`, set offline:
    (its id, its presence before)."""
    cursor = await conn.execute(
        "UPDATE cc_agents AS a SET presence = 'offline', presence_changed_at = now(),"
        " updated_at = now()"
        " FROM (SELECT id, presence FROM cc_agents WHERE presence <> 'offline'"
        " AND coalesce(last_seen_at, presence_changed_at) < now() - %s"
        " LIMIT 1 FOR NO KEY UPDATE SKIP LOCKED) AS b"
        " WHERE a.id = b.id RETURNING a.id, b.presence",
        (silent_for,),
    )
    row = await cursor.fetchone()
    return None if row is None else (row[0], str(row[1]))


# -- a supervisor's moves -----------------------------------------------------------------

# The item, if the acting agent (the transaction's claims: row_security) sees it and
# supervises its queue: an admin any; a supervisor one of their queues'; nobody else.
_SUPERVISED = (
    f"SELECT {COLUMNS} FROM cc_assignments WHERE id = %s"
    " AND ((SELECT cc_private.agent_role()) = 'admin'"
    "      OR ((SELECT cc_private.agent_role()) = 'supervisor'"
    "          AND queue_name = ANY ((SELECT cc_private.agent_queues())::text[])))"
)


async def supervised_item(conn: AsyncConnection[Any], assignment_id: UUID) -> Assignment | None:
    return await _one(conn, _SUPERVISED, (assignment_id,))


async def lock_agent(conn: AsyncConnection[Any], agent_id: UUID) -> dict[str, Any] | None:
    """The agent's status, presence, role and capacity, their row locked until the transaction
    ends: whatever else gives this agent work (a claim, an offer, another reassign) waits,
    so the load counted next is the agent's load."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(
            "SELECT id, status, presence, role, capacity FROM cc_agents WHERE id = %s"
            " FOR NO KEY UPDATE",
            (agent_id,),
        )
        return await cur.fetchone()


async def lock_item(conn: AsyncConnection[Any], assignment_id: UUID) -> Assignment | None:
    return await _one(
        conn, f"SELECT {COLUMNS} FROM cc_assignments WHERE id = %s FOR UPDATE", (assignment_id,)
    )


async def is_member(conn: AsyncConnection[Any], agent_id: UUID, queue: str) -> bool:
    cursor = await conn.execute(
        "SELECT FROM cc_agent_queues WHERE agent_id = %s AND queue_name = %s", (agent_id, queue)
    )
    return await cursor.fetchone() is not None


async def live_load(conn: AsyncConnection[Any], agent_id: UUID, channel: str) -> int:
    """How many live items of `channel` the agent holds (in a statement of its own, after the
    agent's row was locked: it sees what the agent's other moves committed)."""
    cursor = await conn.execute(
        "SELECT count(*) FROM cc_assignments WHERE assigned_to = %s AND channel = %s"
        " AND state IN ('offered', 'active', 'wrap_up')",
        (str(agent_id), channel),
    )
    row = await cursor.fetchone()
    return 0 if row is None else int(row[0])


async def hand_to(
    conn: AsyncConnection[Any], move: Move, assignment_id: UUID, agent_id: UUID, *, version: int
) -> Assignment | None:
    """Reassign (offered to the agent until the queue's offer timeout) or take over (active for
    the agent); None when the item is no longer in a state the move starts from, or past
    `version`."""
    transition = TRANSITIONS[move]
    return await _one(
        conn,
        "UPDATE cc_assignments AS a SET state = %(target)s, assigned_to = %(agent)s::text,"
        " offered_at = CASE WHEN %(target)s = 'offered' THEN now() ELSE a.offered_at END,"
        " offer_expires_at = CASE WHEN %(target)s = 'offered' THEN now() + q.offer_timeout END,"
        " accepted_at = CASE WHEN %(target)s = 'active' THEN now() END,"
        " version = a.version + 1, updated_at = now()"
        " FROM cc_queues AS q WHERE q.name = a.queue_name AND a.id = %(id)s"
        " AND a.state = ANY(%(sources)s) AND a.version = %(version)s"
        f" RETURNING {', '.join('a.' + c.strip() for c in COLUMNS.split(','))}",
        {
            "target": str(transition.target),
            "agent": agent_id,
            "id": assignment_id,
            "sources": [str(s) for s in transition.sources],
            "version": version,
        },
    )
