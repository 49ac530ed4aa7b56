"""The agents' service on a real PostgreSQL: an administrator's changes, audited in their
transaction; input refused clearly."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import pytest
from psycopg import AsyncConnection

from switchboard.agents import service as agents
from switchboard.agents.models import CLI_ACTOR
from switchboard.audit.models import Actor, ActorType
from switchboard.errors import AgentExists, InvalidInput

pytestmark = pytest.mark.anyio


async def test_an_admins_changes_are_audited_as_the_admin(conn: AsyncConnection[Any]) -> None:
    admin = Actor(ActorType.ADMIN, str(uuid4()))

    added = await agents.add_agent(
        conn, admin, email="Ada@Bank.example", display_name="Ada", role="agent", queues=["fraud"]
    )
    changed = await agents.change_queues(
        conn, admin, "ada@bank.example", add=["cards", "loans"], remove=["fraud"]
    )
    await agents.disable_agent(conn, admin, "ada@bank.example")

    assert added.agent.email == "ada@bank.example"
    assert added.agent.capacity == {"voice": 1, "sms": 3, "whatsapp": 3, "email": 5}  # 018's
    assert added.agent.enrolled is False
    assert changed.queues == ["cards", "loans"]
    cursor = await conn.execute(
        "SELECT event_type, actor_type, actor_id, input_redacted->>'agent_id'"
        " FROM cc_audit_logs ORDER BY created_at"
    )
    agent_id = str(added.agent.id)
    assert await cursor.fetchall() == [
        ("agent.added", "admin", admin.id, agent_id),
        ("agent.queues_changed", "admin", admin.id, agent_id),
        ("agent.disabled", "admin", admin.id, agent_id),
    ]


async def test_an_unknown_queue_names_the_queues_that_exist_and_changes_nothing(
    conn: AsyncConnection[Any],
) -> None:
    await agents.add_agent(
        conn, CLI_ACTOR, email="ada@bank.example", display_name="Ada", role="agent"
    )

    with pytest.raises(InvalidInput) as refused:
        await agents.change_queues(conn, CLI_ACTOR, "ada@bank.example", add=["cards", "crypto"])

    assert refused.value.message == "no such queue: crypto"
    assert refused.value.hint == (
        "the queues are: cards, complaints, disputes, fraud, general, loans, payments"
    )
    cursor = await conn.execute("SELECT count(*) FROM cc_agent_queues")
    assert await cursor.fetchone() == (0,)


async def test_an_email_is_unique_whatever_its_case_and_must_look_like_one(
    conn: AsyncConnection[Any],
) -> None:
    await agents.add_agent(
        conn, CLI_ACTOR, email="ada@bank.example", display_name="Ada", role="agent"
    )

    with pytest.raises(AgentExists):
        await agents.add_agent(
            conn, CLI_ACTOR, email="ADA@bank.example", display_name="Ada", role="agent"
        )
    with pytest.raises(InvalidInput):
        await agents.add_agent(conn, CLI_ACTOR, email="ada", display_name="Ada", role="agent")
    cursor = await conn.execute("SELECT count(*) FROM cc_audit_logs")
    assert await cursor.fetchone() == (1,)  # the refused ones left nothing
