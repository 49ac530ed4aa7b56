"""Reassign and take-over: moves of the assignment state machine, made by a supervisor of the
item's queue, under the same guards as claim-next: never beyond an agent's capacity, never one
item to two agents, whatever runs at the same time."""

from __future__ import annotations

import asyncio
from typing import Any
from uuid import UUID

import pytest
from psycopg import AsyncConnection

from switchboard.assignments import repository, service
from switchboard.errors import (
    AgentCannotTakeWork,
    AssignmentNotFound,
    IllegalAssignmentMove,
    StaleAssignment,
)
from switchboard.row_security import AgentClaims
from tests.assignments.support import audit_events, item_row, make_item
from tests.builders import execute
from tests.conftest import service_url
from tests.supervisor.support import build_floor, role_agent

WHY = "rebalancing the load"  # a stated reason, as every move needs
pytestmark = pytest.mark.anyio


def _version(url: str, item: UUID) -> int:
    return int(item_row(url, item)["version"])


async def test_reassign_offers_the_item_to_the_agent_and_keeps_its_place(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    floor = build_floor(migrated_db)
    dee = role_agent(migrated_db, "agent", ("cards",))
    before = item_row(migrated_db, floor.active)
    moved = await service.reassign(
        conn, floor.cards_lead, floor.active, agent_id=dee.agent_id,
        reason="finn is on a call", version=before["version"],
    )  # fmt: skip

    assert (moved.state, moved.assigned_to) == ("offered", str(dee.agent_id))
    assert moved.offer_expires_at is not None
    after = item_row(migrated_db, floor.active)
    assert after["enqueued_at"] == before["enqueued_at"]
    assert audit_events(migrated_db, floor.active) == [("assignment.reassigned", "agent")]
    [(reason, actor)] = execute(
        migrated_db,
        "SELECT input_redacted ->> 'reason', actor_id FROM cc_audit_logs"
        " WHERE event_type = 'assignment.reassigned'",
    )
    assert (reason, actor) == ("finn is on a call", str(floor.cards_lead.agent_id))
    # The new holder declines: back in the queue, in its place.
    declined = await service.decline(conn, dee.agent_id, floor.active)
    assert declined.state == "queued"
    assert item_row(migrated_db, floor.active)["enqueued_at"] == before["enqueued_at"]


async def test_take_over_makes_the_supervisor_the_holder(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    floor = build_floor(migrated_db)
    taken = await service.take_over(
        conn,
        floor.cards_lead,
        floor.offered,
        reason="a VIP customer asked",
        version=_version(migrated_db, floor.offered),
    )

    assert (taken.state, taken.assigned_to) == ("active", str(floor.cards_lead.agent_id))
    assert audit_events(migrated_db, floor.offered) == [("assignment.taken_over", "agent")]
    # The supervisor works it as any holder: wrap-up, done.
    await service.wrap_up(conn, floor.cards_lead.agent_id, floor.offered)
    assert (await service.finish(conn, floor.cards_lead.agent_id, floor.offered)).state == "done"


async def test_refusals_say_why_and_change_nothing(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    floor = build_floor(migrated_db)
    lead, queued = floor.cards_lead, floor.queued
    version = _version(migrated_db, queued)
    away = role_agent(migrated_db, "agent", ("cards",), presence="away")
    stranger = role_agent(migrated_db, "agent", ("loans",))
    cases: list[tuple[Any, type[Exception], str]] = [
        (service.reassign(conn, lead, queued, agent_id=floor.cara.agent_id, reason=WHY,
                          version=version), AgentCannotTakeWork, "2 of 2 sms"),
        (service.reassign(conn, lead, queued, agent_id=away.agent_id, reason=WHY,
                          version=version), AgentCannotTakeWork, "away"),
        (service.reassign(conn, lead, queued, agent_id=stranger.agent_id, reason=WHY,
                          version=version), AgentCannotTakeWork, "not work the queue cards"),
        (service.reassign(conn, lead, queued, agent_id=floor.finn.agent_id, reason=WHY,
                          version=version - 1), StaleAssignment, "changed"),
        (service.reassign(conn, lead, floor.wrap_up, agent_id=floor.finn.agent_id, reason=WHY,
                          version=_version(migrated_db, floor.wrap_up)),
         IllegalAssignmentMove, "wrap_up"),
        (service.take_over(conn, floor.fraud_lead, queued, reason=WHY, version=version),
         AssignmentNotFound, "your queues"),
        (service.reassign(conn, lead, floor.fraud_items[0], agent_id=floor.finn.agent_id,
                          reason=WHY, version=0), AssignmentNotFound, "your queues"),
    ]  # fmt: skip
    rows = execute(migrated_db, "SELECT to_jsonb(a) FROM cc_assignments AS a ORDER BY id")
    audit_rows = execute(migrated_db, "SELECT count(*) FROM cc_audit_logs")
    for attempt, error, why in cases:
        with pytest.raises(error) as refused:
            await attempt
        assert why in refused.value.message
    assert execute(migrated_db, "SELECT to_jsonb(a) FROM cc_assignments AS a ORDER BY id") == rows
    assert execute(migrated_db, "SELECT count(*) FROM cc_audit_logs") == audit_rows


async def _connect(url: str) -> AsyncConnection[Any]:
    return await AsyncConnection.connect(service_url(url), autocommit=True)


async def _reassign_all_at_once(
    url: str, lead: AgentClaims, target: UUID, items: list[UUID]
) -> list[UUID]:
    """Every item reassigned to `target` from its own connection at once; those that went."""
    connections = [await _connect(url) for _ in items]
    start = asyncio.Event()

    async def one(conn: AsyncConnection[Any], item: UUID) -> UUID | None:
        await start.wait()
        try:
            await service.reassign(conn, lead, item, agent_id=target, reason=WHY, version=0)
        except AgentCannotTakeWork:
            return None
        return item

    try:
        tasks = [asyncio.create_task(one(c, i)) for c, i in zip(connections, items, strict=True)]
        start.set()
        done = await asyncio.gather(*tasks)
    finally:
        for conn in connections:
            await conn.close()
    return [item for item in done if item is not None]


def _slow_count(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each reassign waits between counting the agent's load and giving the item: without the
    # agent's lock, every one of them counts the same free places.
    counted = repository.live_load

    async def slow(conn: AsyncConnection[Any], agent_id: UUID, channel: str) -> int:
        held = await counted(conn, agent_id, channel)
        await asyncio.sleep(0.3)
        return held

    monkeypatch.setattr(repository, "live_load", slow)


async def test_reassigns_at_once_never_exceed_capacity(
    migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    lead = role_agent(migrated_db, "supervisor", ("cards",))
    target = role_agent(migrated_db, "agent", ("cards",), capacity={"sms": 2})
    items = [make_item(migrated_db, queue="cards") for _ in range(8)]
    _slow_count(monkeypatch)

    given = await _reassign_all_at_once(migrated_db, lead, target.agent_id, items)

    assert len(given) == 2
    assert execute(
        migrated_db,
        "SELECT count(*) FROM cc_assignments WHERE assigned_to = %s AND state = 'offered'",
        (str(target.agent_id),),
    ) == [(2,)]


async def test_without_the_agents_lock_the_same_reassigns_overrun(
    migrated_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test above can fail: with the agent's row read but not locked, it does."""
    lead = role_agent(migrated_db, "supervisor", ("cards",))
    target = role_agent(migrated_db, "agent", ("cards",), capacity={"sms": 2})
    items = [make_item(migrated_db, queue="cards") for _ in range(8)]
    _slow_count(monkeypatch)
    locked = repository.lock_agent

    async def unlocked(conn: AsyncConnection[Any], agent_id: UUID) -> dict[str, Any] | None:
        # A savepoint rolled back: the row's lock ends with it (a released one would keep it).
        async with conn.transaction(force_rollback=True):
            return await locked(conn, agent_id)

    monkeypatch.setattr(repository, "lock_agent", unlocked)

    given = await _reassign_all_at_once(migrated_db, lead, target.agent_id, items)

    assert len(given) > 2


async def test_one_item_reassigned_to_two_agents_at_once_goes_to_one(
    migrated_db: str,
) -> None:
    lead = role_agent(migrated_db, "supervisor", ("cards",))
    agents = [role_agent(migrated_db, "agent", ("cards",)) for _ in range(6)]
    item = make_item(migrated_db, queue="cards")
    connections = [await _connect(migrated_db) for _ in agents]
    start = asyncio.Event()

    async def one(conn: AsyncConnection[Any], agent: AgentClaims) -> bool:
        await start.wait()
        try:
            await service.reassign(conn, lead, item, agent_id=agent.agent_id, reason=WHY, version=0)
        except StaleAssignment:
            return False
        return True

    try:
        tasks = [asyncio.create_task(one(c, a)) for c, a in zip(connections, agents, strict=True)]
        start.set()
        went = await asyncio.gather(*tasks)
    finally:
        for conn in connections:
            await conn.close()

    assert sum(went) == 1
    assert _version(migrated_db, item) == 1
    assert len(audit_events(migrated_db, item)) == 1
