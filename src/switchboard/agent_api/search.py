"""Search: a customer or a case by an exact phone number, email address or case reference."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from switchboard.agent_api.conversations import claims_of
from switchboard.agent_api.errors import SIGNED_IN, answer
from switchboard.agent_sessions.http import SignedIn
from switchboard.customer_search import service as searching
from switchboard.errors import ConfigurationError
from switchboard.webhooks.common import pool_of, settings_of

router = APIRouter(prefix="/api/v1", tags=["search"])
_KEY = Query(max_length=searching.MAX_KEY)


class ContactOut(BaseModel):
    channel: str
    address: str = Field(description="masked")


class CustomerOut(BaseModel):
    bank_customer_id: UUID
    contacts: list[ContactOut]


class ConversationOut(BaseModel):
    id: UUID
    bank_customer_id: UUID | None
    channel: str
    status: str
    created_at: datetime
    updated_at: datetime


class CaseOut(BaseModel):
    id: UUID
    bank_customer_id: UUID | None
    conversation_id: UUID | None
    case_type: str
    status: str
    priority: str
    created_at: datetime


class FoundOut(BaseModel):
    customers: list[CustomerOut] = Field(description="empty: no match you may see")
    conversations: list[ConversationOut] = Field(description="newest first, at most 50")
    cases: list[CaseOut] = Field(description="newest first, at most 50")


@router.get(
    "/search",
    summary="A customer or case by exactly one whole key: phone, email or case",
    responses={
        **SIGNED_IN,
        422: answer("`invalid_input`: not exactly one key, or one not whole (a fragment, a "
                    "wildcard, too short)"),
        429: answer("`search_rate_limited`: more than 30 searches a minute; wait Retry-After"),
    },
)  # fmt: skip
async def search(
    request: Request,
    agent: SignedIn,
    phone: Annotated[str | None, _KEY] = None,
    email: Annotated[str | None, _KEY] = None,
    case: Annotated[str | None, _KEY] = None,
) -> FoundOut:
    settings = settings_of(request)
    key = searching.search_key(
        phone=phone, email=email, case=case, region=settings.default_phone_region
    )
    secret = searching.search_secret(settings.switchboard_secret_key)
    if secret is None:  # agents cannot sign in without it either
        raise ConfigurationError("SWITCHBOARD_SECRET_KEY is not set")
    async with pool_of(request).connection() as conn:
        found = await searching.search(conn, claims_of(agent), key, secret=secret)
    return FoundOut(
        customers=[
            CustomerOut(
                bank_customer_id=c.bank_customer_id,
                contacts=[ContactOut(channel=k.channel, address=k.address) for k in c.contacts],
            )
            for c in found.customers
        ],
        conversations=[ConversationOut(**vars(c)) for c in found.conversations],
        cases=[CaseOut(**vars(c)) for c in found.cases],
    )
