"""The customer behind a conversation, as an agent sees them: contact details masked, revealed
for a stated reason and a few minutes to those allowed; preferences changed at the customer's
request; a one-time code sent to prove who is writing (step-up)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.agent_actions import repository
from switchboard.agent_actions.service import actor_of, seen_by
from switchboard.audit import service as audit
from switchboard.audit.models import ActorType, AuditEntry
from switchboard.auth_sessions import service as auth_sessions
from switchboard.auth_sessions.models import CheckResult, StartResult
from switchboard.cases import service as cases
from switchboard.cases.models import Case
from switchboard.errors import CustomerNotRecognised, InvalidInput, RevealNotAllowed
from switchboard.identities.service import IdentityChannel, linked_addresses
from switchboard.preferences import service as preferences
from switchboard.preferences.models import Preferences

__all__ = ["Contact", "CustomerView", "Preferences", "Revealed"]
from switchboard.privacy import mask_address
from switchboard.reason_input import stated_reason
from switchboard.row_security import AgentClaims, act_as_agent
from switchboard.tools.context import ToolServices

REVEAL_FOR = timedelta(minutes=5)
MAX_CASES_SHOWN = 20
MAX_REASON = 300
# Where an agent's step-up code goes: the customer's phone, never an address typed by anyone.
_CODE_CHANNEL = "sms"


@dataclass(frozen=True)
class Contact:
    channel: str  # phone, email or whatsapp
    address: str  # masked, unless revealed


@dataclass(frozen=True)
class CustomerView:
    bank_customer_id: UUID
    contacts: list[Contact]
    preferences: Preferences
    cases: list[Case]  # those the agent may see, newest first, closed ones included


@dataclass(frozen=True)
class Revealed:
    contacts: list[Contact]
    visible_until: datetime


async def customer_of(
    conn: AsyncConnection[Any], agent: AgentClaims, conversation_id: UUID
) -> CustomerView:
    """The conversation's customer with their contact details masked, their preferences, and
    the cases of theirs the agent may see (row-level security decides which)."""
    async with conn.transaction(), audit.one_record(conn):
        customer = await _customer_seen_by(conn, agent, conversation_id)
        contacts = await _contacts(conn, customer, masked=True)
        found = await preferences.get_preferences(conn, customer)
        await act_as_agent(conn, agent, reading=conversation_id)
        seen_cases = await cases.customer_cases(
            conn, customer, include_closed=True, limit=MAX_CASES_SHOWN
        )
    return CustomerView(customer, contacts, found, seen_cases)


async def reveal_contacts(
    conn: AsyncConnection[Any],
    agent: AgentClaims,
    conversation_id: UUID,
    *,
    reason: str,
    now: datetime | None = None,
) -> Revealed:
    """The customer's contact details in full, for REVEAL_FOR, to a supervisor or admin, or an
    agent given the right for one of the conversation's queues; the reason is audited."""
    stated = stated_reason(reason, max_chars=MAX_REASON)
    when = now or datetime.now(UTC)
    async with conn.transaction(), audit.one_record(conn):
        customer = await _customer_seen_by(conn, agent, conversation_id)
        if not await repository.may_reveal(conn, agent.agent_id, conversation_id):
            raise RevealNotAllowed(
                "revealing contact details needs a supervisor, or the right for this queue",
                hint="ask a supervisor",
            )
        contacts = await _contacts(conn, customer, masked=False)
        await audit.append(
            conn,
            AuditEntry(
                actor_type=ActorType.AGENT,
                actor_id=str(agent.agent_id),
                event_type="customer.contacts_revealed",
                success=True,
                input={"reason": stated},
                output={
                    "contacts": len(contacts),
                    "visible_until": (when + REVEAL_FOR).isoformat(),
                },
                conversation_id=conversation_id,
                bank_customer_id=customer,
            ),
        )
    return Revealed(contacts, when + REVEAL_FOR)


async def change_preferences(
    conn: AsyncConnection[Any],
    agent: AgentClaims,
    conversation_id: UUID,
    *,
    reason: str,
    do_not_contact: bool | None = None,
    allowed_channels: list[str] | None = None,
    timezone: str | None = None,
) -> Preferences:
    """Change what the customer asked to change, recording that they asked, through whom and
    why; what is not given stays as it is."""
    changes: dict[str, Any] = {}
    if do_not_contact is not None:
        changes["do_not_contact"] = do_not_contact
    if allowed_channels is not None:
        changes["allowed_channels"] = allowed_channels
    if timezone is not None:
        changes["timezone"] = timezone
    if not changes:
        raise InvalidInput("nothing to change", hint="do_not_contact, allowed_channels, timezone")
    stated = stated_reason(reason, max_chars=MAX_REASON)
    async with conn.transaction(), audit.one_record(conn):
        customer = await _customer_seen_by(conn, agent, conversation_id)
        return await preferences.set_preferences(
            conn,
            actor_of(agent),
            customer,
            because={
                "asked_by": "customer",
                "conversation_id": conversation_id,
                "reason": stated,
            },
            **changes,
        )


async def ask_for_code(
    conn: AsyncConnection[Any],
    agent: AgentClaims,
    conversation_id: UUID,
    services: ToolServices,
) -> StartResult:
    """Send the customer a one-time code by SMS to their linked phone (step-up started by the
    agent); the level rises once the code is checked (check_code)."""
    async with conn.transaction(), audit.one_record(conn):
        customer = await _customer_seen_by(conn, agent, conversation_id)
        phones = (await linked_addresses(conn, customer))[IdentityChannel.PHONE]
        if not phones:
            raise InvalidInput("the customer has no phone number on file for a code")
        return await auth_sessions.start_verification(
            conn,
            actor_of(agent),
            conversation_id=conversation_id,
            bank_customer_id=customer,
            channel=_CODE_CHANNEL,
            destination=phones[0],
            method=services.settings.otp_method,
            sender=services.send_code,
            verify=services.verify,
            config=services.otp_config(),
            now=services.now(),
        )


async def check_code(
    conn: AsyncConnection[Any],
    agent: AgentClaims,
    conversation_id: UUID,
    code: str,
    services: ToolServices,
) -> CheckResult:
    """Check the code the customer gave the agent."""
    async with conn.transaction(), audit.one_record(conn):
        await _customer_seen_by(conn, agent, conversation_id)
        return await auth_sessions.check_verification(
            conn,
            actor_of(agent),
            conversation_id=conversation_id,
            code=code,
            verify=services.verify,
            config=services.otp_config(),
            now=services.now(),
        )


async def _customer_seen_by(
    conn: AsyncConnection[Any], agent: AgentClaims, conversation_id: UUID
) -> UUID:
    seen = await seen_by(conn, agent, conversation_id)
    if seen.bank_customer_id is None:
        raise CustomerNotRecognised("no customer is linked to this conversation's sender")
    return seen.bank_customer_id


async def _contacts(conn: AsyncConnection[Any], customer: UUID, *, masked: bool) -> list[Contact]:
    linked = await linked_addresses(conn, customer)
    return [
        Contact(str(channel), mask_address(address) if masked else address)
        for channel, addresses in linked.items()
        for address in addresses
    ]
