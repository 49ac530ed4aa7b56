"""A supervisor's API: the figures of their queues, a queue's live items, recent SLA breaches,
and the two moves a supervisor makes on an item (reassign, take over). Agents are answered 403
`supervisor_only`; an item or queue outside the supervisor's queues, 404."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel, Field

from switchboard.agent_api.conversations import claims_of
from switchboard.agent_api.errors import SIGNED_IN, answer
from switchboard.agent_api.work import AssignmentOut
from switchboard.agent_sessions.http import SignedIn
from switchboard.assignments import service as assignments
from switchboard.reason_input import MIN_REASON, STATED_REASON
from switchboard.supervision import service as supervision
from switchboard.supervision.models import AgentLoad, Breach, QueueFigures, QueueItem
from switchboard.webhooks.common import pool_of

router = APIRouter(prefix="/api/v1", tags=["supervision"])
_SUPERVISOR = {
    **SIGNED_IN,
    403: answer("`csrf_failed`, or `supervisor_only`: an agent's role may not"),
}
_QUEUE = {**_SUPERVISOR, 404: answer("`queue_not_found`: none, or not one you supervise")}
_MOVE = {
    **_SUPERVISOR,
    404: answer("`assignment_not_found`: none, or not in a queue you supervise"),
    409: answer(
        "`stale_assignment` (changed since `version`), `illegal_assignment_move` (not from its "
        "state: wrap-up, done and cancelled items stay), or `agent_cannot_take_work` (why: not "
        "available, not in the queue, at capacity in the item's channel, holds it already)"
    ),
}


class AgentLoadOut(BaseModel):
    agent_id: UUID
    display_name: str
    role: str
    presence: str
    presence_changed_at: datetime
    capacity: dict[str, int] = Field(description="live items the agent may hold, per channel")
    load: dict[str, int] = Field(description="live items held now, per channel, in any queue")

    @classmethod
    def of(cls, agent: AgentLoad) -> AgentLoadOut:
        return cls(**vars(agent))


class QueueOut(BaseModel):
    queue: str
    display_name: str
    time_zone: str = Field(description="the queue calendar's: today is its local day")
    day_started_at: datetime = Field(description="local midnight today, in that zone")
    as_of: datetime = Field(description="when these figures were read")
    queued: int = Field(description="depth: items waiting for anyone")
    offered: int
    active: int
    wrap_up: int
    oldest_enqueued_at: datetime | None
    oldest_wait_seconds: float | None = Field(
        description="as_of minus the oldest queued item's time in the queue; null: none queued"
    )
    escalated_waiting: int = Field(description="queued items that reached the queue's max offers")
    met_today: int = Field(description="SLA clocks of the queue fulfilled on time today")
    breached_today: int = Field(description="SLA clocks of the queue whose due time passed today")
    attainment_today: float | None = Field(
        description="met_today / (met_today + breached_today); null when nothing was due"
    )
    agents: list[AgentLoadOut]

    @classmethod
    def of(cls, figures: QueueFigures) -> QueueOut:
        fields = {k: v for k, v in vars(figures).items() if k != "agents"}
        return cls(
            **fields,
            attainment_today=figures.attainment_today,
            agents=[AgentLoadOut.of(a) for a in figures.agents],
        )


class QueuesOut(BaseModel):
    queues: list[QueueOut]


class ClockDueOut(BaseModel):
    metric: str
    state: str = Field(description="running or paused")
    due_at: datetime | None = Field(description="null while paused")
    overdue: bool


class QueueItemOut(BaseModel):
    id: UUID
    conversation_id: UUID | None
    case_id: UUID | None
    state: str
    channel: str | None
    priority: int
    assigned_to: str | None = Field(description="the holder's agent id")
    enqueued_at: datetime
    offer_expires_at: datetime | None
    offer_count: int
    escalated_at: datetime | None
    source: str | None
    reason: str | None
    version: int = Field(description="send it back with reassign or take-over")
    clocks: list[ClockDueOut] = Field(description="the conversation's live SLA clocks")

    @classmethod
    def of(cls, item: QueueItem) -> QueueItemOut:
        fields = {k: v for k, v in vars(item).items() if k != "clocks"}
        return cls(**fields, clocks=[ClockDueOut(**vars(c)) for c in item.clocks])


class ItemsOut(BaseModel):
    items: list[QueueItemOut] = Field(description="oldest first")
    next_cursor: str | None = Field(description="pass as cursor for the next page; null: none")


class BreachOut(BaseModel):
    clock_id: UUID
    conversation_id: UUID | None
    case_id: UUID | None
    queue: str | None = Field(description="the queue whose policy set the target (null: a case's)")
    metric: str
    priority: str | None
    due_at: datetime | None
    breached_at: datetime
    fulfilled_at: datetime | None = Field(description="met late, when it was")

    @classmethod
    def of(cls, breach: Breach) -> BreachOut:
        return cls(**vars(breach))


class BreachesOut(BaseModel):
    breaches: list[BreachOut] = Field(description="newest first")


class ReassignIn(BaseModel):
    agent_id: UUID
    reason: str = Field(min_length=MIN_REASON, max_length=500, description=STATED_REASON)
    version: int


class TakeOverIn(BaseModel):
    reason: str = Field(min_length=MIN_REASON, max_length=500, description=STATED_REASON)
    version: int


@router.get("/queues", summary="Your queues' figures now (admins: all)", responses=_SUPERVISOR)
async def queues(request: Request, agent: SignedIn) -> QueuesOut:
    async with pool_of(request).connection() as conn:
        found = await supervision.queue_figures(conn, claims_of(agent))
    return QueuesOut(queues=[QueueOut.of(f) for f in found])


@router.get(
    "/queues/{queue}/items",
    summary="A queue's live items, oldest first, a page at a time",
    responses=_QUEUE,
)
async def queue_items(
    request: Request,
    queue: Annotated[str, Path(max_length=63)],
    agent: SignedIn,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=supervision.MAX_PAGE)] = supervision.DEFAULT_PAGE,
) -> ItemsOut:
    async with pool_of(request).connection() as conn:
        page = await supervision.queue_items(
            conn, claims_of(agent), queue, cursor=cursor, limit=limit
        )
    return ItemsOut(items=[QueueItemOut.of(i) for i in page.items], next_cursor=page.next_cursor)


@router.get("/breaches", summary="SLA breaches in your queues since a time", responses=_SUPERVISOR)
async def breaches(
    request: Request,
    agent: SignedIn,
    since: Annotated[
        datetime | None, Query(description="with a time zone; default: 24 hours ago")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=supervision.MAX_BREACHES)] = 100,
) -> BreachesOut:
    async with pool_of(request).connection() as conn:
        found = await supervision.breaches(conn, claims_of(agent), since=since, limit=limit)
    return BreachesOut(breaches=[BreachOut.of(b) for b in found])


@router.post(
    "/assignments/{assignment_id}/reassign",
    summary="Offer the item to another agent of its queue (they accept or decline)",
    responses=_MOVE,
)
async def reassign(
    request: Request, assignment_id: UUID, body: ReassignIn, agent: SignedIn
) -> AssignmentOut:
    async with pool_of(request).connection() as conn:
        item = await assignments.reassign(
            conn, claims_of(agent), assignment_id, agent_id=body.agent_id, reason=body.reason,
            version=body.version,
        )  # fmt: skip
    return AssignmentOut.of(item)


@router.post(
    "/assignments/{assignment_id}/take-over",
    summary="Hold the item yourself, active",
    responses=_MOVE,
)
async def take_over(
    request: Request, assignment_id: UUID, body: TakeOverIn, agent: SignedIn
) -> AssignmentOut:
    async with pool_of(request).connection() as conn:
        item = await assignments.take_over(
            conn, claims_of(agent), assignment_id, reason=body.reason, version=body.version
        )
    return AssignmentOut.of(item)
