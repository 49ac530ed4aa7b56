"""Builders for the routing tests: agents, conversations and items in a given state, made
as the owner of the tables (plain SQL), and a way to run a variant of a function with one of
its guards taken out, to show the tests catch its absence."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.builders import execute

ITEM_COLUMNS = (
    "conversation_id, queue_name, channel, priority, state, assigned_to, enqueued_at,"
    " offered_at, offer_expires_at, accepted_at, wrap_started_at, source"
)


def make_agent(
    url: str,
    *,
    queues: tuple[str, ...] = ("general",),
    capacity: dict[str, int] | None = None,
    presence: str = "available",
) -> uuid.UUID:
    agent_id = uuid.uuid4()
    execute(
        url,
        "INSERT INTO cc_agents (id, email, display_name, role, capacity, presence, last_seen_at)"
        " VALUES (%s, %s, 'Agent', 'agent', %s, %s, now())",
        (
            agent_id,
            f"{agent_id.hex[:12]}@bank.example",
            json.dumps(capacity or {"voice": 1, "sms": 3, "whatsapp": 3, "email": 5}),
            presence,
        ),
    )
    for queue in queues:
        execute(
            url,
            "INSERT INTO cc_agent_queues (agent_id, queue_name) VALUES (%s, %s)",
            (agent_id, queue),
        )
    return agent_id


def make_conversation(url: str, channel: str = "sms") -> uuid.UUID:
    return uuid.UUID(
        str(
            execute(
                url,
                "INSERT INTO cc_conversations (channel, status) VALUES (%s, 'open') RETURNING id",
                (channel,),
            )[0][0]
        )
    )


def make_item(
    url: str,
    *,
    queue: str = "general",
    channel: str = "sms",
    priority: int = 0,
    state: str = "queued",
    agent_id: uuid.UUID | None = None,
    waited_seconds: float = 0.0,
    offer_expires_in: float = 60.0,
    conversation_id: uuid.UUID | None = None,
) -> uuid.UUID:
    """An item in `state` (held by `agent_id` when the state has a holder), enqueued
    `waited_seconds` ago."""
    conversation = conversation_id or make_conversation(url, channel)
    held = state in ("offered", "active", "wrap_up")
    row = execute(
        url,
        f"INSERT INTO cc_assignments ({ITEM_COLUMNS}, done_at)"
        " VALUES (%s, %s, %s, %s, %s, %s, now() - make_interval(secs => %s),"
        " CASE WHEN %s = 'offered' THEN now() END,"
        " CASE WHEN %s = 'offered' THEN now() + make_interval(secs => %s) END,"
        " CASE WHEN %s IN ('active', 'wrap_up') THEN now() END,"
        " CASE WHEN %s = 'wrap_up' THEN now() END, 'ai_handoff',"
        " CASE WHEN %s IN ('done', 'cancelled') THEN now() END) RETURNING id",
        (
            conversation,
            queue,
            channel,
            priority,
            state,
            str(agent_id) if held or state == "done" else None,
            waited_seconds,
            state,
            state,
            offer_expires_in,
            state,
            state,
            state,
        ),
    )
    return uuid.UUID(str(row[0][0]))


def item_row(url: str, item_id: uuid.UUID) -> dict[str, Any]:
    with_names = execute(
        url, "SELECT to_jsonb(a) FROM cc_assignments AS a WHERE a.id = %s", (item_id,)
    )
    return dict(with_names[0][0])


def audit_events(url: str, item_id: uuid.UUID) -> list[tuple[str, str]]:
    """(event_type, actor_type) of the item's audit records (a transfer's names the item it
    ended), oldest first."""
    return [
        (str(event), str(actor))
        for event, actor in execute(
            url,
            "SELECT event_type, actor_type FROM cc_audit_logs"
            " WHERE output_redacted ->> 'assignment_id' = %s"
            " OR input_redacted ->> 'from_assignment_id' = %s ORDER BY created_at, id",
            (str(item_id), str(item_id)),
        )
    ]


def without_guard(url: str, function: str, guard: str, replacement: str = "") -> None:
    """Replace `function` (a regprocedure, e.g. 'cc_private.claim_next_assignment(uuid)') with
    its own definition minus `guard`: what the code would be had the guard been forgotten."""
    definition = str(execute(url, "SELECT pg_get_functiondef(%s::regprocedure)", (function,))[0][0])
    assert guard in definition, f"{guard!r} is not in {function}"
    execute(url, definition.replace(guard, replacement))
