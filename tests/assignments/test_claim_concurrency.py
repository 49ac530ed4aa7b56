"""Claim-next under real concurrency: separate connections, claims in flight at once.

Each guard has a test that holds one claim's transaction open while another runs, so the
interleaving is certain, and runs it a second time on a copy of the function with that guard
taken out (support.without_guard), where the same test shows the failure the guard prevents:
the test is able to fail."""

from __future__ import annotations

import asyncio
import collections
import random
from typing import Any
from uuid import UUID

import psycopg
import pytest
from psycopg import AsyncConnection

from switchboard.assignments import service
from switchboard.assignments.models import Assignment
from switchboard.errors import AssignmentAlreadyLive
from tests.assignments.support import make_agent, make_conversation, make_item, without_guard
from tests.builders import execute
from tests.conftest import service_url

pytestmark = pytest.mark.anyio

ROOM = "cc_private.agent_channels_with_room(uuid)"
CLAIM = "cc_private.claim_next_assignment(uuid)"
LIVE = "state IN ('offered', 'active', 'wrap_up')"


async def _connect(url: str) -> AsyncConnection[Any]:
    return await AsyncConnection.connect(service_url(url), autocommit=True)


async def test_fifty_agents_claiming_at_once_never_share_an_item_nor_exceed_capacity(
    migrated_db: str,
) -> None:
    capacity = {"sms": 3, "email": 2}
    agents = [make_agent(migrated_db, capacity=capacity) for _ in range(50)]
    rng = random.Random(13)  # noqa: S311 -- test data, not secrets
    for n in range(300):
        make_item(
            migrated_db,
            channel="sms" if n % 3 else "email",
            priority=rng.choice((0, 0, 5)),
            waited_seconds=rng.uniform(0, 600),
        )
    # Ten agents claim from two connections at once (two tabs): 60 connections, each asking
    # for more than the agent may hold.
    claimers = [*agents, *agents[:10]]
    connections = [await _connect(migrated_db) for _ in claimers]
    start = asyncio.Event()
    claimed: list[tuple[UUID, Assignment]] = []

    async def claim(conn: AsyncConnection[Any], agent: UUID) -> None:
        await start.wait()
        for _ in range(6):
            item = await service.claim_next(conn, agent)
            if item is not None:
                claimed.append((agent, item))

    try:
        pairs = zip(connections, claimers, strict=True)
        tasks = [asyncio.create_task(claim(conn, agent)) for conn, agent in pairs]
        start.set()
        await asyncio.gather(*tasks)
    finally:
        for conn in connections:
            await conn.close()

    ids = [item.id for _, item in claimed]
    assert len(ids) == len(set(ids)), "an item was given twice"
    for agent, item in claimed:
        assert item.assigned_to == str(agent)
    held = collections.Counter((agent, item.channel) for agent, item in claimed)
    # Enough work waits for every agent to fill every channel, and no more than that.
    full = {(agent, channel): room for agent in agents for channel, room in capacity.items()}
    assert held == full
    in_database = execute(
        migrated_db,
        f"SELECT assigned_to, channel, count(*) FROM cc_assignments WHERE {LIVE}"
        " GROUP BY assigned_to, channel",
    )
    assert {(UUID(a), c): n for a, c, n in in_database} == held
    claims_audited = execute(
        migrated_db,
        "SELECT count(*), count(DISTINCT output_redacted ->> 'assignment_id') FROM cc_audit_logs"
        " WHERE event_type = 'assignment.claimed'",
    )
    assert claims_audited == [(len(ids), len(ids))]


async def _second_claim_while_first_is_open(
    url: str, first_agent: UUID, second_agent: UUID
) -> tuple[Assignment | None, Assignment | None, bool]:
    """The first agent's claim made and left uncommitted while the second's runs; (the first's
    item, the second's, whether the second answered while the first was still open)."""
    first, second = await _connect(url), await _connect(url)
    try:
        async with first.transaction():
            mine = await service.claim_next(first, first_agent)
            other = asyncio.create_task(service.claim_next(second, second_agent))
            done, _ = await asyncio.wait([other], timeout=1.0)
        return mine, await other, bool(done)
    finally:
        await first.close()
        await second.close()


