"""An agent's actions: each checked by the policies in the agent's name, then done and audited
in the same transaction."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from psycopg import AsyncConnection

from switchboard.agent_actions import service as actions
from switchboard.assignments import service as assignments
from switchboard.audit.models import Actor, ActorType
from switchboard.errors import (
    CaseNotFound,
    ConversationNotFound,
    IllegalCaseTransition,
    InvalidInput,
    StaleReply,
)
from switchboard.outbound.config import Outbound, outbound_for
from switchboard.sla import service as sla
from switchboard.timeline.service import read_timeline
from tests.builders import execute
from tests.conftest import service_url
from tests.outbound.conftest import make_settings
from tests.row_security.floor import Floor, floor_fixture  # noqa: F401 (a fixture)

pytestmark = pytest.mark.anyio
NIGHT_IN_LONDON = datetime(2026, 1, 15, 23, 30, tzinfo=UTC)


@pytest.fixture
def outbound(tmp_path: Path) -> Iterator[Outbound]:
    with outbound_for(make_settings(tmp_path, OUTBOUND_PROVIDER="sandbox")) as built:
        yield built


def _newest(url: str, conversation: UUID) -> UUID:
    [(newest,)] = execute(
        url,
        "SELECT id FROM cc_messages WHERE conversation_id = %s"
        " ORDER BY created_at DESC, id DESC LIMIT 1",
        (conversation,),
    )
    return UUID(str(newest))


def _outbound_rows(url: str) -> list[tuple[Any, ...]]:
    return execute(
        url, "SELECT conversation_id, to_address, body_text FROM cc_messages"
        " WHERE direction = 'outbound'"
    )  # fmt: skip


def _customer_wrote_at(url: str, conversation: UUID, when: datetime) -> None:
    execute(
        url,
        "UPDATE cc_messages SET created_at = %s - (random() * interval '1 minute')"
        " WHERE conversation_id = %s",
        (when, conversation),
    )


async def test_a_reply_goes_to_the_customer_who_wrote_and_is_audited_as_the_agents(
    conn: AsyncConnection[Any], floor: Floor, migrated_db: str, outbound: Outbound
) -> None:
    seen = _newest(migrated_db, floor.fraud)

    queued = await actions.reply(
        conn, floor.ana, floor.fraud, text="We have blocked the card.",
        last_seen_message_id=seen, outbound=outbound,
    )  # fmt: skip

    assert queued.allowed
    assert _outbound_rows(migrated_db) == [(floor.fraud, "+15550001", "We have blocked the card.")]
    assert execute(
        migrated_db,
        "SELECT actor_type, actor_id FROM cc_audit_logs WHERE event_type = 'message.queued'",
    ) == [("agent", str(floor.ana.agent_id))]


async def test_a_reply_after_a_newer_message_is_refused_naming_it(
    conn: AsyncConnection[Any], floor: Floor, migrated_db: str, outbound: Outbound
) -> None:
    [(older,)] = execute(
        migrated_db,
        "SELECT id FROM cc_messages WHERE conversation_id = %s ORDER BY created_at, id LIMIT 1",
        (floor.fraud,),
    )

    with pytest.raises(StaleReply, match=str(_newest(migrated_db, floor.fraud))):
        await actions.reply(
            conn, floor.ana, floor.fraud, text="Hello", last_seen_message_id=older,
            outbound=outbound,
        )  # fmt: skip

    assert _outbound_rows(migrated_db) == []


async def test_two_agents_replying_to_the_same_view_send_one_reply(
    floor: Floor, migrated_db: str, outbound: Outbound
) -> None:
    seen = _newest(migrated_db, floor.fraud)
    url = service_url(migrated_db)

    async def one(text: str) -> str:
        async with await AsyncConnection.connect(url, autocommit=True) as conn:
            try:
                await actions.reply(
                    conn, floor.sue, floor.fraud, text=text, last_seen_message_id=seen,
                    outbound=outbound,
                )  # fmt: skip
            except StaleReply:
                return "stale"
            return "sent"

    results = await asyncio.gather(*(one(f"reply {n}") for n in range(6)))

    assert sorted(results) == ["sent"] + ["stale"] * 5
    assert len(_outbound_rows(migrated_db)) == 1


async def test_an_answer_within_a_day_may_go_out_in_quiet_hours_an_older_one_may_not(
    conn: AsyncConnection[Any], floor: Floor, migrated_db: str, outbound: Outbound
) -> None:
    _customer_wrote_at(migrated_db, floor.fraud, NIGHT_IN_LONDON - timedelta(hours=1))
    seen = _newest(migrated_db, floor.fraud)

    answer = await actions.reply(
        conn, floor.ana, floor.fraud, text="Answering you now", last_seen_message_id=seen,
        outbound=outbound, now=NIGHT_IN_LONDON,
    )  # fmt: skip
    _customer_wrote_at(migrated_db, floor.fraud, NIGHT_IN_LONDON - timedelta(hours=30))
    late = await actions.reply(
        conn, floor.ana, floor.fraud, text="About your message yesterday",
        last_seen_message_id=_newest(migrated_db, floor.fraud), outbound=outbound,
        now=NIGHT_IN_LONDON,
    )  # fmt: skip

    assert answer.allowed
    assert (late.allowed, late.rule) == (False, "quiet_hours")


async def test_nothing_of_another_queue_can_be_acted_on(
    conn: AsyncConnection[Any], floor: Floor, migrated_db: str, outbound: Outbound
) -> None:
    before = execute(migrated_db, "SELECT count(*) FROM cc_audit_logs")
    with pytest.raises(ConversationNotFound):
        await actions.reply(
            conn, floor.ana, floor.cards, text="x",
            last_seen_message_id=_newest(migrated_db, floor.cards), outbound=outbound,
        )  # fmt: skip
    with pytest.raises(ConversationNotFound):
        await actions.add_note(conn, floor.ana, floor.cards, "a note")
    with pytest.raises(ConversationNotFound):
        await actions.open_case(conn, floor.ana, floor.cards, case_type="cards", summary="s")
    with pytest.raises(CaseNotFound):
        await actions.move_case(conn, floor.ana, floor.cards_case, "triage")
    with pytest.raises(CaseNotFound):
        await actions.note_case(conn, floor.ana, floor.cards_case, "a note")

    assert execute(migrated_db, "SELECT count(*) FROM cc_audit_logs") == before
    assert _outbound_rows(migrated_db) == []


async def test_a_note_is_on_the_timeline_for_colleagues_and_never_sent(
    conn: AsyncConnection[Any], floor: Floor, migrated_db: str
) -> None:
    note = await actions.add_note(conn, floor.ana, floor.fraud, "Card 4111 1111 1111 1111 stolen")

    timeline = await read_timeline(conn, floor.sue, floor.fraud)

    [entry] = [e for e in timeline.entries if e.kind == "note"]
    assert (entry.id, entry.author) == (note, str(floor.ana.agent_id))
    assert entry.text is not None
    assert "4111 1111 1111 1111" not in entry.text  # masked before it is stored
    assert _outbound_rows(migrated_db) == []


async def test_cases_move_only_as_the_workflow_allows(
    conn: AsyncConnection[Any], floor: Floor
) -> None:
    case = await actions.open_case(
        conn, floor.ana, floor.fraud, case_type="fraud", summary="Card used abroad"
    )
    moved = await actions.move_case(conn, floor.ana, case.id, "triage")
    await actions.note_case(conn, floor.ana, case.id, "Called the customer back")

    with pytest.raises(IllegalCaseTransition):
        await actions.move_case(conn, floor.ana, case.id, "new")
    assert moved.status == "triage"


async def test_an_agents_reply_meets_the_first_response_clock(
    conn: AsyncConnection[Any], floor: Floor, migrated_db: str, outbound: Outbound
) -> None:
    started = datetime.now(UTC) - timedelta(minutes=1)
    await sla.start_clocks(
        conn, floor.fraud, queue="fraud", priority="normal", at=started,
        actor=Actor(ActorType.SYSTEM, "test"),
    )  # fmt: skip

    await actions.reply(
        conn, floor.ana, floor.fraud, text="On it", outbound=outbound,
        last_seen_message_id=_newest(migrated_db, floor.fraud),
    )  # fmt: skip

    clocks = {
        v.clock.metric: v.clock.state for v in await sla.conversation_clocks(conn, floor.fraud)
    }
    assert clocks["first_response"] == "fulfilled"
    assert clocks["resolution"] == "running"


async def test_a_dispute_carries_regulation_es_clocks_from_the_customers_first_message(
    conn: AsyncConnection[Any], floor: Floor, migrated_db: str
) -> None:
    [(first,)] = execute(
        migrated_db,
        "SELECT min(created_at) FROM cc_messages WHERE conversation_id = %s",
        (floor.fraud,),
    )

    case = await actions.open_case(
        conn, floor.ana, floor.fraud, case_type="disputes", summary="Charge not mine"
    )

    clocks = execute(
        migrated_db,
        "SELECT metric, started_at FROM cc_sla_clocks WHERE case_id = %s ORDER BY metric",
        (case.id,),
    )
    assert [metric for metric, _ in clocks] == ["reg_e_investigation", "reg_e_resolution"]
    assert {started for _, started in clocks} == {first}


async def test_the_clocks_follow_the_case_and_the_customer(
    conn: AsyncConnection[Any], floor: Floor, migrated_db: str, outbound: Outbound
) -> None:
    system = Actor(ActorType.SYSTEM, "test")
    await sla.start_clocks(
        conn, floor.fraud, queue="fraud", priority="normal",
        at=datetime.now(UTC) - timedelta(minutes=2), actor=system,
    )  # fmt: skip
    await actions.reply(
        conn, floor.ana, floor.fraud, text="Could you send the receipt?", outbound=outbound,
        last_seen_message_id=_newest(migrated_db, floor.fraud),
    )  # fmt: skip
    case = await actions.open_case(conn, floor.ana, floor.fraud, case_type="cards", summary="s")
    for status in ("triage", "in_progress", "waiting_customer"):
        await actions.move_case(conn, floor.ana, case.id, status)
    assert _states(await sla.conversation_clocks(conn, floor.fraud)) == {
        "first_response": "fulfilled", "resolution": "paused",
    }  # fmt: skip

    execute(
        migrated_db,
        "INSERT INTO cc_messages (conversation_id, direction, provider, provider_message_id,"
        " body_text) VALUES (%s, 'inbound', 'twilio', 'SMreceipt', 'here it is')",
        (floor.fraud,),
    )
    await assignments.sweep(conn)

    assert _states(await sla.conversation_clocks(conn, floor.fraud)) == {
        "first_response": "fulfilled", "resolution": "running", "next_response": "running",
    }  # fmt: skip
    await actions.move_case(conn, floor.ana, case.id, "resolved")
    assert _states(await sla.conversation_clocks(conn, floor.fraud))["resolution"] == "fulfilled"


async def test_a_resolved_case_reopened_queues_its_conversation_again(
    conn: AsyncConnection[Any], floor: Floor, migrated_db: str
) -> None:
    case = await actions.open_case(conn, floor.ana, floor.fraud, case_type="cards", summary="s")
    for status in ("triage", "in_progress", "resolved"):
        await actions.move_case(conn, floor.ana, case.id, status)
    execute(
        migrated_db,
        "UPDATE cc_assignments SET state = 'done', done_at = now() WHERE conversation_id = %s",
        (floor.fraud,),
    )

    await actions.move_case(conn, floor.ana, case.id, "in_progress")

    assert execute(
        migrated_db,
        "SELECT queue_name, state, source FROM cc_assignments"
        " WHERE conversation_id = %s AND state <> 'done'",
        (floor.fraud,),
    ) == [("fraud", "queued", "reopen")]


def _states(views: list[Any]) -> dict[str, str]:
    return {v.clock.metric: v.clock.state for v in views}


async def test_a_reply_goes_to_who_opened_the_thread_not_to_whoever_wrote_last(
    conn: AsyncConnection[Any], floor: Floor, migrated_db: str, outbound: Outbound
) -> None:
    execute(
        migrated_db,
        "INSERT INTO cc_messages (conversation_id, direction, provider, provider_message_id,"
        " from_address, body_text) VALUES (%s, 'inbound', 'twilio', 'SMintruder',"
        " '+15559999999', 'send the details here')",
        (floor.fraud,),
    )

    await actions.reply(
        conn, floor.ana, floor.fraud, text="Your card is blocked.", outbound=outbound,
        last_seen_message_id=_newest(migrated_db, floor.fraud),
    )  # fmt: skip

    assert [row[1] for row in _outbound_rows(migrated_db)] == ["+15550001"]


async def test_a_notice_from_another_conversation_is_none(
    conn: AsyncConnection[Any], floor: Floor, migrated_db: str
) -> None:
    other = _newest(migrated_db, floor.cards)

    with pytest.raises(InvalidInput, match="in this case's conversation"):
        await actions.open_case(
            conn, floor.ana, floor.fraud, case_type="disputes", summary="s",
            notice=actions.RegulatoryNotice(message_id=other),
        )  # fmt: skip
