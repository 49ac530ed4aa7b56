"""An agent's work: what they hold and are offered, taking the next item, answering an offer,
wrapping up, finishing, transferring; and their presence."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from switchboard.agent_api.conversations import claims_of, no_store
from switchboard.agent_api.errors import SIGNED_IN, answer
from switchboard.agent_sessions.http import SignedIn
from switchboard.assignments import service as assignments
from switchboard.assignments.models import Assignment
from switchboard.webhooks.common import pool_of

router = APIRouter(prefix="/api/v1", tags=["work"], dependencies=[Depends(no_store)])
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


class WorkOut(BaseModel):
    offers: list[AssignmentOut]
    work: list[AssignmentOut] = Field(description="active and in wrap-up")


class MoveIn(BaseModel):
    version: int | None = Field(None, description="the version the agent saw, if any")


class TransferIn(BaseModel):
    queue: str = Field(max_length=63)
    reason: str = Field(min_length=1, max_length=500)
    version: int | None = None


class PresenceIn(BaseModel):
    presence: str = Field(max_length=20, description="available, away or offline")


class PresenceOut(BaseModel):
    presence: str


@router.get("/work", summary="The agent's offers and work", responses=SIGNED_IN)
async def work(request: Request, agent: SignedIn) -> WorkOut:
    async with pool_of(request).connection() as conn:
        held = await assignments.held_by(conn, claims_of(agent))
    return WorkOut(
        offers=[AssignmentOut.of(i) for i in held if i.state == "offered"],
        work=[AssignmentOut.of(i) for i in held if i.state != "offered"],
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
        return Response(status_code=204, headers={"Cache-Control": "no-store"})
    return AssignmentOut.of(item)


@router.post("/assignments/{assignment_id}/accept", summary="Accept an offer", responses=_MOVE)
async def accept(
    request: Request, assignment_id: UUID, body: MoveIn, agent: SignedIn
) -> AssignmentOut:
    async with pool_of(request).connection() as conn:
        item = await assignments.accept(conn, agent.agent_id, assignment_id, version=body.version)
    return AssignmentOut.of(item)


@router.post(
    "/assignments/{assignment_id}/decline",
    summary="Decline an offer: it goes back to the queue in its place",
    responses=_MOVE,
)
async def decline(
    request: Request, assignment_id: UUID, body: MoveIn, agent: SignedIn
) -> AssignmentOut:
    async with pool_of(request).connection() as conn:
        item = await assignments.decline(conn, agent.agent_id, assignment_id, version=body.version)
    return AssignmentOut.of(item)


@router.post("/assignments/{assignment_id}/wrap-up", summary="Start wrap-up", responses=_MOVE)
async def wrap_up(
    request: Request, assignment_id: UUID, body: MoveIn, agent: SignedIn
) -> AssignmentOut:
    async with pool_of(request).connection() as conn:
        item = await assignments.wrap_up(conn, agent.agent_id, assignment_id, version=body.version)
    return AssignmentOut.of(item)


@router.post("/assignments/{assignment_id}/done", summary="Finish the work", responses=_MOVE)
async def done(
    request: Request, assignment_id: UUID, body: MoveIn, agent: SignedIn
) -> AssignmentOut:
    async with pool_of(request).connection() as conn:
        item = await assignments.finish(conn, agent.agent_id, assignment_id, version=body.version)
    return AssignmentOut.of(item)


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
    return Response(status_code=204, headers={"Cache-Control": "no-store"})