@pytest.mark.parametrize("guarded", [True, False], ids=["with-agent-lock", "without-it"])
async def test_two_tabs_of_one_agent_stay_within_capacity(migrated_db: str, guarded: bool) -> None:
    agent = make_agent(migrated_db, capacity={"sms": 1})
    make_item(migrated_db, waited_seconds=2)
    make_item(migrated_db, waited_seconds=1)
    if not guarded:
        without_guard(migrated_db, ROOM, "FOR NO KEY UPDATE")

    mine, other, _ = await _second_claim_while_first_is_open(migrated_db, agent, agent)

    assert mine is not None
    live = execute(migrated_db, f"SELECT count(*) FROM cc_assignments WHERE {LIVE}")[0][0]
    if guarded:
        assert other is None  # it waited for the first tab, then counted its item
        assert live == 1
    else:
        assert other is not None
        assert live == 2  # over the capacity of one: what the lock prevents


@pytest.mark.parametrize("guarded", [True, False], ids=["skip-locked", "without-it"])
async def test_claims_pass_each_other_instead_of_waiting(migrated_db: str, guarded: bool) -> None:
    first_agent, second_agent = make_agent(migrated_db), make_agent(migrated_db)
    oldest = make_item(migrated_db, waited_seconds=2)
    next_one = make_item(migrated_db, waited_seconds=1)
    if not guarded:
        without_guard(migrated_db, CLAIM, "FOR UPDATE SKIP LOCKED", "FOR UPDATE")

    mine, other, answered_at_once = await _second_claim_while_first_is_open(
        migrated_db, first_agent, second_agent
    )

    assert mine is not None
    assert mine.id == oldest
    assert other is not None
    assert other.id == next_one
    # Without SKIP LOCKED every claim queues behind the one holding the head of the queue.
    assert answered_at_once is guarded


@pytest.mark.parametrize("guarded", [True, False], ids=["locked-and-rechecked", "without"])
async def test_an_item_is_never_given_to_two_agents(migrated_db: str, guarded: bool) -> None:
    first_agent, second_agent = make_agent(migrated_db), make_agent(migrated_db)
    make_item(migrated_db, waited_seconds=2)
    make_item(migrated_db, waited_seconds=1)
    if not guarded:
        without_guard(migrated_db, CLAIM, "LIMIT 1 FOR UPDATE SKIP LOCKED", "LIMIT 1")
        without_guard(migrated_db, CLAIM, "WHERE a.id = picked AND a.state = 'queued'",
                      "WHERE a.id = picked")  # fmt: skip

    mine, other, _ = await _second_claim_while_first_is_open(migrated_db, first_agent, second_agent)

    assert mine is not None
    assert other is not None
    assert (other.id != mine.id) is guarded  # without: the same item, now "held" twice


async def test_concurrent_enqueues_of_one_conversation_leave_one_live_item(
    migrated_db: str,
) -> None:
    conversation = make_conversation(migrated_db)
    connections = [await _connect(migrated_db) for _ in range(20)]
    start = asyncio.Event()

    async def hand_over(conn: AsyncConnection[Any]) -> Assignment | None:
        await start.wait()
        try:
            return await service.enqueue_handoff(
                conn, service.SYSTEM, queue="fraud", reason="card stolen",
                conversation_id=conversation,
            )  # fmt: skip
        except AssignmentAlreadyLive:
            return None

    try:
        tasks = [asyncio.create_task(hand_over(conn)) for conn in connections]
        start.set()
        results = await asyncio.gather(*tasks)
    finally:
        for conn in connections:
            await conn.close()

    assert sum(result is not None for result in results) == 1
    rows = execute(
        migrated_db, "SELECT count(*) FROM cc_assignments WHERE conversation_id = %s",
        (conversation,),
    )  # fmt: skip
    assert rows == [(1,)]


@pytest.mark.parametrize("guarded", [True, False], ids=["unique-index", "without-it"])
def test_the_database_refuses_a_second_live_item_for_a_conversation(
    migrated_db: str, guarded: bool
) -> None:
    conversation = make_conversation(migrated_db)
    make_item(migrated_db, conversation_id=conversation)
    if not guarded:
        execute(migrated_db, "DROP INDEX cc_assignments_one_live_per_conversation_key")
    # Finished items do not count: a conversation is worked many times over its life.
    make_item(migrated_db, conversation_id=conversation, state="done", agent_id=None)

    if guarded:
        with pytest.raises(psycopg.errors.UniqueViolation):
            make_item(migrated_db, conversation_id=conversation, state="active",
                      agent_id=make_agent(migrated_db))  # fmt: skip
    else:
        make_item(migrated_db, conversation_id=conversation, state="active",
                  agent_id=make_agent(migrated_db))  # fmt: skip
        live = execute(
            migrated_db,
            "SELECT count(*) FROM cc_assignments WHERE conversation_id = %s AND state <> 'done'",
            (conversation,),
        )
        assert live == [(2,)]
