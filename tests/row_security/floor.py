"""A contact center's floor for agents' tests: agents of two queues, a supervisor, an admin, a
disabled agent, and a conversation in each queue (with a case, messages, a tool call, an audit
row, preferences and an identity link) and one in none."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from uuid import UUID

import pytest

from switchboard.row_security import AgentClaims
from tests.builders import execute


@dataclass(frozen=True)
class Floor:
    """Agents of two queues, a supervisor, an admin, a disabled agent; a conversation (with a
    case, messages, a tool call and an audit row) in each queue, and one in none."""

    ana: AgentClaims  # agent, fraud
    bo: AgentClaims  # agent, cards; the cards conversation is assigned to him
    sue: AgentClaims  # supervisor, fraud
    root: AgentClaims  # admin, no queue
    gone: AgentClaims  # agent, fraud, disabled
    fraud: UUID
    cards: UUID
    nowhere: UUID
    fraud_case: UUID
    cards_case: UUID


def _agent(
    url: str, email: str, role: str, queues: list[str], status: str = "active"
) -> AgentClaims:
    [(agent_id,)] = execute(
        url,
        "INSERT INTO cc_agents (email, display_name, role, status) VALUES (%s, %s, %s, %s)"
        " RETURNING id",
        (email, email.partition("@")[0], role, status),
    )
    for queue in queues:
        execute(
            url,
            "INSERT INTO cc_agent_queues (agent_id, queue_name) VALUES (%s, %s)",
            (agent_id, queue),
        )
    return AgentClaims(agent_id, role, tuple(queues))


def add_conversation(
    url: str, queue: str | None, assigned_to: UUID | None = None
) -> tuple[UUID, UUID]:
    [(customer,)] = execute(
        url,
        "INSERT INTO cc_bank_customers (customer_ref, full_name, phone) VALUES (%s, 'Zoë', %s)"
        " RETURNING id",
        (f"C-{uuid.uuid4().hex[:8]}", f"+1555{uuid.uuid4().int % 10**7:07d}"),
    )
    [(conversation,)] = execute(
        url,
        "INSERT INTO cc_conversations (bank_customer_id, channel, provider)"
        " VALUES (%s, 'sms', 'twilio') RETURNING id",
        (customer,),
    )
    for n in range(3):
        execute(
            url,
            "INSERT INTO cc_messages (conversation_id, direction, provider, provider_message_id,"
            " from_address, to_address, body_text)"
            " VALUES (%s, 'inbound', 'twilio', %s, '+15550001', '+15550002', %s)",
            (conversation, f"SM{uuid.uuid4().hex}", f"text {n}"),
        )
    execute(
        url,
        "INSERT INTO cc_tool_calls (call_id, tool_call_id, tool_name, conversation_id, answer)"
        " VALUES (%s, %s, 'identify_caller', %s, '{}')",
        (f"call-{uuid.uuid4().hex}", f"tc-{uuid.uuid4().hex}", conversation),
    )
    execute(
        url,
        "INSERT INTO cc_audit_logs (conversation_id, actor_type, actor_id, event_type, success)"
        " VALUES (%s, 'system', 'test', 'test.event', true)",
        (conversation,),
    )
    execute(url, "INSERT INTO cc_comm_preferences (bank_customer_id) VALUES (%s)", (customer,))
    execute(
        url,
        "INSERT INTO cc_identity_links (bank_customer_id, channel, address)"
        " VALUES (%s, 'phone', %s)",
        (customer, f"+1555{uuid.uuid4().int % 10**7:07d}"),
    )
    [(case,)] = execute(
        url,
        "INSERT INTO cc_cases (bank_customer_id, conversation_id, case_type, status)"
        " VALUES (%s, %s, 'cards', 'new') RETURNING id",
        (customer, conversation),
    )
    execute(
        url,
        "INSERT INTO cc_case_notes (case_id, author_type, author_id, body)"
        " VALUES (%s, 'system', 't', 'n')",
        (case,),
    )
    if queue is not None:
        execute(
            url,
            "INSERT INTO cc_assignments (conversation_id, queue_name, assigned_to, state, reason)"
            " VALUES (%s, %s, %s, %s, 'test')",
            (
                conversation,
                queue,
                None if assigned_to is None else str(assigned_to),
                "queued" if assigned_to is None else "active",
            ),
        )
    return conversation, case


@pytest.fixture(name="floor")
def floor_fixture(migrated_db: str) -> Floor:
    url = migrated_db
    ana = _agent(url, "ana@bank.example", "agent", ["fraud"])
    bo = _agent(url, "bo@bank.example", "agent", ["cards"])
    sue = _agent(url, "sue@bank.example", "supervisor", ["fraud"])
    root = _agent(url, "root@bank.example", "admin", [])
    gone = _agent(url, "gone@bank.example", "agent", ["fraud"], status="disabled")
    fraud, fraud_case = add_conversation(url, "fraud")
    cards, cards_case = add_conversation(url, "cards", assigned_to=bo.agent_id)
    nowhere, _ = add_conversation(url, None)
    return Floor(ana, bo, sue, root, gone, fraud, cards, nowhere, fraud_case, cards_case)
