"""The customer behind a conversation as an agent sees them: masked, revealed only to those
allowed and audited, preferences changed at their request, a code sent to their phone."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from psycopg import AsyncConnection

from switchboard.agent_actions import customer
from switchboard.assignments import service as assignments
from switchboard.errors import ConversationNotFound, InvalidInput, RevealNotAllowed
from switchboard.metrics import Metrics
from switchboard.outbound.config import outbound_for
from switchboard.privacy import MASK
from switchboard.tools.context import ToolServices, tool_services
from tests.builders import execute
from tests.outbound.conftest import make_settings
from tests.row_security.floor import Floor, floor_fixture  # noqa: F401 (a fixture)

pytestmark = pytest.mark.anyio


@pytest.fixture
async def services(tmp_path: Path) -> AsyncIterator[ToolServices]:
    settings = make_settings(tmp_path, OUTBOUND_PROVIDER="sandbox")
    with outbound_for(settings) as outbound:
        async with tool_services(settings, outbound, Metrics()) as built:
            yield built


def _phone(url: str, floor: Floor) -> str:
    [(phone,)] = execute(
        url,
        "SELECT l.address FROM cc_identity_links AS l"
        " JOIN cc_conversations AS c ON c.bank_customer_id = l.bank_customer_id"
        " WHERE c.id = %s",
        (floor.fraud,),
    )
    return str(phone)


def _reveals(url: str) -> list[tuple[Any, ...]]:
    return execute(
        url,
        "SELECT actor_id, input_redacted->>'reason' FROM cc_audit_logs"
        " WHERE event_type = 'customer.contacts_revealed'",
    )


async def test_contact_details_are_masked_by_default(
    conn: AsyncConnection[Any], floor: Floor, migrated_db: str
) -> None:
    view = await customer.customer_of(conn, floor.ana, floor.fraud)

    [contact] = view.contacts
    assert contact.channel == "phone"
    assert MASK in contact.address
    assert contact.address != _phone(migrated_db, floor)
    assert contact.address[-4:] == _phone(migrated_db, floor)[-4:]


async def test_only_a_supervisor_or_an_agent_given_the_right_reveals_and_each_is_audited(
    conn: AsyncConnection[Any], floor: Floor, migrated_db: str
) -> None:
    with pytest.raises(RevealNotAllowed):
        await customer.reveal_contacts(conn, floor.ana, floor.fraud, reason="caller asks")
    assert _reveals(migrated_db) == []

    revealed = await customer.reveal_contacts(
        conn, floor.sue, floor.fraud, reason="confirm the number on file"
    )
    execute(
        migrated_db,
        "UPDATE cc_agent_queues SET may_reveal = true WHERE agent_id = %s",
        (floor.ana.agent_id,),
    )
    by_agent = await customer.reveal_contacts(
        conn, floor.ana, floor.fraud, reason="send the replacement card"
    )

    assert [c.address for c in revealed.contacts] == [_phone(migrated_db, floor)]
    assert [c.address for c in by_agent.contacts] == [_phone(migrated_db, floor)]
    assert _reveals(migrated_db) == [
        (str(floor.sue.agent_id), "confirm the number on file"),
        (str(floor.ana.agent_id), "send the replacement card"),
    ]


async def test_a_reveal_needs_a_reason_and_a_conversation_the_agent_may_see(
    conn: AsyncConnection[Any], floor: Floor
) -> None:
    with pytest.raises(InvalidInput, match="why"):
        await customer.reveal_contacts(conn, floor.sue, floor.fraud, reason=" ")
    with pytest.raises(ConversationNotFound):
        await customer.reveal_contacts(conn, floor.sue, floor.cards, reason="just looking")


async def test_preferences_change_at_the_customers_request_recorded_as_such(
    conn: AsyncConnection[Any], floor: Floor, migrated_db: str
) -> None:
    changed = await customer.change_preferences(
        conn, floor.ana, floor.fraud, reason="asked on the phone", do_not_contact=True
    )

    assert changed.do_not_contact
    assert execute(
        migrated_db,
        "SELECT actor_type, actor_id, input_redacted->>'asked_by' FROM cc_audit_logs"
        " WHERE event_type = 'preferences.updated'",
    ) == [("agent", str(floor.ana.agent_id), "customer")]
    with pytest.raises(ConversationNotFound):
        await customer.change_preferences(
            conn, floor.ana, floor.cards, reason="asked on the phone", do_not_contact=True
        )


@pytest.mark.parametrize(
    "reason", ["x", "ok", "  customer  ", "..........", "-- -- -- --", "a. b. c. d."]
)
async def test_lifting_an_opt_out_needs_a_reason_that_says_something(
    conn: AsyncConnection[Any], floor: Floor, migrated_db: str, reason: str
) -> None:
    execute(
        migrated_db,
        "UPDATE cc_comm_preferences SET do_not_contact = true"
        " WHERE bank_customer_id = (SELECT bank_customer_id FROM cc_conversations WHERE id = %s)",
        (floor.fraud,),
    )

    with pytest.raises(InvalidInput, match="at least 10 characters"):
        await customer.change_preferences(
            conn, floor.ana, floor.fraud, reason=reason, do_not_contact=False
        )

    assert execute(
        migrated_db,
        "SELECT p.do_not_contact FROM cc_comm_preferences AS p"
        " JOIN cc_conversations AS c ON c.bank_customer_id = p.bank_customer_id WHERE c.id = %s",
        (floor.fraud,),
    ) == [(True,)]
    assert execute(
        migrated_db, "SELECT count(*) FROM cc_audit_logs WHERE event_type = 'preferences.updated'"
    ) == [(0,)]


async def test_the_other_reasons_are_held_to_the_same_rule(
    conn: AsyncConnection[Any], floor: Floor
) -> None:
    with pytest.raises(InvalidInput, match="at least 10 characters"):
        await customer.reveal_contacts(conn, floor.sue, floor.fraud, reason="why not")
    with pytest.raises(InvalidInput, match="at least 10 characters"):
        await assignments.transfer(
            conn, floor.ana.agent_id, uuid4(), queue="cards", reason="........."
        )


async def test_a_step_up_code_goes_to_the_phone_on_file_and_raises_the_level(
    conn: AsyncConnection[Any], floor: Floor, migrated_db: str, services: ToolServices
) -> None:
    started = await customer.ask_for_code(conn, floor.ana, floor.fraud, services)
    [(sealed_args,)] = execute(
        migrated_db, "SELECT args::text FROM procrastinate_jobs ORDER BY id DESC LIMIT 1"
    )

    assert started.destination[-4:] == _phone(migrated_db, floor)[-4:]
    assert "sealed:" in sealed_args  # the code travels sealed, never in clear
    wrong = await customer.check_code(conn, floor.ana, floor.fraud, "000000", services)
    assert not wrong.verified


async def test_a_transfer_does_not_stretch_an_agents_right_to_reveal(
    conn: AsyncConnection[Any], floor: Floor, migrated_db: str
) -> None:
    execute(
        migrated_db,
        "INSERT INTO cc_agent_queues (agent_id, queue_name, may_reveal) VALUES (%s, 'cards', true)",
        (floor.ana.agent_id,),
    )
    [(item,)] = execute(
        migrated_db,
        "UPDATE cc_assignments SET state = 'active', assigned_to = %s, accepted_at = now()"
        " WHERE conversation_id = %s RETURNING id",
        (str(floor.ana.agent_id), floor.fraud),
    )
    await assignments.transfer(
        conn, floor.ana.agent_id, item, queue="cards", reason="wrong queue, says the agent"
    )

    with pytest.raises(RevealNotAllowed):
        await customer.reveal_contacts(conn, floor.ana, floor.fraud, reason="just to see it")
