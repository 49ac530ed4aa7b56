"""An agent's work: what they hold and are offered, taking the next item, answering an offer,
wrapping up, finishing, transferring; and their presence."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from switchboard.agent_api.conversations import claims_of
from switchboard.agent_api.errors import SIGNED_IN, answer
from switchboard.agent_sessions.http import SignedIn
from switchboard.assignments import service as assignments
from switchboard.assignments.models import Assignment
from switchboard.reason_input import MIN_REASON, STATED_REASON
from switchboard.webhooks.common import pool_of

router = APIRouter(prefix="/api/v1", tags=["work"])
# accept, decline, wrap_up, finish: (conn, agent id, assignment id, *, version) -> the item
HolderMove = Callable[..., Awaitable[Assignment]]
_MOVE: dict[int | str, dict[str, Any]] = {
    **SIGNED_IN,
    404: answer("`assignment_not_found`: none, or not the agent's"),
    409: answer(
        "`illegal_assignment_move` (not from its state: the legal moves are named) or "
        "`stale_assignment` (changed since `version`)"
    ),
}


class AssignmentOut(BaseModel):
    id: UUID
    conversation_id: UUID | None
    case_id: UUID | None
    queue: str
    state: str
    channel: str | None
    priority: int
    enqueued_at: datetime | None
    offer_expires_at: datetime | None
    accepted_at: datetime | None
    reason: str | None = Field(description="why it was handed over (the assistant's reason)")
    assurance_level: int | None = Field(description="the caller's level at the handoff")
    version: int = Field(description="send it back with a move: a move on a stale view is refused")

    @classmethod
    def of(cls, item: Assignment) -> AssignmentOut:
        return cls(
            id=item.id, conversation_id=item.conversation_id, case_id=item.case_id,
            queue=item.queue_name, state=item.state, channel=item.channel,
            priority=item.priority, enqueued_at=item.enqueued_at,
            offer_expires_at=item.offer_expires_at, accepted_at=item.accepted_at,
            reason=item.reason, assurance_level=item.assurance_level, version=item.version,
        )  # fmt: skip


class ResponseDueOut(BaseModel):
    metric: str = Field(description="first_response or next_response")
    state: str = Field(description="running, or paused while the customer is awaited")
    due_at: datetime | None


class HeldOut(AssignmentOut):
    response: ResponseDueOut | None = Field(
        description="the conversation's response clock, while one runs or is paused"
    )


class WorkOut(BaseModel):
    presence: str
    waiting: dict[str, int] = Field(
        description="items not yet taken (queued or offered) in each of the agent's queues"
    )
    offers: list[HeldOut]
    work: list[HeldOut] = Field(description="active and in wrap-up")


class MoveIn(BaseModel):
    version: int | None = Field(None, description="the version the agent saw, if any")


class TransferIn(BaseModel):
    queue: str = Field(max_length=63)
    reason: str = Field(min_length=MIN_REASON, max_length=500, description=STATED_REASON)
    version: int | None = None


class PresenceIn(BaseModel):
    presence: str = Field(max_length=20, description="available, away or offline")


class PresenceOut(BaseModel):
    presence: str


@router.get("/work", summary="The agent's offers and work", responses=SIGNED_IN)
async def work(request: Request, agent: SignedIn) -> WorkOut:
    async with pool_of(request).connection() as conn:
        held = await assignments.work_of(conn, claims_of(agent))

    def out(item: Assignment) -> HeldOut:
        due = held.response_due.get(item.conversation_id) if item.conversation_id else None
        response = (
            None if due is None else ResponseDueOut(metric=due[0], state=due[1], due_at=due[2])
        )
        return HeldOut(**AssignmentOut.of(item).model_dump(), response=response)

    return WorkOut(
        presence=held.presence,
        waiting=held.waiting,
        offers=[out(i) for i in held.items if i.state == "offered"],
        work=[out(i) for i in held.items if i.state != "offered"],
    )


@router.post(
    "/work/next",
    summary="Take the best waiting item of the agent's queues (204: none the agent may take)",
    responses={200: {"model": AssignmentOut}, 204: {"description": "nothing to take"}, **SIGNED_IN},
    response_model=None,
)
async def take_next(request: Request, agent: SignedIn) -> AssignmentOut | Response:
    async with pool_of(request).connection() as conn:
        item = await assignments.claim_next(conn, agent.agent_id)
    if item is None:
        return Response(status_code=204)
    return AssignmentOut.of(item)


# The holder's moves that take nothing but the version seen: one route each.
_HOLDER_MOVES: tuple[tuple[str, str, HolderMove], ...] = (
    ("accept", "Accept an offer", assignments.accept),
    ("decline", "Decline an offer: it goes back to the queue in its place", assignments.decline),
    ("wrap-up", "Start wrap-up", assignments.wrap_up),
    ("done", "Finish the work", assignments.finish),
)


def _holder_move_route(move: HolderMove) -> Callable[..., Awaitable[AssignmentOut]]:
    async def route(
        request: Request, assignment_id: UUID, body: MoveIn, agent: SignedIn
    ) -> AssignmentOut:
        async with pool_of(request).connection() as conn:
            item = await move(conn, agent.agent_id, assignment_id, version=body.version)
        return AssignmentOut.of(item)

    return route


for _path, _summary, _move in _HOLDER_MOVES:
    router.post(
        f"/assignments/{{assignment_id}}/{_path}",
        summary=_summary,
        responses=_MOVE,
        name=_path.replace("-", "_"),
    )(_holder_move_route(_move))


@router.post(
    "/assignments/{assignment_id}/transfer",
    summary="Hand the work to another queue; the new item keeps the customer's place",
    responses=_MOVE,
)
async def transfer(
    request: Request, assignment_id: UUID, body: TransferIn, agent: SignedIn
) -> AssignmentOut:
    async with pool_of(request).connection() as conn:
        item = await assignments.transfer(
            conn, agent.agent_id, assignment_id, queue=body.queue, reason=body.reason,
            version=body.version,
        )  # fmt: skip
    return AssignmentOut.of(item)


@router.put("/presence", summary="Available, away or offline", responses=SIGNED_IN)
async def presence(request: Request, body: PresenceIn, agent: SignedIn) -> PresenceOut:
    async with pool_of(request).connection() as conn:
        now = await assignments.set_presence(conn, agent.agent_id, body.presence)
    return PresenceOut(presence=str(now))


@router.post(
    "/presence/heartbeat",
    status_code=204,
    summary="The console is open: keeps the agent from being taken offline",
    responses=SIGNED_IN,
)
async def heartbeat(request: Request, agent: SignedIn) -> Response:
    async with pool_of(request).connection() as conn:
        await assignments.heartbeat(conn, agent.agent_id)
    return Response(status_code=204)
