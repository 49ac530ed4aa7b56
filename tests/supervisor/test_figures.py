"""The figures of a supervisor's queues, against a floor built by hand, and PostgreSQL as the
guard: a supervisor of cards reads no fraud figure, whatever the SQL asks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg import AsyncConnection

from switchboard.errors import SupervisorOnly
from switchboard.row_security import AgentClaims, act_as_agent
from switchboard.supervision import service
from tests.builders import execute
from tests.supervisor.support import build_floor

pytestmark = pytest.mark.anyio


async def _raw(conn: AsyncConnection[Any], who: AgentClaims, sql: str) -> list[tuple[Any, ...]]:
    async with conn.transaction():
        await act_as_agent(conn, who)
        cursor = await conn.execute(sql)  # type: ignore[arg-type]
        return await cursor.fetchall()


async def test_the_figures_of_cards_match_the_floor(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    floor = build_floor(migrated_db)
    [cards] = await service.queue_figures(conn, floor.cards_lead)

    assert cards.queue == "cards"
    assert (cards.queued, cards.offered, cards.active, cards.wrap_up) == (2, 1, 1, 1)
    [(enqueued,)] = execute(
        migrated_db, "SELECT enqueued_at FROM cc_assignments WHERE id = %s", (floor.oldest,)
    )
    assert cards.oldest_enqueued_at == enqueued
    assert cards.oldest_wait_seconds == (cards.as_of - enqueued) / timedelta(seconds=1)
    assert 600 <= cards.oldest_wait_seconds < 660
    assert cards.escalated_waiting == 1
    assert (cards.met_today, cards.breached_today) == (3, 1)
    assert cards.attainment_today == 0.75
    by_agent = {a.agent_id: a for a in cards.agents}
    assert set(by_agent) == {floor.cards_lead.agent_id, floor.cara.agent_id, floor.finn.agent_id}
    cara = by_agent[floor.cara.agent_id]
    assert (cara.presence, cara.capacity, cara.load) == (
        "available",
        {"sms": 2, "voice": 1},
        {"sms": 2},
    )
    # finn's fraud item counts against his capacity, though the cards lead cannot see it
    assert by_agent[floor.finn.agent_id].load == {"sms": 2}


async def test_attainment_is_null_when_nothing_was_due(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    floor = build_floor(migrated_db)
    lead = AgentClaims(floor.root.agent_id, "admin")
    figures = {f.queue: f for f in await service.queue_figures(conn, lead)}

    assert len(figures) == 7  # an admin: every queue
    assert figures["loans"].attainment_today is None
    assert figures["loans"].oldest_wait_seconds is None
    assert (figures["fraud"].met_today, figures["fraud"].breached_today) == (0, 2)
    assert figures["fraud"].attainment_today == 0.0


async def test_a_supervisor_of_cards_sees_no_fraud_figure(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    floor = build_floor(migrated_db)
    lead = floor.cards_lead

    assert [f.queue for f in await service.queue_figures(conn, lead)] == ["cards"]
    # Raw SQL in the supervisor's transaction: the policies, not the service, decide.
    for sql in (
        "SELECT count(*) FROM cc_assignments WHERE queue_name = 'fraud'",
        "SELECT count(*) FROM cc_sla_clocks WHERE queue_name = 'fraud'",
        "SELECT count(*) FROM cc_private.supervised_agents() WHERE queue_name = 'fraud'",
    ):
        assert await _raw(conn, lead, sql) == [(0,)], sql
    assert await _raw(conn, lead, "SELECT count(*) FROM cc_sla_clocks") == [(6,)]
    assert await _raw(conn, floor.fraud_lead, "SELECT count(*) FROM cc_sla_clocks") == [(2,)]
    # An agent reads no clock in bulk, and no agent at all.
    assert await _raw(conn, floor.cara, "SELECT count(*) FROM cc_sla_clocks") == [(0,)]
    assert await _raw(conn, floor.cara, "SELECT count(*) FROM cc_private.supervised_agents()") == [
        (0,)
    ]


async def test_an_agent_is_refused(conn: AsyncConnection[Any], migrated_db: str) -> None:
    floor = build_floor(migrated_db)
    with pytest.raises(SupervisorOnly):
        await service.queue_figures(conn, floor.cara)
    with pytest.raises(SupervisorOnly):
        await service.breaches(conn, floor.cara)


async def test_a_queues_items_oldest_first_a_page_at_a_time(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    floor = build_floor(migrated_db)
    first = await service.queue_items(conn, floor.cards_lead, "cards", limit=3)
    second = await service.queue_items(
        conn, floor.cards_lead, "cards", cursor=first.next_cursor, limit=3
    )

    assert [i.id for i in first.items][:2] == [floor.oldest, floor.queued]
    assert second.next_cursor is None
    assert {i.id for i in first.items + second.items} == {
        floor.oldest, floor.queued, floor.offered, floor.active, floor.wrap_up
    }  # fmt: skip
    assert len(first.items + second.items) == 5


async def test_breaches_of_the_callers_queues_only(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    floor = build_floor(migrated_db)
    since = datetime.now(UTC) - timedelta(days=2)
    cards = await service.breaches(conn, floor.cards_lead, since=since)
    fraud = await service.breaches(conn, floor.fraud_lead, since=since)

    assert [b.queue for b in cards] == ["cards", "cards"]  # today's, then yesterday's
    assert [b.queue for b in fraud] == ["fraud", "fraud"]
    assert cards[0].fulfilled_at is not None  # met late
