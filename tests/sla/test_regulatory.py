"""Regulatory case clocks: Regulation E for disputes, the CFPB's for complaints, from the time
the customer first reported, on the business days of us_federal_business_days."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest
from psycopg import AsyncConnection

from switchboard.audit.models import Actor, ActorType
from switchboard.cases import service as cases
from switchboard.errors import CaseNotFound, InvalidInput
from switchboard.sla import regulatory, service
from tests.builders import execute

pytestmark = pytest.mark.anyio
NEW_YORK = ZoneInfo("America/New_York")
AGENT = Actor(ActorType.AGENT, "agent-7")


def ny(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=NEW_YORK)  # type: ignore[misc]


async def new_case(conn: AsyncConnection[Any], case_type: str, **kw: Any) -> UUID:
    case = await cases.open_case(conn, AGENT, case_type=case_type, summary="Charge", **kw)
    return case.id


def due_times(url: str, case_id: UUID) -> dict[str, tuple[datetime, str, str]]:
    rows = execute(
        url,
        "SELECT metric, due_at, unit, basis FROM cc_sla_clocks WHERE case_id = %s",
        (case_id,),
    )
    return {metric: (due, unit, basis) for metric, due, unit, basis in rows}


async def test_a_dispute_gets_10_business_days_and_45_calendar_days(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    """Reported Thursday 2026-11-19: the 10th business day after is Friday 2026-12-04
    (Thanksgiving is closed); the 45th day after is 2027-01-03. Each ends at midnight."""
    case_id = await new_case(conn, "disputes")

    started = await regulatory.start_case_clocks(
        conn, case_id, actor=AGENT, reported_at=ny(2026, 11, 19, 15, 40)
    )

    assert [c.metric for c in started] == ["reg_e_investigation", "reg_e_resolution"]
    assert due_times(migrated_db, case_id) == {
        "reg_e_investigation": (ny(2026, 12, 5), "business_days", "12 CFR 1005.11(c)(1)"),
        "reg_e_resolution": (ny(2027, 1, 4), "calendar_days", "12 CFR 1005.11(c)(2)"),
    }
    assert execute(
        migrated_db,
        "SELECT actor_type, input_redacted->>'reported_at' FROM cc_audit_logs"
        " WHERE event_type = 'sla.regulatory_clocks_started' AND case_id = %s",
        (case_id,),
    ) == [("agent", ny(2026, 11, 19, 15, 40).isoformat())]


@pytest.mark.parametrize(
    ("flags", "investigation", "resolution"),
    [
        ({"new_account": True}, ny(2026, 12, 19), ny(2027, 2, 18)),
        ({"point_of_sale": True}, ny(2026, 12, 5), ny(2027, 2, 18)),
        ({"foreign_initiated": True}, ny(2026, 12, 5), ny(2027, 2, 18)),
    ],
)
async def test_new_accounts_point_of_sale_and_foreign_transfers_get_the_longer_periods(
    conn: AsyncConnection[Any],
    migrated_db: str,
    flags: dict[str, bool],
    investigation: datetime,
    resolution: datetime,
) -> None:
    """20 business days only for a new account ((c)(3)(i)); 90 days for all three
    ((c)(3)(ii)). 2026-11-19 + 20 business days: Friday 2026-12-18; + 90 days: 2027-02-17."""
    case_id = await new_case(conn, "disputes")

    await regulatory.start_case_clocks(
        conn, case_id, actor=AGENT, reported_at=ny(2026, 11, 19, 15, 40), **flags
    )

    got = due_times(migrated_db, case_id)
    assert got["reg_e_investigation"][0] == investigation
    assert got["reg_e_resolution"][:2] == (resolution, "calendar_days")
    assert got["reg_e_resolution"][2] == "12 CFR 1005.11(c)(3)(ii)"


async def test_a_complaint_gets_the_cfpbs_15_and_60_days(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    case_id = await new_case(conn, "complaints")

    await regulatory.start_case_clocks(conn, case_id, actor=AGENT, reported_at=ny(2026, 10, 20, 9))

    got = due_times(migrated_db, case_id)
    # 15 days end with 2026-11-04, after the clocks went back: midnight EST
    assert got["cfpb_response"][0] == datetime(2026, 11, 5, 5, tzinfo=UTC)
    assert got["cfpb_final_response"][0] == ny(2026, 12, 20)


async def test_the_clocks_may_start_at_a_messages_received_time(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    conversation = execute(
        migrated_db, "INSERT INTO cc_conversations (channel) VALUES ('email') RETURNING id"
    )[0][0]
    message = execute(
        migrated_db,
        "INSERT INTO cc_messages (conversation_id, direction, body_text, created_at)"
        " VALUES (%s, 'inbound', 'I did not make this payment', '2026-11-19T20:40:00Z')"
        " RETURNING id",
        (conversation,),
    )[0][0]
    case_id = await new_case(conn, "disputes", conversation_id=conversation)

    started = await regulatory.start_case_clocks(
        conn, case_id, actor=AGENT, notice_message_id=message
    )

    assert {c.started_at for c in started} == {ny(2026, 11, 19, 15, 40)}
    outbound = execute(
        migrated_db,
        "INSERT INTO cc_messages (conversation_id, direction, body_text)"
        " VALUES (%s, 'outbound', 'We are looking into it') RETURNING id",
        (conversation,),
    )[0][0]
    with pytest.raises(InvalidInput, match="no inbound message"):
        await regulatory.start_case_clocks(
            conn, await new_case(conn, "disputes"), actor=AGENT, notice_message_id=outbound
        )


async def test_starting_twice_starts_nothing_more(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    case_id = await new_case(conn, "disputes")
    await regulatory.start_case_clocks(conn, case_id, actor=AGENT, reported_at=ny(2026, 11, 19, 15))

    again = await regulatory.start_case_clocks(
        conn, case_id, actor=AGENT, reported_at=ny(2026, 11, 20, 15)
    )

    assert again == []
    assert execute(
        migrated_db, "SELECT count(*) FROM cc_sla_clocks WHERE case_id = %s", (case_id,)
    ) == [(2,)]


async def test_refusals(conn: AsyncConnection[Any]) -> None:
    cards = await new_case(conn, "cards")
    with pytest.raises(InvalidInput, match="no regulatory clock"):
        await regulatory.start_case_clocks(conn, cards, actor=AGENT, reported_at=ny(2026, 12, 7))
    dispute = await new_case(conn, "disputes")
    with pytest.raises(InvalidInput, match="first reported"):
        await regulatory.start_case_clocks(conn, dispute, actor=AGENT)
    with pytest.raises(InvalidInput, match="future"):
        await regulatory.start_case_clocks(
            conn, dispute, actor=AGENT, reported_at=datetime.now(UTC) + timedelta(days=1)
        )
    with pytest.raises(CaseNotFound):
        await regulatory.start_case_clocks(
            conn,
            UUID("00000000-0000-4000-8000-000000000000"),
            actor=AGENT,
            reported_at=ny(2026, 12, 7),
        )


async def test_a_met_obligation_fulfils_its_clock_and_a_missed_one_breaches(
    conn: AsyncConnection[Any], migrated_db: str
) -> None:
    case_id = await new_case(conn, "disputes")
    await regulatory.start_case_clocks(conn, case_id, actor=AGENT, reported_at=ny(2026, 11, 19, 15))

    fulfilled = await regulatory.fulfil_case_clock(
        conn, case_id, "reg_e_investigation", at=ny(2026, 12, 1, 12), actor=AGENT
    )
    breached = await service.sweep_breaches(conn, now=ny(2027, 1, 5))

    assert [(c.metric, c.state) for c in fulfilled] == [("reg_e_investigation", "fulfilled")]
    assert breached == 1
    views = {
        v.clock.metric: v for v in await service.case_clocks(conn, case_id, now=ny(2027, 1, 5))
    }
    assert views["reg_e_resolution"].overdue
    assert views["reg_e_investigation"].remaining is None
    with pytest.raises(InvalidInput, match="not a regulatory clock"):
        await regulatory.fulfil_case_clock(
            conn, case_id, "resolution", at=ny(2026, 12, 30), actor=AGENT
        )
