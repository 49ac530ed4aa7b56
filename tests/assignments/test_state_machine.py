"""Every legal move of an assignment, and every move from a state it does not start from.

The moves are data (models.TRANSITIONS); these tests drive each through the service on a
real database and check the state it leaves, the version, and its one audit record."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from psycopg import AsyncConnection

from switchboard.assignments import service
from switchboard.assignments.models import TRANSITIONS, Move, State, allowed, moves_from
from switchboard.errors import (
    AssignmentNotFound,
    IllegalAssignmentMove,
    StaleAssignment,
)
from switchboard.row_security import AgentClaims
from tests.assignments.support import audit_events, item_row, make_agent, make_item
from tests.builders import execute

pytestmark = pytest.mark.anyio

# Moves made on one item by id; claim, expire and withdraw pick their items themselves.
BY_ID = (Move.OFFER, Move.ACCEPT, Move.DECLINE, Move.WRAP_UP, Move.FINISH, Move.TRANSFER,
         Move.CANCEL, Move.REASSIGN, Move.TAKE_OVER)  # fmt: skip
LEGAL = [(move, state) for move, t in TRANSITIONS.items() for state in sorted(t.sources)]
ILLEGAL = [(move, state) for move in BY_ID for state in State if not allowed(move, state)]


def test_the_lifecycle_is_taskrouters() -> None:
    supervisors = [Move.REASSIGN, Move.TAKE_OVER]
    assert moves_from(State.QUEUED) == [Move.CLAIM, Move.OFFER, Move.CANCEL, *supervisors]
    assert moves_from(State.OFFERED) == [
        Move.ACCEPT,
        Move.DECLINE,
        Move.EXPIRE,
        Move.WITHDRAW,
        Move.CANCEL,
        *supervisors,
    ]
    # never cancelled
    assert moves_from(State.ACTIVE) == [Move.WRAP_UP, Move.TRANSFER, *supervisors]
    assert moves_from(State.WRAP_UP) == [Move.FINISH]
    assert moves_from(State.DONE) == moves_from(State.CANCELLED) == []


async def _expire(conn: AsyncConnection[Any], url: str) -> Any:
    execute(url, "UPDATE cc_assignments SET offer_expires_at = now() - interval '1 second'")
    return await service.sweep(conn)


def _supervisor(url: str) -> AgentClaims:
    lead = make_agent(url, queues=("general",))
    execute(url, "UPDATE cc_agents SET role = 'supervisor' WHERE id = %s", (lead,))
    return AgentClaims(lead, "supervisor", ("general",))


async def _reassign(conn: AsyncConnection[Any], url: str, item: UUID) -> Any:
    version = item_row(url, item)["version"]
    target = make_agent(url, queues=("general",))
    return await service.reassign(
        conn,
        _supervisor(url),
        item,
        agent_id=target,
        reason="rebalancing the load",
        version=version,
    )


async def _take_over(conn: AsyncConnection[Any], url: str, item: UUID) -> Any:
    version = item_row(url, item)["version"]
    return await service.take_over(
        conn, _supervisor(url), item, reason="rebalancing the load", version=version
    )


# How each move is asked of the service, on item `i` by agent `a`.
MAKE: dict[Move, Callable[[AsyncConnection[Any], str, UUID, UUID], Awaitable[Any]]] = {
    Move.CLAIM: lambda c, u, a, i: service.claim_next(c, a),
    Move.OFFER: lambda c, u, a, i: service.offer(c, service.agent_actor(a), i, a),
    Move.ACCEPT: lambda c, u, a, i: service.accept(c, a, i),
    Move.DECLINE: lambda c, u, a, i: service.decline(c, a, i),
    Move.EXPIRE: lambda c, u, a, i: _expire(c, u),
    Move.WITHDRAW: lambda c, u, a, i: service.set_presence(c, a, "away"),
    Move.WRAP_UP: lambda c, u, a, i: service.wrap_up(c, a, i),
    Move.FINISH: lambda c, u, a, i: service.finish(c, a, i),
    Move.TRANSFER: lambda c, u, a, i: service.transfer(
        c, a, i, queue="cards", reason="belongs with cards"
    ),
    Move.CANCEL: lambda c, u, a, i: service.cancel(c, service.SYSTEM, i),
    Move.REASSIGN: lambda c, u, a, i: _reassign(c, u, i),
    Move.TAKE_OVER: lambda c, u, a, i: _take_over(c, u, i),
}


async def _make(conn: AsyncConnection[Any], url: str, move: Move, agent: UUID, item: UUID) -> Any:
    return await MAKE[move](conn, url, agent, item)


@pytest.mark.parametrize(("move", "state"), LEGAL, ids=[f"{m}-from-{s}" for m, s in LEGAL])
async def test_each_legal_move(
    conn: AsyncConnection[Any], migrated_db: str, move: Move, state: State
) -> None:
    agent = make_agent(migrated_db, queues=("general", "cards"))
    item = make_item(migrated_db, state=state, agent_id=agent)
    before = item_row(migrated_db, item)

    await _make(conn, migrated_db, move, agent, item)

    after = item_row(migrated_db, item)
    assert after["state"] == TRANSITIONS[move].target
    assert after["version"] == before["version"] + 1
    events = audit_events(migrated_db, item)
    assert len(events) == 1
    actor = "system" if move in (Move.EXPIRE, Move.WITHDRAW, Move.CANCEL) else "agent"
    assert events[0][1] == actor


@pytest.mark.parametrize(("move", "state"), ILLEGAL, ids=[f"{m}-from-{s}" for m, s in ILLEGAL])
async def test_each_illegal_move_is_refused_and_changes_nothing(
    conn: AsyncConnection[Any], migrated_db: str, move: Move, state: State
) -> None:
    agent = make_agent(migrated_db, queues=("general", "cards"))
    item = make_item(migrated_db, state=state, agent_id=agent)
    before = item_row(migrated_db, item)

    with pytest.raises(IllegalAssignmentMove) as refused:
        await _make(conn, migrated_db, move, agent, item)

    assert refused.value.http_status == 409
    assert item_row(migrated_db, item) == before
    assert audit_events(migrated_db, item) == []


async def test_a_move_on_a_stale_view_is_refused(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    agent = make_agent(migrated_db)
    item = make_item(migrated_db, state="active", agent_id=agent)
    seen = item_row(migrated_db, item)["version"]
    await service.wrap_up(conn, agent, item, version=seen)

    with pytest.raises(StaleAssignment):
        await service.finish(conn, agent, item, version=seen)  # the view before wrap-up

    assert item_row(migrated_db, item)["state"] == "wrap_up"
    await service.finish(conn, agent, item, version=seen + 1)
    assert item_row(migrated_db, item)["state"] == "done"


async def test_only_the_holder_moves_an_item(conn: AsyncConnection[Any], migrated_db: str) -> None:
    holder = make_agent(migrated_db)
    other = make_agent(migrated_db)
    item = make_item(migrated_db, state="offered", agent_id=holder)

    # Another's item is not found: whether it exists, and its state, are not theirs to learn.
    for stale in (None, 99):
        with pytest.raises(AssignmentNotFound):
            await service.accept(conn, other, item, version=stale)

    assert item_row(migrated_db, item)["state"] == "offered"


async def test_an_expired_offer_cannot_be_accepted_even_before_the_sweep(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    agent = make_agent(migrated_db)
    item = make_item(migrated_db, state="offered", agent_id=agent, offer_expires_in=-1)

    with pytest.raises(IllegalAssignmentMove, match="expired"):
        await service.accept(conn, agent, item)


async def test_offer_expiry_is_the_queues_offer_timeout(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    agent = make_agent(migrated_db, queues=("fraud",))
    item = make_item(migrated_db, queue="fraud")

    offered = await service.offer(conn, service.SYSTEM, item, agent)

    assert offered.offered_at is not None
    assert offered.offer_expires_at is not None
    assert offered.offer_expires_at - offered.offered_at == timedelta(seconds=30)  # fraud's
