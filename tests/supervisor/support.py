"""A supervised floor: queues cards and fraud, each with a supervisor and agents, items in each
state and SLA clocks ended today and yesterday, made as the owner of the tables."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from switchboard.row_security import AgentClaims
from tests.assignments.support import make_agent, make_item
from tests.builders import execute


def role_agent(url: str, role: str, queues: tuple[str, ...], **kwargs: Any) -> AgentClaims:
    agent_id = make_agent(url, queues=queues, **kwargs)
    execute(url, "UPDATE cc_agents SET role = %s WHERE id = %s", (role, agent_id))
    return AgentClaims(agent_id, role, queues)


def add_clock(
    url: str,
    queue: str,
    *,
    state: str,
    ended: str,
    conversation_id: UUID | None = None,
    fulfilled_late: bool = False,
) -> UUID:
    """A first-response clock of `queue` that ended `ended` (an SQL timestamptz expression):
    fulfilled then, or breached then (its due time)."""
    conversation = conversation_id or uuid.UUID(
        str(
            execute(url, "INSERT INTO cc_conversations (channel) VALUES ('sms') RETURNING id")[0][0]
        )
    )
    [(clock,)] = execute(
        url,
        "INSERT INTO cc_sla_clocks (conversation_id, metric, unit, target, calendar_name,"
        " queue_name, policy_name, priority, state, started_at, due_at, fulfilled_at,"
        " breached_at)"
        f" SELECT %s, 'first_response', 'business_time', interval '1 hour', q.calendar_name,"
        " q.name, q.sla_policy_name, 'normal', %s, e - interval '2 hours',"
        " CASE WHEN %s = 'breached' THEN e ELSE e + interval '1 minute' END,"
        " CASE WHEN %s = 'fulfilled' THEN e WHEN %s THEN e + interval '5 minutes' END,"
        " CASE WHEN %s = 'breached' THEN e END"
        f" FROM cc_queues AS q, (SELECT {ended} AS e) AS t WHERE q.name = %s RETURNING id",
        (conversation, state, state, state, fulfilled_late, state, queue),
    )
    return uuid.UUID(str(clock))


# Local midnight today in the queue's calendar's zone, as the figures count it.
def day_start(queue: str) -> str:
    return (
        "(SELECT date_trunc('day', now() AT TIME ZONE c.time_zone) AT TIME ZONE c.time_zone"
        " FROM cc_queues AS q JOIN cc_calendars AS c ON c.name = q.calendar_name"
        f" WHERE q.name = '{queue}')"
    )


@dataclass(frozen=True)
class Floor:
    cards_lead: AgentClaims  # supervisor, cards
    fraud_lead: AgentClaims  # supervisor, fraud
    root: AgentClaims  # admin, no queue
    cara: AgentClaims  # agent, cards (sms capacity 2)
    finn: AgentClaims  # agent, fraud and cards
    oldest: UUID  # cards, queued 600 s ago, escalated
    queued: UUID  # cards, queued 60 s ago
    offered: UUID  # cards, offered to cara
    active: UUID  # cards, active with finn
    wrap_up: UUID  # cards, wrap-up with cara
    fraud_items: tuple[UUID, ...]


def build_floor(url: str) -> Floor:
    cards_lead = role_agent(url, "supervisor", ("cards",))
    fraud_lead = role_agent(url, "supervisor", ("fraud",))
    root = role_agent(url, "admin", ())
    cara = role_agent(url, "agent", ("cards",), capacity={"sms": 2, "voice": 1})
    finn = role_agent(url, "agent", ("fraud", "cards"))
    oldest = make_item(url, queue="cards", waited_seconds=600)
    execute(url, "UPDATE cc_assignments SET escalated_at = now(), offer_count = 3 WHERE id = %s",
            (oldest,))  # fmt: skip
    queued = make_item(url, queue="cards", waited_seconds=60)
    offered = make_item(url, queue="cards", state="offered", agent_id=cara.agent_id)
    active = make_item(url, queue="cards", state="active", agent_id=finn.agent_id)
    wrap_up = make_item(url, queue="cards", state="wrap_up", agent_id=cara.agent_id)
    fraud_items = (
        make_item(url, queue="fraud", waited_seconds=3600),
        make_item(url, queue="fraud", state="active", agent_id=finn.agent_id),
    )
    # cards today: three met, one breached (and met late); yesterday: one of each
    for _ in range(3):
        add_clock(url, "cards", state="fulfilled", ended=f"greatest({day_start('cards')}, now())")
    add_clock(url, "cards", state="breached", ended="now()", fulfilled_late=True)
    add_clock(url, "cards", state="fulfilled", ended=f"{day_start('cards')} - interval '1 hour'")
    add_clock(url, "cards", state="breached", ended=f"{day_start('cards')} - interval '1 hour'")
    # fraud today: two breached
    for _ in range(2):
        add_clock(url, "fraud", state="breached", ended="now()")
    return Floor(cards_lead, fraud_lead, root, cara, finn, oldest, queued, offered, active,
                 wrap_up, fraud_items)  # fmt: skip
