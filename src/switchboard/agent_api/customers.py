"""The customer behind a conversation, as an agent works with them: masked contact details, a
reveal for a stated reason, preferences changed at their request, a one-time code to prove who
is writing."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from switchboard.agent_actions import customer as customers
from switchboard.agent_actions.customer import Contact
from switchboard.agent_api.conversations import CaseOut, claims_of
from switchboard.agent_api.errors import SIGNED_IN, answer
from switchboard.agent_sessions.http import SignedIn
from switchboard.reason_input import MIN_REASON, STATED_REASON
from switchboard.webhooks.common import pool_of

_REASON = STATED_REASON

router = APIRouter(prefix="/api/v1", tags=["customers"])
_CUSTOMER = {
    **SIGNED_IN,
    403: answer(
        "`csrf_failed`, `customer_not_recognised` (nobody is linked to the sender) or "
        "`reveal_not_allowed` (a supervisor, or the right for the queue, is needed)"
    ),
    404: answer("`conversation_not_found`: none, or not in the agent's queues"),
}


class ContactOut(BaseModel):
    channel: str
    address: str

    @classmethod
    def of(cls, contact: Contact) -> ContactOut:
        return cls(channel=contact.channel, address=contact.address)


class PreferencesOut(BaseModel):
    do_not_contact: bool
    allowed_channels: list[str] | None = Field(description="null: every channel")
    timezone: str


class CustomerOut(BaseModel):
    contacts: list[ContactOut] = Field(description="masked")
    preferences: PreferencesOut
    cases: list[CaseOut] = Field(description="theirs the agent may see, newest first")


class RevealIn(BaseModel):
    reason: str = Field(min_length=MIN_REASON, max_length=300, description=_REASON)


class RevealedOut(BaseModel):
    contacts: list[ContactOut]
    visible_until: datetime = Field(description="show them no longer than this")


class PreferencesIn(BaseModel):
    reason: str = Field(
        min_length=MIN_REASON, max_length=300, description=f"what the customer asked; {_REASON}"
    )
    do_not_contact: bool | None = None
    allowed_channels: list[str] | None = Field(None, max_length=4)
    timezone: str | None = Field(None, max_length=64)


class CodeSentOut(BaseModel):
    destination: str = Field(description="masked")
    expires_at: datetime


class CodeIn(BaseModel):
    code: str = Field(min_length=4, max_length=10)


class CodeCheckedOut(BaseModel):
    verified: bool
    attempts_left: int
    reason: str | None


def _preferences_out(found: customers.Preferences) -> PreferencesOut:
    channels = found.allowed_channels
    return PreferencesOut(
        do_not_contact=found.do_not_contact,
        allowed_channels=None if channels is None else sorted(channels),
        timezone=found.timezone,
    )


@router.get(
    "/conversations/{conversation_id}/customer",
    summary="The conversation's customer: contact details masked, preferences",
    responses=_CUSTOMER,
)
async def customer(request: Request, conversation_id: UUID, agent: SignedIn) -> CustomerOut:
    async with pool_of(request).connection() as conn:
        view = await customers.customer_of(conn, claims_of(agent), conversation_id)
    return CustomerOut(
        contacts=[ContactOut.of(c) for c in view.contacts],
        preferences=_preferences_out(view.preferences),
        cases=[CaseOut.of(case) for case in view.cases],
    )


@router.post(
    "/conversations/{conversation_id}/customer/reveal",
    summary="The customer's contact details in full, for 5 minutes, for a stated reason",
    responses=_CUSTOMER,
)
async def reveal(
    request: Request, conversation_id: UUID, body: RevealIn, agent: SignedIn
) -> RevealedOut:
    async with pool_of(request).connection() as conn:
        shown = await customers.reveal_contacts(
            conn, claims_of(agent), conversation_id, reason=body.reason
        )
    return RevealedOut(
        contacts=[ContactOut.of(c) for c in shown.contacts], visible_until=shown.visible_until
    )


@router.patch(
    "/conversations/{conversation_id}/customer/preferences",
    summary="Change the customer's preferences at their request",
    responses=_CUSTOMER,
)
async def change_preferences(
    request: Request, conversation_id: UUID, body: PreferencesIn, agent: SignedIn
) -> PreferencesOut:
    async with pool_of(request).connection() as conn:
        changed = await customers.change_preferences(
            conn, claims_of(agent), conversation_id, reason=body.reason,
            do_not_contact=body.do_not_contact, allowed_channels=body.allowed_channels,
            timezone=body.timezone,
        )  # fmt: skip
    return _preferences_out(changed)


@router.post(
    "/conversations/{conversation_id}/verification",
    summary="Send the customer a one-time code by SMS to the phone on file (step-up)",
    responses={**_CUSTOMER, 429: answer("`otp_rate_limited`: too many codes; retry later")},
)
async def send_code(request: Request, conversation_id: UUID, agent: SignedIn) -> CodeSentOut:
    async with pool_of(request).connection() as conn:
        started = await customers.ask_for_code(
            conn, claims_of(agent), conversation_id, request.app.state.tool_services
        )
    return CodeSentOut(destination=started.destination, expires_at=started.expires_at)


@router.post(
    "/conversations/{conversation_id}/verification/check",
    summary="Check the code the customer gave",
    responses=_CUSTOMER,
)
async def check_code(
    request: Request, conversation_id: UUID, body: CodeIn, agent: SignedIn
) -> CodeCheckedOut:
    async with pool_of(request).connection() as conn:
        checked = await customers.check_code(
            conn, claims_of(agent), conversation_id, body.code, request.app.state.tool_services
        )
    return CodeCheckedOut(
        verified=checked.verified, attempts_left=checked.attempts_left, reason=checked.reason
    )
