"""An agent reads a conversation's timeline, a page at a time, under row-level security."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from psycopg import AsyncConnection

from switchboard.audit.models import Actor, ActorType
from switchboard.auth_sessions.models import AssuranceLevel
from switchboard.errors import ConversationNotFound, InvalidInput
from switchboard.sla import service as sla
from switchboard.timeline.service import read_timeline
from tests.builders import execute
from tests.row_security.floor import Floor, floor_fixture  # noqa: F401 (a fixture)

pytestmark = pytest.mark.anyio


def _add_messages(url: str, conversation: uuid.UUID, count: int, start: datetime) -> None:
    """`count` messages a second apart, some at the same instant as another (ties on time)."""
    execute(
        url,
        "INSERT INTO cc_messages (conversation_id, direction, provider, provider_message_id,"
        " body_text, created_at)"
        " SELECT %s, 'inbound', 'twilio', 'SM' || md5(random()::text || n), 'text ' || n,"
        " %s + (n / 2) * interval '1 second' FROM generate_series(1, %s) AS n",
        (conversation, start, count),
    )


async def test_pages_hold_every_entry_once_newest_first(
    conn: AsyncConnection[Any], floor: Floor, migrated_db: str
) -> None:
    _add_messages(migrated_db, floor.fraud, 120, datetime(2026, 1, 1, tzinfo=UTC))
    seen: list[tuple[datetime, uuid.UUID]] = []
    kinds: set[str] = set()
    cursor = None
    pages = 0
    while True:
        timeline = await read_timeline(conn, floor.ana, floor.fraud, cursor=cursor, limit=50)
        pages += 1
        seen += [(e.at, e.id) for e in timeline.entries]
        kinds |= {e.kind for e in timeline.entries}
        if timeline.next_cursor is None:
            break
        cursor = timeline.next_cursor
        # Something written meanwhile neither repeats nor hides an entry of the next pages.
        _add_messages(migrated_db, floor.fraud, 1, datetime.now(UTC))

    # 3 messages and a tool call from the floor and 120 here; the 2 written while paging are
    # newer than the pages that followed them: a first page shows them.
    assert pages == 3
    assert len(seen) == len(set(seen)) == 124
    assert seen == sorted(seen, reverse=True)
    assert kinds == {"message", "tool_call"}


async def test_a_tool_call_is_summarised(conn: AsyncConnection[Any], floor: Floor) -> None:
    timeline = await read_timeline(conn, floor.ana, floor.fraud)

    [call] = [e for e in timeline.entries if e.kind == "tool_call"]
    assert (call.tool, call.outcome) == ("identify_caller", "ok")


async def test_another_queues_conversation_is_not_found(
    conn: AsyncConnection[Any], floor: Floor
) -> None:
    for agent, conversation in ((floor.ana, floor.cards), (floor.bo, floor.fraud)):
        with pytest.raises(ConversationNotFound):
            await read_timeline(conn, agent, conversation)
    with pytest.raises(ConversationNotFound):
        await read_timeline(conn, floor.ana, uuid.uuid4())


async def test_the_verification_level_is_now(
    conn: AsyncConnection[Any], floor: Floor, migrated_db: str
) -> None:
    assert (await read_timeline(conn, floor.ana, floor.fraud)).verification.level == (
        AssuranceLevel.LINKED
    )
    verified = datetime.now(UTC) - timedelta(minutes=1)
    execute(
        migrated_db,
        "INSERT INTO cc_auth_sessions (bank_customer_id, conversation_id, status, channel,"
        " expires_at, verified_at) SELECT bank_customer_id, id, 'verified', 'sms', %s, %s"
        " FROM cc_conversations WHERE id = %s",
        (verified + timedelta(minutes=10), verified, floor.fraud),
    )

    verification = (await read_timeline(conn, floor.ana, floor.fraud)).verification

    assert verification.level == AssuranceLevel.VERIFIED
    assert verification.expires_at is not None
    assert verification.expires_at > datetime.now(UTC)


@pytest.mark.parametrize("cursor", ["nonsense", "", "bm90fGF8dXVpZA", "MjAyNi0wMS0wMXx4"])
async def test_a_cursor_not_ours_is_refused(
    conn: AsyncConnection[Any], floor: Floor, cursor: str
) -> None:
    with pytest.raises(InvalidInput):
        await read_timeline(conn, floor.ana, floor.fraud, cursor=cursor or "=")


@pytest.mark.parametrize("limit", [0, -1, 201])
async def test_a_page_size_out_of_range_is_refused(
    conn: AsyncConnection[Any], floor: Floor, limit: int
) -> None:
    with pytest.raises(InvalidInput, match="limit"):
        await read_timeline(conn, floor.ana, floor.fraud, limit=limit)


async def test_the_clocks_come_with_the_timeline_and_only_with_it(
    conn: AsyncConnection[Any], floor: Floor
) -> None:
    system = Actor(ActorType.SYSTEM, "test")
    for conversation, queue in ((floor.fraud, "fraud"), (floor.cards, "cards")):
        await sla.start_clocks(
            conn, conversation, queue=queue, priority="high", at=datetime.now(UTC), actor=system
        )

    timeline = await read_timeline(conn, floor.ana, floor.fraud)

    assert {v.clock.metric for v in timeline.clocks} == {"first_response", "resolution"}
    assert {v.clock.conversation_id for v in timeline.clocks} == {floor.fraud}
    assert all(v.remaining is not None and v.remaining > timedelta(0) for v in timeline.clocks)
