"""A conversation as an agent works it: its timeline (messages, tool calls, notes, SLA clocks,
verification level), replies, internal notes and cases."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from switchboard.agent_actions import service as actions
from switchboard.agent_actions.reply_check import reply_verdict
from switchboard.agent_actions.service import RegulatoryNotice
from switchboard.agent_api.errors import SIGNED_IN, answer
from switchboard.agent_sessions.http import SignedIn
from switchboard.agent_sessions.models import SignedInAgent
from switchboard.cases.models import Case
from switchboard.cases.service import next_states
from switchboard.errors import SendRefused
from switchboard.row_security import AgentClaims
from switchboard.sla.models import ClockView
from switchboard.timeline.models import DEFAULT_PAGE, MAX_PAGE
from switchboard.timeline.service import read_timeline
from switchboard.webhooks.common import pool_of, settings_of

_CONVERSATION = {
    **SIGNED_IN,
    404: answer("`conversation_not_found`: none, or not in the agent's queues"),
}
_CASE = {**SIGNED_IN, 404: answer("`case_not_found`: none, or not the agent's to see")}


router = APIRouter(prefix="/api/v1", tags=["conversations"])


def claims_of(agent: SignedInAgent) -> AgentClaims:
    return AgentClaims(agent.agent_id, agent.role, agent.queues)


# --- bodies ---------------------------------------------------------------------------------


class EntryOut(BaseModel):
    kind: str = Field(description="message, tool_call or note")
    id: UUID
    at: datetime
    direction: str | None = None
    provider: str | None = None
    text: str | None = Field(None, description="a message's text, or a note's")
    status: str | None = None
    tool: str | None = None
    outcome: str | None = Field(None, description="a tool call's: ok, or its error code")
    summary: str | None = Field(None, description="a tool call's one-line result or error")
    author: str | None = Field(None, description="a note's author (an agent's id)")


class ClockOut(BaseModel):
    id: UUID
    metric: str
    state: str
    started_at: datetime
    due_at: datetime | None
    breached_at: datetime | None
    fulfilled_at: datetime | None
    seconds_left: float | None = Field(
        description="business seconds left while running or paused (negative once overdue)"
    )
    overdue: bool

    @classmethod
    def of(cls, view: ClockView) -> ClockOut:
        clock = view.clock
        left = view.remaining
        return cls(
            id=clock.id, metric=clock.metric, state=clock.state, started_at=clock.started_at,
            due_at=clock.due_at, breached_at=clock.breached_at, fulfilled_at=clock.fulfilled_at,
            seconds_left=None if left is None else left / timedelta(seconds=1),
            overdue=view.overdue,
        )  # fmt: skip


class TimelineOut(BaseModel):
    conversation_id: UUID
    channel: str
    status: str
    customer_known: bool
    opened_at: datetime
    verification_level: int = Field(description="0 unknown, 1 linked, 2 verified by a code")
    verified_until: datetime | None
    clocks: list[ClockOut]
    entries: list[EntryOut] = Field(description="newest first")
    next_cursor: str | None = Field(description="pass as cursor for older entries; null: none")


class ReplyIn(BaseModel):
    text: str = Field(min_length=1, max_length=1600)
    subject: str | None = Field(None, max_length=200, description="email only, and needed there")
    last_seen_message_id: UUID | None = Field(
        description="the newest message the agent saw (null: there was none); a reply after a "
        "newer one is refused"
    )


class ReplyOut(BaseModel):
    message_id: UUID


class ReplyCheckOut(BaseModel):
    allowed: bool = Field(description="a reply sent now would be queued")
    rule: str | None = Field(
        description="why not: do_not_contact, channel_not_allowed, quiet_hours or cannot_reply"
    )
    detail: str | None
    responding_until: datetime | None = Field(
        description="until then a reply answers the customer's last message and may go out in "
        "quiet hours (docs/agents.md)"
    )


class NoteIn(BaseModel):
    body: str = Field(min_length=1, max_length=4000)


class NoteOut(BaseModel):
    id: UUID


class CaseIn(BaseModel):
    case_type: str = Field(max_length=40)
    summary: str = Field(min_length=1, max_length=500)
    priority: str = Field("normal", max_length=20)
    notice_message_id: UUID | None = Field(
        None,
        description="a dispute's or complaint's: the message that was the customer's notice "
        "(its clocks start at its received time; default: their first message here)",
    )
    new_account: bool = Field(False, description="Regulation E: an account under 30 days old")
    point_of_sale: bool = Field(False, description="Regulation E: a point-of-sale transfer")
    foreign_initiated: bool = Field(False, description="Regulation E: initiated abroad")


class MoveIn(BaseModel):
    to: str = Field(
        max_length=40, description="the next status; only the workflow's next states are legal"
    )


class CaseOut(BaseModel):
    id: UUID
    conversation_id: UUID | None
    case_type: str
    status: str
    priority: str
    summary: str | None
    created_at: datetime
    updated_at: datetime
    next_states: list[str] = Field(description="the moves the workflow allows from its status")

    @classmethod
    def of(cls, case: Case) -> CaseOut:
        return cls(
            id=case.id, conversation_id=case.conversation_id, case_type=case.case_type,
            status=case.status, priority=case.priority, summary=case.summary,
            created_at=case.created_at, updated_at=case.updated_at,
            next_states=next_states(case.status),
        )  # fmt: skip


# --- routes ---------------------------------------------------------------------------------


@router.get(
    "/conversations/{conversation_id}",
    summary="A conversation's timeline, newest first, a page at a time",
    responses=_CONVERSATION,
)
async def timeline(
    request: Request,
    conversation_id: UUID,
    agent: SignedIn,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
) -> TimelineOut:
    async with pool_of(request).connection() as conn:
        read = await read_timeline(
            conn, claims_of(agent), conversation_id, cursor=cursor, limit=limit,
            email_otp_level_2=settings_of(request).email_otp_level_2,
        )  # fmt: skip
    return TimelineOut(
        conversation_id=read.conversation_id,
        channel=read.channel,
        status=read.status,
        customer_known=read.bank_customer_id is not None,
        opened_at=read.opened_at,
        verification_level=int(read.verification.level),
        verified_until=read.verification.expires_at,
        clocks=[ClockOut.of(view) for view in read.clocks],
        entries=[EntryOut(**vars(entry)) for entry in read.entries],
        next_cursor=read.next_cursor,
    )


@router.post(
    "/conversations/{conversation_id}/replies",
    status_code=202,
    summary="Reply to the customer on the conversation's channel (queued for sending)",
    responses={
        **_CONVERSATION,
        409: answer(
            "`reply_stale` (someone wrote since last_seen_message_id), `cannot_reply` (nobody to "
            "write back to) or `send_refused` (the customer's preferences: the rule is named)"
        ),
    },
)
async def reply(
    request: Request, conversation_id: UUID, body: ReplyIn, agent: SignedIn
) -> ReplyOut:
    async with pool_of(request).connection() as conn:
        queued = await actions.reply(
            conn, claims_of(agent), conversation_id, text=body.text, subject=body.subject,
            last_seen_message_id=body.last_seen_message_id,
            outbound=request.app.state.tool_services.outbound,
        )  # fmt: skip
    if not queued.allowed or queued.message_id is None:
        raise SendRefused(f"{queued.rule}: {queued.detail}", hint="the refusal is audited")
    return ReplyOut(message_id=queued.message_id)


@router.get(
    "/conversations/{conversation_id}/reply-check",
    summary="Would a reply sent now go out? The customer's preferences and quiet hours, asked "
    "before writing (the same rule decides when it is sent)",
    responses=_CONVERSATION,
)
async def reply_check(request: Request, conversation_id: UUID, agent: SignedIn) -> ReplyCheckOut:
    async with pool_of(request).connection() as conn:
        verdict = await reply_verdict(conn, claims_of(agent), conversation_id)
    return ReplyCheckOut(
        allowed=verdict.allowed, rule=verdict.rule, detail=verdict.detail,
        responding_until=verdict.responding_until,
    )  # fmt: skip


@router.post(
    "/conversations/{conversation_id}/notes",
    status_code=201,
    summary="An internal note on the conversation (never sent)",
    responses=_CONVERSATION,
)
async def note(request: Request, conversation_id: UUID, body: NoteIn, agent: SignedIn) -> NoteOut:
    async with pool_of(request).connection() as conn:
        note_id = await actions.add_note(conn, claims_of(agent), conversation_id, body.body)
    return NoteOut(id=note_id)


@router.post(
    "/conversations/{conversation_id}/cases",
    status_code=201,
    summary="Open a case for the conversation's customer",
    responses=_CONVERSATION,
)
async def open_case(
    request: Request, conversation_id: UUID, body: CaseIn, agent: SignedIn
) -> CaseOut:
    async with pool_of(request).connection() as conn:
        case = await actions.open_case(
            conn, claims_of(agent), conversation_id, case_type=body.case_type,
            summary=body.summary, priority=body.priority,
            notice=RegulatoryNotice(
                body.notice_message_id, body.new_account, body.point_of_sale,
                body.foreign_initiated,
            ),
        )  # fmt: skip
    return CaseOut.of(case)


@router.post(
    "/cases/{case_id}/moves",
    summary="Move a case to its next status",
    responses={**_CASE, 409: answer("`illegal_case_transition`: the legal next states are named")},
)
async def move_case(request: Request, case_id: UUID, body: MoveIn, agent: SignedIn) -> CaseOut:
    async with pool_of(request).connection() as conn:
        case = await actions.move_case(conn, claims_of(agent), case_id, body.to)
    return CaseOut.of(case)


@router.post("/cases/{case_id}/notes", status_code=201, summary="A note on a case", responses=_CASE)
async def note_case(request: Request, case_id: UUID, body: NoteIn, agent: SignedIn) -> NoteOut:
    async with pool_of(request).connection() as conn:
        note_id = await actions.note_case(conn, claims_of(agent), case_id, body.body)
    return NoteOut(id=note_id)
