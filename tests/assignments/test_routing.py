"""What queues work, the order it is given out in, offers that come back, escalation,
presence, transfer and reopen."""

from __future__ import annotations

import asyncio
import contextlib
from datetime import timedelta
from typing import Any

import pytest
from psycopg import AsyncConnection

from switchboard.assignments import service
from switchboard.audit.models import Actor, ActorType
from switchboard.db import connection_pool
from switchboard.errors import AgentCannotTakeWork, AssignmentAlreadyLive
from switchboard.outbound.worker import sweep_routing_every
from tests.assignments.support import (
    audit_events,
    item_row,
    make_agent,
    make_conversation,
    make_item,
)
from tests.builders import execute
from tests.conftest import service_url

pytestmark = pytest.mark.anyio
ASSISTANT = Actor(ActorType.AI_AGENT, "vapi-assistant")


async def test_a_handoff_queues_the_conversation_with_its_reason_and_assurance(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    conversation = make_conversation(migrated_db, "voice")

    item = await service.enqueue_handoff(
        conn, ASSISTANT, queue="fraud", reason="card used abroad", conversation_id=conversation,
        assurance_level=2,
    )  # fmt: skip

    assert (item.state, item.channel, item.reason, item.assurance_level, item.source) == (
        "queued", "voice", "card used abroad", 2, "ai_handoff",
    )  # fmt: skip
    assert audit_events(migrated_db, item.id) == [("assignment.queued", "ai_agent")]
    with pytest.raises(AssignmentAlreadyLive):
        await service.enqueue_handoff(
            conn, ASSISTANT, queue="cards", reason="again", conversation_id=conversation
        )


async def test_an_inbound_message_queues_a_conversation_nobody_holds(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    conversation = make_conversation(migrated_db, "email")

    item = await service.enqueue_inbound(conn, service.SYSTEM, conversation_id=conversation)

    assert item is not None
    assert (item.queue_name, item.channel, item.source) == ("general", "email", "inbound")
    # Someone holds it (or it waits) now: another message queues nothing more.
    assert await service.enqueue_inbound(conn, service.SYSTEM, conversation_id=conversation) is None


async def test_claim_order_is_queue_priority_then_item_priority_then_age(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    agent = make_agent(migrated_db, queues=("general", "fraud"), capacity={"sms": 10})
    general_urgent_old = make_item(migrated_db, queue="general", priority=9, waited_seconds=900)
    fraud_new = make_item(migrated_db, queue="fraud", priority=0, waited_seconds=1)
    fraud_old = make_item(migrated_db, queue="fraud", priority=0, waited_seconds=60)
    fraud_high = make_item(migrated_db, queue="fraud", priority=5, waited_seconds=2)
    general_old = make_item(migrated_db, queue="general", priority=0, waited_seconds=1000)

    order = [(await service.claim_next(conn, agent)) for _ in range(6)]

    assert [item.id if item else None for item in order] == [
        fraud_high, fraud_old, fraud_new, general_urgent_old, general_old, None,
    ]  # fmt: skip
    assert audit_events(migrated_db, fraud_high) == [("assignment.claimed", "agent")]


async def test_capacity_is_per_channel(conn: AsyncConnection[Any], migrated_db: str) -> None:
    agent = make_agent(migrated_db, capacity={"voice": 1, "sms": 2})
    make_item(migrated_db, channel="voice", state="active", agent_id=agent)
    make_item(migrated_db, channel="voice", waited_seconds=100)  # older, but no room for it
    sms = make_item(migrated_db, channel="sms")
    make_item(migrated_db, channel="email")  # a channel the agent has no capacity for

    first = await service.claim_next(conn, agent)

    assert first is not None
    assert first.id == sms
    assert await service.claim_next(conn, agent) is None


async def test_an_agent_not_available_gets_nothing(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    agent = make_agent(migrated_db, presence="away")
    item = make_item(migrated_db)

    assert await service.claim_next(conn, agent) is None
    with pytest.raises(AgentCannotTakeWork):
        await service.offer(conn, service.SYSTEM, item, agent)


async def test_an_agent_is_offered_only_their_queues_work(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    agent = make_agent(migrated_db, queues=("cards",))
    item = make_item(migrated_db, queue="loans")

    with pytest.raises(AgentCannotTakeWork):
        await service.offer(conn, service.SYSTEM, item, agent)
    assert await service.claim_next(conn, agent) is None


async def test_a_declined_offer_keeps_its_place(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    declining, next_agent = make_agent(migrated_db), make_agent(migrated_db)
    oldest = make_item(migrated_db, waited_seconds=120)
    make_item(migrated_db, waited_seconds=60)
    enqueued_at = item_row(migrated_db, oldest)["enqueued_at"]
    await service.offer(conn, service.SYSTEM, oldest, declining)

    back = await service.decline(conn, declining, oldest)

    assert (back.state, back.assigned_to, back.offer_count) == ("queued", None, 1)
    assert item_row(migrated_db, oldest)["enqueued_at"] == enqueued_at
    taken = await service.claim_next(conn, next_agent)
    assert taken is not None
    assert taken.id == oldest


async def test_after_max_offers_a_supervisor_is_called_once_and_the_item_stays_queued(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    agent = make_agent(migrated_db, queues=("fraud",))
    item = make_item(migrated_db, queue="fraud")  # fraud: max_offers 3

    for _ in range(4):
        await service.offer(conn, service.SYSTEM, item, agent)
        back = await service.decline(conn, agent, item)

    assert back.state == "queued"
    assert back.offer_count == 4
    assert back.escalated_at is not None
    assert [event for event, _ in audit_events(migrated_db, item)] == [
        "assignment.offered", "assignment.declined",
        "assignment.offered", "assignment.declined",
        "assignment.offered", "assignment.escalated",  # the third offer that came back
        "assignment.offered", "assignment.declined",
    ]  # fmt: skip


async def test_an_expired_offer_returns_to_the_queue_in_its_place(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    agent = make_agent(migrated_db)
    item = make_item(migrated_db, waited_seconds=300)
    enqueued_at = item_row(migrated_db, item)["enqueued_at"]
    await service.offer(conn, service.SYSTEM, item, agent)
    execute(migrated_db, "UPDATE cc_assignments SET offer_expires_at = now() - interval '1 s'")

    report = await service.sweep(conn)

    assert (report.offers_expired, report.escalated) == (1, 0)
    row = item_row(migrated_db, item)
    assert (row["state"], row["assigned_to"], row["offer_count"]) == ("queued", None, 1)
    assert row["enqueued_at"] == enqueued_at
    assert audit_events(migrated_db, item)[-1] == ("assignment.offer_expired", "system")


async def test_a_silent_agent_goes_offline_and_their_offers_return(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    silent, alive = make_agent(migrated_db), make_agent(migrated_db)
    offered_to_silent = make_item(migrated_db)
    offered_to_alive = make_item(migrated_db)
    await service.offer(conn, service.SYSTEM, offered_to_silent, silent)
    await service.offer(conn, service.SYSTEM, offered_to_alive, alive)
    execute(
        migrated_db,
        "UPDATE cc_agents SET last_seen_at = now() - interval '5 minutes' WHERE id = %s",
        (silent,),
    )
    await service.heartbeat(conn, alive)

    report = await service.sweep(conn, offline_after=timedelta(seconds=90))

    assert (report.agents_gone_offline, report.offers_withdrawn) == (1, 1)
    presence = dict(execute(migrated_db, "SELECT id, presence FROM cc_agents"))
    assert presence == {silent: "offline", alive: "available"}
    assert item_row(migrated_db, offered_to_silent)["state"] == "queued"
    assert item_row(migrated_db, offered_to_alive)["state"] == "offered"
    assert audit_events(migrated_db, offered_to_silent)[-1] == (
        "assignment.offer_withdrawn", "system",
    )  # fmt: skip


async def test_going_away_returns_open_offers_at_once_but_keeps_active_work(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    agent = make_agent(migrated_db)
    offered = make_item(migrated_db, state="offered", agent_id=agent)
    active = make_item(migrated_db, state="active", agent_id=agent)

    await service.set_presence(conn, agent, "away")

    assert item_row(migrated_db, offered)["state"] == "queued"
    assert item_row(migrated_db, active)["state"] == "active"
    changes = execute(
        migrated_db,
        "SELECT actor_type, input_redacted ->> 'presence' FROM cc_audit_logs"
        " WHERE event_type = 'agent.presence_changed'",
    )
    assert changes == [("agent", "away")]


async def test_a_transfer_ends_one_item_and_queues_the_next_on_the_same_conversation(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    agent = make_agent(migrated_db)
    conversation = make_conversation(migrated_db)
    item = make_item(migrated_db, conversation_id=conversation, waited_seconds=600)
    enqueued_at = item_row(migrated_db, item)["enqueued_at"]
    claimed = await service.claim_next(conn, agent)
    assert claimed is not None

    next_item = await service.transfer(
        conn, agent, item, queue="disputes", reason="the customer disputes it"
    )

    ended = item_row(migrated_db, item)
    assert (ended["state"], ended["end_reason"]) == ("done", "transferred")
    assert next_item.state == "queued"
    assert next_item.queue_name == "disputes"
    assert next_item.conversation_id == conversation
    assert next_item.transferred_from == item
    assert next_item.last_agent_id == agent
    assert item_row(migrated_db, next_item.id)["enqueued_at"] == enqueued_at  # keeps its place


async def _worked_and_finished(conn: AsyncConnection[Any], url: str, agent: Any) -> Any:
    conversation = make_conversation(url)
    make_item(url, queue="cards", conversation_id=conversation)
    item = await service.claim_next(conn, agent)
    assert item is not None
    await service.wrap_up(conn, agent, item.id)
    await service.finish(conn, agent, item.id)
    return conversation


async def test_a_reopened_conversation_goes_back_to_its_last_agent_when_available(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    agent = make_agent(migrated_db, queues=("cards",))
    make_agent(migrated_db, queues=("cards",))  # another, just as free
    conversation = await _worked_and_finished(conn, migrated_db, agent)

    item = await service.enqueue_inbound(conn, service.SYSTEM, conversation_id=conversation)

    assert item is not None
    assert (item.state, item.assigned_to, item.queue_name) == ("offered", str(agent), "cards")
    assert (item.source, item.last_agent_id) == ("reopen", agent)


async def test_a_reopened_conversation_goes_to_the_queue_when_its_agent_is_away(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    agent = make_agent(migrated_db, queues=("cards",))
    conversation = await _worked_and_finished(conn, migrated_db, agent)
    await service.set_presence(conn, agent, "offline")

    item = await service.enqueue_reopened(conn, service.SYSTEM, conversation_id=conversation)

    assert (item.state, item.assigned_to, item.last_agent_id) == ("queued", None, agent)


async def test_a_reopened_conversation_goes_to_the_queue_when_its_agent_is_full(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    agent = make_agent(migrated_db, queues=("cards",), capacity={"sms": 1})
    conversation = await _worked_and_finished(conn, migrated_db, agent)
    make_item(migrated_db, state="active", agent_id=agent)

    item = await service.enqueue_reopened(conn, service.SYSTEM, conversation_id=conversation)

    assert (item.state, item.assigned_to) == ("queued", None)


async def test_the_worker_sweeps_routing_on_its_own(migrated_db: str) -> None:
    agent = make_agent(migrated_db)
    item = make_item(migrated_db, state="offered", agent_id=agent, offer_expires_in=-1)
    pool = connection_pool(
        service_url(migrated_db), name="routing-test", min_size=1, max_size=1, wait_seconds=5
    )
    await pool.open()
    sweeping = asyncio.create_task(sweep_routing_every(pool, seconds=0.05))
    try:
        for _ in range(100):
            if item_row(migrated_db, item)["state"] == "queued":
                break
            await asyncio.sleep(0.05)
    finally:
        sweeping.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await sweeping
        await pool.close()

    assert item_row(migrated_db, item)["state"] == "queued"
