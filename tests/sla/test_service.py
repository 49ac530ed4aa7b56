"""Conversation clocks on the migrated database: start, pause, resume, next response, human
replies only, resolve, breaches exactly once, events, audit, reads, holidays."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import psycopg
import pytest
from psycopg import AsyncConnection

from switchboard.audit.models import Actor, ActorType
from switchboard.errors import ConversationNotFound, InvalidInput
from switchboard.sla import repository, service
from switchboard.sla.calendar import DAY_SECONDS
from tests.builders import execute
from tests.conftest import service_url

pytestmark = pytest.mark.anyio
NEW_YORK = ZoneInfo("America/New_York")
H = timedelta(hours=1)
AGENT = Actor(ActorType.AGENT, "3f1c0a4e-0000-4000-8000-000000000007")
ASSISTANT = Actor(ActorType.AI_AGENT, "assistant")
ROUTING = Actor(ActorType.SYSTEM, "routing")
CUSTOMER = Actor(ActorType.CUSTOMER, "customer")


def ny(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=NEW_YORK)  # type: ignore[misc]


def new_conversation(url: str) -> UUID:
    row = execute(url, "INSERT INTO cc_conversations (channel) VALUES ('sms') RETURNING id")
    conversation: UUID = row[0][0]
    return conversation


def clock_rows(url: str, conversation: UUID) -> dict[str, tuple[Any, ...]]:
    rows = execute(
        url,
        "SELECT metric, state, due_at, business_used FROM cc_sla_clocks"
        " WHERE conversation_id = %s ORDER BY started_at",
        (conversation,),
    )
    return {metric: (state, due, used) for metric, state, due, used in rows}


def events(url: str, conversation: UUID) -> list[tuple[str, str]]:
    return [
        (metric, event)
        for metric, event in execute(
            url,
            "SELECT c.metric, e.event FROM cc_sla_clock_events AS e"
            " JOIN cc_sla_clocks AS c ON c.id = e.clock_id WHERE c.conversation_id = %s"
            " ORDER BY e.recorded_at",
            (conversation,),
        )
    ]


async def test_calendars_load_from_018s_tables_with_24_00_and_holidays(
    conn: AsyncConnection[Any],
) -> None:
    hours = await repository.load_calendar(conn, "business_hours")
    always = await repository.load_calendar(conn, "round_the_clock")
    federal = await repository.load_calendar(conn, "us_federal_business_days")

    assert hours is not None
    assert always is not None
    assert federal is not None
    assert hours.weekly[1] == ((8 * 3600, 20 * 3600),)
    assert hours.weekly[6] == ((9 * 3600, 13 * 3600),)
    assert 7 not in hours.weekly
    assert always.weekly[7] == ((0, DAY_SECONDS),)
    assert federal.exceptions[date(2026, 12, 25)] == ()
    assert not federal.is_business_day(date(2027, 7, 5))
    assert federal.is_business_day(date(2026, 7, 3))  # the 4th is a Saturday: banks open
    assert await repository.load_calendar(conn, "nowhere") is None


async def test_a_dated_row_with_hours_replaces_the_day(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    execute(
        migrated_db,
        "INSERT INTO cc_calendar_exceptions (calendar_name, on_date, opens, closes, label)"
        " VALUES ('business_hours', '2026-12-24', '08:00', '12:00', 'Christmas Eve'),"
        " ('business_hours', '2026-12-24', '13:00', '15:00', 'Christmas Eve')",
    )

    hours = await repository.load_calendar(conn, "business_hours")

    assert hours is not None
    assert hours.intervals_on(date(2026, 12, 24)) == ((8 * 3600, 12 * 3600), (13 * 3600, 15 * 3600))


async def test_entering_a_queue_starts_first_response_and_resolution_in_its_calendar(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    """cards: standard policy, normal priority: 1 h and 36 h of Monday-Friday 08:00-20:00,
    Saturday 09:00-13:00 in New York. Friday 19:30 + 1 h is Saturday 09:30."""
    conversation = new_conversation(migrated_db)

    started = await service.start_clocks(
        conn,
        conversation,
        queue="cards",
        priority="normal",
        at=ny(2026, 12, 4, 19, 30),
        actor=ROUTING,
    )

    assert [c.metric for c in started] == ["first_response", "resolution"]
    rows = clock_rows(migrated_db, conversation)
    assert rows["first_response"][:2] == ("running", ny(2026, 12, 5, 9, 30))
    # 30 min Friday, 4 h Saturday, 12 h Monday, 12 h Tuesday, 7.5 h Wednesday
    assert rows["resolution"][:2] == ("running", ny(2026, 12, 9, 15, 30))
    assert events(migrated_db, conversation) == [
        ("first_response", "started"),
        ("resolution", "started"),
    ]
    audited = execute(
        migrated_db,
        "SELECT actor_type, actor_id, input_redacted->>'queue' FROM cc_audit_logs"
        " WHERE event_type = 'sla.clocks_started' AND conversation_id = %s",
        (conversation,),
    )
    assert audited == [("system", "routing", "cards")]


async def test_a_transfer_keeps_the_conversations_clocks(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    conversation = new_conversation(migrated_db)
    start = ny(2026, 12, 7, 10)
    await service.start_clocks(
        conn, conversation, queue="cards", priority="normal", at=start, actor=ROUTING
    )
    before = clock_rows(migrated_db, conversation)

    again = await service.start_clocks(
        conn, conversation, queue="fraud", priority="urgent", at=start + H, actor=ROUTING
    )

    assert again == []
    assert clock_rows(migrated_db, conversation) == before


async def test_an_unknown_queue_or_priority_is_refused(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    conversation = new_conversation(migrated_db)
    with pytest.raises(InvalidInput, match="no queue 'mortgages'") as refused:
        await service.start_clocks(
            conn,
            conversation,
            queue="mortgages",
            priority="normal",
            at=ny(2026, 12, 7, 10),
            actor=ROUTING,
        )
    assert refused.value.hint is not None
    assert "cards" in refused.value.hint
    with pytest.raises(InvalidInput, match="not a priority"):
        await service.start_clocks(
            conn,
            conversation,
            queue="cards",
            priority="asap",
            at=ny(2026, 12, 7, 10),
            actor=ROUTING,
        )
    assert clock_rows(migrated_db, conversation) == {}
    with pytest.raises(ConversationNotFound):
        await service.start_clocks(
            conn,
            UUID("00000000-0000-4000-8000-000000000000"),
            queue="cards",
            priority="normal",
            at=ny(2026, 12, 7, 10),
            actor=ROUTING,
        )


async def test_only_a_human_agents_reply_fulfils_the_first_response(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    conversation = new_conversation(migrated_db)
    start = ny(2026, 12, 7, 10)
    await service.start_clocks(
        conn, conversation, queue="cards", priority="normal", at=start, actor=ROUTING
    )

    by_assistant = await service.reply_sent(
        conn, conversation, at=start + 10 * timedelta(minutes=1), by=ASSISTANT
    )
    assert by_assistant == []
    assert clock_rows(migrated_db, conversation)["first_response"][0] == "running"

    by_agent = await service.reply_sent(
        conn, conversation, at=start + timedelta(minutes=20), by=AGENT
    )

    assert [c.metric for c in by_agent] == ["first_response"]
    state, _, used = clock_rows(migrated_db, conversation)["first_response"]
    assert (state, used) == ("fulfilled", timedelta(minutes=20))
    assert clock_rows(migrated_db, conversation)["resolution"][0] == "running"
    assert events(migrated_db, conversation)[-1] == ("first_response", "fulfilled")
    assert execute(
        migrated_db,
        "SELECT actor_type, actor_id FROM cc_audit_logs WHERE event_type = 'sla.replied'",
    ) == [("agent", AGENT.id)]


async def test_waiting_on_the_customer_pauses_and_their_message_resumes_with_a_new_due_time(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    """Resolution, 36 business hours: 2 h spent Monday 10:00-12:00, paused until Tuesday
    15:00, then 34 h left: Tuesday 15:00-20:00 (5 h), Wednesday and Thursday (24 h),
    Friday 08:00-13:00 (5 h)."""
    conversation = new_conversation(migrated_db)
    await service.start_clocks(
        conn, conversation, queue="cards", priority="normal", at=ny(2026, 12, 7, 10), actor=ROUTING
    )
    await service.reply_sent(conn, conversation, at=ny(2026, 12, 7, 10, 30), by=AGENT)

    paused = await service.pause_clocks(conn, conversation, at=ny(2026, 12, 7, 12), actor=AGENT)

    assert [c.metric for c in paused] == ["resolution"]
    assert clock_rows(migrated_db, conversation)["resolution"] == ("paused", None, 2 * H)
    assert execute(
        migrated_db,
        "SELECT e.due_at, e.business_used FROM cc_sla_clock_events AS e"
        " JOIN cc_sla_clocks AS c ON c.id = e.clock_id"
        " WHERE c.metric = 'resolution' AND e.event = 'paused'",
    ) == [(ny(2026, 12, 10, 10), 2 * H)]
    view = await service.conversation_clocks(conn, conversation, now=ny(2026, 12, 8, 9))
    assert [(v.clock.metric, v.remaining) for v in view if v.clock.state == "paused"] == [
        ("resolution", 34 * H)
    ]

    changed = await service.customer_wrote(
        conn, conversation, at=ny(2026, 12, 8, 15), actor=CUSTOMER
    )

    assert sorted(c.metric for c in changed) == ["next_response", "resolution"]
    rows = clock_rows(migrated_db, conversation)
    assert rows["resolution"] == ("running", ny(2026, 12, 11, 13), 2 * H)
    assert rows["next_response"][:2] == ("running", ny(2026, 12, 8, 17))  # 2 h
    assert [e for m, e in events(migrated_db, conversation) if m == "resolution"] == [
        "started",
        "paused",
        "resumed",
    ]


async def test_next_response_waits_for_a_human_answer_first(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    conversation = new_conversation(migrated_db)
    await service.start_clocks(
        conn, conversation, queue="cards", priority="normal", at=ny(2026, 12, 7, 10), actor=ROUTING
    )

    await service.customer_wrote(conn, conversation, at=ny(2026, 12, 7, 10, 5), actor=CUSTOMER)

    assert "next_response" not in clock_rows(migrated_db, conversation)
    await service.reply_sent(conn, conversation, at=ny(2026, 12, 7, 10, 30), by=AGENT)
    await service.customer_wrote(conn, conversation, at=ny(2026, 12, 7, 11), actor=CUSTOMER)
    await service.customer_wrote(conn, conversation, at=ny(2026, 12, 7, 11, 5), actor=CUSTOMER)
    assert execute(
        migrated_db,
        "SELECT count(*), min(started_at) FROM cc_sla_clocks WHERE metric = 'next_response'",
    ) == [(1, ny(2026, 12, 7, 11))]


async def test_resolving_fulfils_resolution_and_cancels_a_pending_next_response(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    conversation = new_conversation(migrated_db)
    await service.start_clocks(
        conn, conversation, queue="cards", priority="normal", at=ny(2026, 12, 7, 10), actor=ROUTING
    )
    await service.reply_sent(conn, conversation, at=ny(2026, 12, 7, 10, 30), by=AGENT)
    await service.customer_wrote(conn, conversation, at=ny(2026, 12, 7, 11), actor=CUSTOMER)

    ended = await service.resolve_clocks(
        conn, conversation, at=ny(2026, 12, 7, 11, 30), actor=AGENT
    )

    assert sorted((c.metric, c.state) for c in ended) == [
        ("next_response", "cancelled"),
        ("resolution", "fulfilled"),
    ]
    assert clock_rows(migrated_db, conversation)["resolution"][2] == 90 * timedelta(minutes=1)


async def test_a_reopened_conversation_starts_a_new_episode(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    conversation = new_conversation(migrated_db)
    await service.start_clocks(
        conn, conversation, queue="cards", priority="normal", at=ny(2026, 12, 7, 10), actor=ROUTING
    )
    await service.reply_sent(conn, conversation, at=ny(2026, 12, 7, 10, 30), by=AGENT)
    await service.resolve_clocks(conn, conversation, at=ny(2026, 12, 7, 11), actor=AGENT)

    again = await service.start_clocks(
        conn, conversation, queue="cards", priority="normal", at=ny(2026, 12, 8, 9), actor=ROUTING
    )
    # the customer writes again before anyone answers the reopened conversation
    await service.customer_wrote(conn, conversation, at=ny(2026, 12, 8, 9, 5), actor=CUSTOMER)

    assert [c.metric for c in again] == ["first_response", "resolution"]
    assert execute(
        migrated_db, "SELECT count(*) FROM cc_sla_clocks WHERE metric = 'next_response'"
    ) == [(0,)]


async def test_a_breach_is_recorded_once_and_audited(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    conversation = new_conversation(migrated_db)
    await service.start_clocks(
        conn, conversation, queue="cards", priority="normal", at=ny(2026, 12, 7, 10), actor=ROUTING
    )

    assert await service.sweep_breaches(conn, now=ny(2026, 12, 7, 10, 59)) == 0
    assert await service.sweep_breaches(conn, now=ny(2026, 12, 7, 11, 1)) == 1
    assert await service.sweep_breaches(conn, now=ny(2026, 12, 7, 11, 2)) == 0

    rows = execute(
        migrated_db,
        "SELECT state, breached_at FROM cc_sla_clocks WHERE metric = 'first_response'",
    )
    assert rows == [("breached", ny(2026, 12, 7, 11))]
    assert events(migrated_db, conversation).count(("first_response", "breached")) == 1
    assert execute(
        migrated_db,
        "SELECT actor_type, input_redacted->>'metric' FROM cc_audit_logs"
        " WHERE event_type = 'sla.breached'",
    ) == [("system", "first_response")]


async def test_concurrent_sweeps_breach_each_clock_exactly_once(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    for _ in range(40):
        await service.start_clocks(
            conn,
            new_conversation(migrated_db),
            queue="fraud",
            priority="urgent",
            at=datetime(2026, 12, 7, 10, tzinfo=UTC),
            actor=ROUTING,
        )
    url = service_url(migrated_db)
    late = datetime(2026, 12, 7, 18, tzinfo=UTC)  # past every 2 min and 4 h target

    async def sweep() -> int:
        async with await AsyncConnection.connect(url, autocommit=True) as own:
            total = 0
            for _ in range(10):
                total += await service.sweep_breaches(own, now=late, limit=7)
            return total

    counts = await asyncio.gather(*(sweep() for _ in range(4)))

    assert sum(counts) == 80
    assert execute(
        migrated_db, "SELECT count(*) FROM cc_sla_clock_events WHERE event = 'breached'"
    ) == [(80,)]
    assert execute(
        migrated_db, "SELECT count(*) FROM cc_audit_logs WHERE event_type = 'sla.breached'"
    ) == [(80,)]


async def test_a_reply_after_the_due_time_records_the_breach_first(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    """The sweep has not run: the late reply still shows the breach, at the due time."""
    conversation = new_conversation(migrated_db)
    await service.start_clocks(
        conn, conversation, queue="cards", priority="normal", at=ny(2026, 12, 7, 10), actor=ROUTING
    )

    await service.reply_sent(conn, conversation, at=ny(2026, 12, 7, 11, 15), by=AGENT)

    rows = execute(
        migrated_db,
        "SELECT state, breached_at, fulfilled_at FROM cc_sla_clocks"
        " WHERE metric = 'first_response'",
    )
    assert rows == [("breached", ny(2026, 12, 7, 11), ny(2026, 12, 7, 11, 15))]
    assert [e for m, e in events(migrated_db, conversation) if m == "first_response"] == [
        "started",
        "breached",
        "fulfilled",
    ]
    assert await service.sweep_breaches(conn, now=ny(2026, 12, 7, 12)) == 0


async def test_the_database_refuses_a_second_breach_event(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    conversation = new_conversation(migrated_db)
    await service.start_clocks(
        conn, conversation, queue="cards", priority="normal", at=ny(2026, 12, 7, 10), actor=ROUTING
    )
    await service.sweep_breaches(conn, now=ny(2026, 12, 7, 12))
    clock = execute(migrated_db, "SELECT id FROM cc_sla_clocks WHERE metric = 'first_response'")

    with pytest.raises(psycopg.errors.UniqueViolation):
        execute(
            migrated_db,
            "INSERT INTO cc_sla_clock_events (clock_id, event, at, business_used, actor_type,"
            " actor_id) VALUES (%s, 'breached', now(), '0', 'system', 'x')",
            (clock[0][0],),
        )


async def test_reads_give_the_business_time_left_and_overdue(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    conversation = new_conversation(migrated_db)
    await service.start_clocks(
        conn,
        conversation,
        queue="cards",
        priority="normal",
        at=ny(2026, 12, 4, 19, 30),
        actor=ROUTING,
    )

    # Saturday 08:00, before opening: 30 min were spent Friday, 30 min left
    views = {
        v.clock.metric: v
        for v in await service.conversation_clocks(conn, conversation, now=ny(2026, 12, 5, 8))
    }
    assert views["first_response"].remaining == timedelta(minutes=30)
    assert not views["first_response"].overdue
    late = {
        v.clock.metric: v
        for v in await service.conversation_clocks(conn, conversation, now=ny(2026, 12, 5, 10))
    }
    assert late["first_response"].remaining == -timedelta(minutes=30)
    assert late["first_response"].overdue
    clock_id = views["first_response"].clock.id
    assert [e.event for e in await service.clock_events(conn, clock_id)] == ["started"]


async def test_closing_a_day_moves_the_due_time_of_running_clocks(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    conversation = new_conversation(migrated_db)
    await service.start_clocks(
        conn,
        conversation,
        queue="cards",
        priority="normal",
        at=ny(2026, 12, 4, 19, 30),
        actor=ROUTING,
    )

    moved = await service.add_closed_day(
        conn, AGENT, calendar_name="business_hours", on_date=date(2026, 12, 5), label="Closed"
    )

    assert moved == 2
    rows = clock_rows(migrated_db, conversation)
    assert rows["first_response"][1] == ny(2026, 12, 7, 8, 30)  # Saturday closed: Monday
    assert events(migrated_db, conversation)[-2:] == [
        ("first_response", "recomputed"),
        ("resolution", "recomputed"),
    ]
    again = await service.add_closed_day(
        conn, AGENT, calendar_name="business_hours", on_date=date(2026, 12, 5), label="Closed"
    )
    assert again == 0
    assert execute(
        migrated_db,
        "SELECT count(*) FROM cc_calendar_exceptions WHERE on_date = '2026-12-05'",
    ) == [(1,)]


async def test_two_starts_at_once_give_one_set_of_clocks(migrated_db: str) -> None:
    conversation = new_conversation(migrated_db)
    url = service_url(migrated_db)

    async def start() -> int:
        async with await AsyncConnection.connect(url, autocommit=True) as own:
            started = await service.start_clocks(
                own,
                conversation,
                queue="cards",
                priority="high",
                at=ny(2026, 12, 7, 10),
                actor=ROUTING,
            )
            return len(started)

    counts = await asyncio.gather(*(start() for _ in range(5)))

    assert sorted(counts) == [0, 0, 0, 0, 2]
    assert len(clock_rows(migrated_db, conversation)) == 2


async def test_a_holiday_added_in_sql_moves_due_times_once_recomputed(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    conversation = new_conversation(migrated_db)
    await service.start_clocks(
        conn,
        conversation,
        queue="cards",
        priority="normal",
        at=ny(2026, 12, 4, 19, 30),
        actor=ROUTING,
    )
    execute(
        migrated_db,
        "INSERT INTO cc_calendar_exceptions (calendar_name, on_date, opens, closes, label)"
        " VALUES ('business_hours', '2026-12-05', '11:00', '12:00', 'Short Saturday')",
    )

    moved = await service.recompute_due(conn, "business_hours", actor=AGENT)

    assert [c.metric for c in moved] == ["first_response", "resolution"]
    assert clock_rows(migrated_db, conversation)["first_response"][1] == ny(2026, 12, 5, 11, 30)
    assert execute(
        migrated_db,
        "SELECT count(*) FROM cc_audit_logs WHERE event_type = 'sla.clocks_recomputed'",
    ) == [(1,)]


async def test_a_clock_resumed_while_closed_counts_from_the_next_opening(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    """15 min spent Friday 19:30-19:45; resumed Saturday 14:00, after Saturday's 13:00 close:
    the 45 min left run from Monday 08:00."""
    conversation = new_conversation(migrated_db)
    await service.start_clocks(
        conn,
        conversation,
        queue="cards",
        priority="normal",
        at=ny(2026, 12, 4, 19, 30),
        actor=ROUTING,
    )
    await service.pause_clocks(conn, conversation, at=ny(2026, 12, 4, 19, 45), actor=AGENT)

    await service.customer_wrote(conn, conversation, at=ny(2026, 12, 5, 14), actor=CUSTOMER)

    state, due, used = clock_rows(migrated_db, conversation)["first_response"]
    assert (state, due, used) == ("running", ny(2026, 12, 7, 8, 45), timedelta(minutes=15))


def _with_a_message(url: str, wrote_ago: timedelta) -> UUID:
    conversation = new_conversation(url)
    execute(
        url,
        "INSERT INTO cc_messages (conversation_id, direction, provider, provider_message_id,"
        " from_address, to_address, body_text, created_at)"
        " VALUES (%s, 'inbound', 'twilio', %s, '+15550001', '+15550002', 'hello', now() - %s)",
        (conversation, f"SM{conversation.hex}", wrote_ago),
    )
    return conversation


async def test_the_sweep_heeds_the_last_hours_messages_and_a_first_sweep_all_of_them(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    old = _with_a_message(migrated_db, 90 * timedelta(minutes=1))
    new = _with_a_message(migrated_db, timedelta(minutes=1))
    now = datetime.now(UTC)
    for conversation in (old, new):
        await service.start_clocks(
            conn, conversation, queue="fraud", priority="normal", at=now - 3 * H, actor=ROUTING
        )
        await service.pause_clocks(conn, conversation, at=now - 2 * H, actor=AGENT)

    bounded = await service.heed_customer_messages(conn, actor=ROUTING)

    assert bounded == 1
    assert clock_rows(migrated_db, new)["resolution"][0] == "running"
    assert clock_rows(migrated_db, old)["resolution"][0] == "paused"
    assert await service.heed_customer_messages(conn, actor=ROUTING, within=None) == 1
    assert clock_rows(migrated_db, old)["resolution"][0] == "running"
    assert await service.heed_customer_messages(conn, actor=ROUTING, within=None) == 0


async def test_the_sweeps_scan_reads_the_index_of_recent_messages(
    conn: AsyncConnection[Any],
) -> None:
    await conn.execute("SET enable_seqscan = off")  # an empty table: seen as the planner would
    cursor = await conn.execute(
        "EXPLAIN " + repository._UNHEEDED, {"within": service.HEED_WITHIN, "limit": 500}
    )
    plan = "\n".join(row[0] for row in await cursor.fetchall())

    assert "cc_messages_inbound_created_at_idx" in plan
