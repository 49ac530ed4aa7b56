"""A customer's text on a conversation nobody holds queues it for a person, in the transaction
that stores the text; the sweep then starts its clocks and offers a reopened one to its last
agent."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from uuid import UUID

import pytest
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from switchboard.assignments import service as assignments
from switchboard.messages.inbound import record_inbound
from switchboard.messages.models import Recorded
from tests.builders import execute
from tests.conftest import service_url
from tests.messages.test_inbound import ANN, BOB, text

pytestmark = pytest.mark.anyio


@pytest.fixture
async def pool(migrated_db: str) -> AsyncIterator[AsyncConnectionPool[Any]]:
    async with AsyncConnectionPool(
        service_url(migrated_db), min_size=1, max_size=10, kwargs={"autocommit": True},
        open=False,
    ) as opened:  # fmt: skip
        yield opened


def _items(url: str) -> list[tuple[Any, ...]]:
    return execute(
        url,
        "SELECT conversation_id, queue_name, state, source FROM cc_assignments ORDER BY created_at",
    )


async def test_a_text_nobody_holds_is_queued_once_with_its_audit_record(
    pool: AsyncConnectionPool[Any], migrated_db: str
) -> None:
    [first] = await record_inbound(pool, [text("SMq1", ANN)])
    await record_inbound(pool, [text("SMq2", ANN), text("SMq3", ANN), text("SMq4", BOB)])

    items = _items(migrated_db)
    assert len(items) == 2  # Ann's conversation once, Bob's once
    assert (items[0][0], items[0][1:]) == (first.conversation_id, ("general", "queued", "inbound"))
    assert execute(
        migrated_db,
        "SELECT count(*) FROM cc_audit_logs WHERE event_type = 'assignment.queued'",
    ) == [(2,)]


async def test_groups_racing_for_one_conversation_queue_it_once(
    pool: AsyncConnectionPool[Any], migrated_db: str
) -> None:
    await asyncio.gather(
        *(record_inbound(pool, [text(f"SMr{n}a", ANN), text(f"SMr{n}b", ANN)]) for n in range(8))
    )

    assert len(_items(migrated_db)) == 1


async def _done_by(conn: AsyncConnection[Any], recorded: Recorded, agent: UUID) -> None:
    assert recorded.conversation_id is not None
    await conn.execute(
        "UPDATE cc_assignments SET state = 'done', assigned_to = %s, done_at = now(),"
        " end_reason = 'resolved', queue_name = 'cards' WHERE conversation_id = %s",
        (str(agent), recorded.conversation_id),
    )


async def test_a_customer_writing_again_reopens_it_for_the_last_agent_first(
    pool: AsyncConnectionPool[Any], conn: AsyncConnection[Any], migrated_db: str
) -> None:
    [(agent,)] = execute(
        migrated_db,
        "INSERT INTO cc_agents (email, display_name, role, presence) VALUES"
        " ('kai@bank.example', 'Kai', 'agent', 'available') RETURNING id",
    )
    execute(migrated_db, "INSERT INTO cc_agent_queues VALUES (%s, 'cards')", (agent,))
    [first] = await record_inbound(pool, [text("SMo1", ANN)])
    await _done_by(conn, first, agent)

    await record_inbound(pool, [text("SMo2", ANN)])
    await assignments.sweep(conn)

    assert _items(migrated_db)[-1][1:] == ("cards", "offered", "reopen")
    assert execute(
        migrated_db, "SELECT assigned_to FROM cc_assignments WHERE state = 'offered'"
    ) == [(str(agent),)]


async def test_the_sweep_starts_the_clocks_from_when_it_was_queued(
    pool: AsyncConnectionPool[Any], conn: AsyncConnection[Any], migrated_db: str
) -> None:
    [recorded] = await record_inbound(pool, [text("SMc1", BOB)])

    await assignments.sweep(conn)
    await assignments.sweep(conn)  # twice: nothing more starts

    clocks = execute(
        migrated_db,
        "SELECT k.metric, k.started_at = w.enqueued_at FROM cc_sla_clocks AS k"
        " JOIN cc_assignments AS w ON w.conversation_id = k.conversation_id"
        " WHERE k.conversation_id = %s ORDER BY k.metric",
        (recorded.conversation_id,),
    )
    assert clocks == [("first_response", True), ("resolution", True)]


async def test_a_holder_written_before_019_as_free_text_queues_it_for_nobody_in_particular(
    pool: AsyncConnectionPool[Any], migrated_db: str
) -> None:
    [first] = await record_inbound(pool, [text("SMl1", ANN)])
    execute(
        migrated_db,
        "UPDATE cc_assignments SET state = 'done', done_at = now(), assigned_to = 'agent-7'"
        " WHERE conversation_id = %s",
        (first.conversation_id,),
    )

    [again] = await record_inbound(pool, [text("SMl2", ANN)])

    assert not again.duplicate
    assert execute(
        migrated_db,
        "SELECT source, last_agent_id FROM cc_assignments WHERE state = 'queued'",
    ) == [("reopen", None)]
