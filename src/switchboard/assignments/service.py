"""Routing work to people: queueing it, claim-next, offers, an item's moves to done, agents'
presence, and the sweep that takes back offers nobody answers. Each move is one transaction
with one audit record; the state a move starts from is checked by the database's UPDATE, so
two moves racing on one item cannot both happen."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.assignments import repository
from switchboard.assignments.models import (
    DEFAULT_SLA,
    SLA,
    TRANSITIONS,
    Assignment,
    Channel,
    EndReason,
    Move,
    Presence,
    Queue,
    Source,
    SweepReport,
    Work,
    allowed,
)
from switchboard.assignments.topics import queue_for_words
from switchboard.audit import service as audit
from switchboard.audit.models import Actor, ActorType, AuditEntry
from switchboard.enum_input import member_of
from switchboard.errors import (
    AgentCannotTakeWork,
    AgentNotFound,
    AssignmentAlreadyLive,
    AssignmentNotFound,
    IllegalAssignmentMove,
    InvalidInput,
    StaleAssignment,
    SupervisorOnly,
)
from switchboard.privacy import mask_card_numbers
from switchboard.reason_input import stated_reason
from switchboard.row_security import AgentClaims, act_as_agent, act_as_service
from switchboard.sla import repository as sla_repository
from switchboard.sla import service as sla

MAX_REASON = 500
SYSTEM = Actor(ActorType.SYSTEM, "routing")
# SLA as queue_unheld's statement reads it (an interval's text by queue name), made once: the
# inbound path passes it with every group.
_SLA_INTERVALS = {str(queue): f"{within.total_seconds()} seconds" for queue, within in SLA.items()}
# At most this many items a sweep starts clocks for, or offers to their last agent; the next
# sweep takes the rest.
SWEEP_BATCH = 100
# An agent whose heartbeat is older than this is taken offline by the sweep.
DEFAULT_OFFLINE_AFTER = timedelta(seconds=90)


def agent_actor(agent_id: UUID) -> Actor:
    return Actor(ActorType.AGENT, str(agent_id))


# -- what queues work ---------------------------------------------------------------------


async def enqueue_handoff(
    conn: AsyncConnection[Any],
    actor: Actor,
    *,
    queue: str,
    reason: str,
    conversation_id: UUID | None = None,
    case_id: UUID | None = None,
    bank_customer_id: UUID | None = None,
    assurance_level: int | None = None,
    channel: str | None = None,
    priority: int = 0,
) -> Assignment:
    """The assistant hands the conversation (or a case) to a human queue, with its reason and
    the caller's assurance level. Refused while the conversation already has live work."""
    target = member_of(Queue, queue, "queue")
    reason = mask_card_numbers(reason.strip())
    if not reason:
        raise InvalidInput("say why the work is handed over", hint="a reason of a few words")
    if len(reason) > MAX_REASON:
        raise InvalidInput(f"the reason is longer than {MAX_REASON} characters")
    if conversation_id is None and case_id is None:
        raise InvalidInput("an assignment needs a conversation or a case")
    async with conn.transaction():
        item = await repository.insert_queued(
            conn,
            conversation_id=conversation_id,
            case_id=case_id,
            queue_name=target,
            channel=await _channel(conn, conversation_id, channel),
            priority=priority,
            source=Source.AI_HANDOFF,
            reason=reason,
            within=_sla(target),
            assurance_level=assurance_level,
        )
        if item is None:
            raise AssignmentAlreadyLive(
                "this conversation is already queued or held by an agent",
                hint="the person who has it (or will take it) sees the new messages",
            )
        await _audit(
            conn,
            actor,
            "assignment.queued",
            item,
            input={"queue": target, "reason_chars": len(reason), "source": "ai_handoff"},
            output={"assurance_level": assurance_level},
            bank_customer_id=bank_customer_id,
        )
    return item


async def enqueue_inbound(
    conn: AsyncConnection[Any],
    actor: Actor,
    *,
    conversation_id: UUID,
    bank_customer_id: UUID | None = None,
) -> Assignment | None:
    """A customer wrote on a conversation: queued unless someone holds it (or it waits
    already), None then. A conversation worked before is a reopened one (enqueue_reopened)."""
    if await repository.live_assignment(conn, conversation_id) is not None:
        return None
    if await repository.last_assignment(conn, conversation_id) is not None:
        try:
            return await enqueue_reopened(
                conn, actor, conversation_id=conversation_id, bank_customer_id=bank_customer_id
            )
        except AssignmentAlreadyLive:
            return None  # queued by something else in the meantime
    async with conn.transaction():
        item = await repository.insert_queued(
            conn,
            conversation_id=conversation_id,
            case_id=None,
            queue_name=Queue.GENERAL,
            channel=await _channel(conn, conversation_id, None),
            priority=0,
            source=Source.INBOUND,
            reason=None,
            within=_sla(Queue.GENERAL),
        )
        if item is None:
            return None
        await _audit(
            conn,
            actor,
            "assignment.queued",
            item,
            input={"queue": str(Queue.GENERAL), "source": "inbound"},
            bank_customer_id=bank_customer_id,
        )
    return item


async def queue_unheld(
    conn: AsyncConnection[Any],
    written_to: dict[UUID, str | None],
    first_words: dict[UUID, tuple[str | None, ...]] | None = None,
) -> list[UUID]:
    """Customers wrote on these conversations (the inbound path, in its transaction; each with
    the id of the request that brought its message, for the audit record): each that
    nobody holds or waits for is queued, in one statement with the audit records: in its last
    queue, for its last agent to be offered first (the sweep offers it), or, never queued
    before, in the queue its customer's words ask for (`first_words`: the subject and text
    that brought it, topics.py), general when they ask for none. The SLA clocks of what is
    queued are started by the sweep, from the time it was queued. The conversations queued."""
    entry = AuditEntry(
        actor_type=SYSTEM.type,
        actor_id=SYSTEM.id,
        event_type="assignment.queued",
        success=True,
        input={"because": "inbound"},
    )
    return await repository.queue_unheld(
        conn,
        sorted(written_to),
        audit.record_values(entry, None),
        request_ids={str(c): request_id for c, request_id in written_to.items() if request_id},
        first_queues={
            str(c): str(queue)
            for c, words in (first_words or {}).items()
            if (queue := queue_for_words(*words)) is not Queue.GENERAL
        },
        slas=_SLA_INTERVALS,
        default_sla=DEFAULT_SLA,
    )


async def enqueue_reopened(
    conn: AsyncConnection[Any],
    actor: Actor,
    *,
    conversation_id: UUID,
    queue: str | None = None,
    bank_customer_id: UUID | None = None,
) -> Assignment:
    """A conversation worked before needs a person again: offered to its last agent when that
    agent is available, in the queue and has room (Zendesk's rule; Chatwoot sent it to
    agents gone offline), else queued for anyone. Same queue as last time unless told."""
    last = await repository.last_assignment(conn, conversation_id)
    target = member_of(Queue, queue, "queue") if queue else (last.queue_name if last else None)
    if target is None:
        raise InvalidInput("say which queue: this conversation was never queued before")
    last_agent = _agent_id(last.assigned_to) if last else None
    async with conn.transaction():
        item = await repository.insert_queued(
            conn,
            conversation_id=conversation_id,
            case_id=last.case_id if last else None,
            queue_name=target,
            channel=await _channel(conn, conversation_id, last.channel if last else None),
            priority=last.priority if last else 0,
            source=Source.REOPEN,
            reason=None,
            within=_sla(target),
            last_agent_id=last_agent,
        )
        if item is None:
            raise AssignmentAlreadyLive("this conversation is already queued or held")
        offered = None
        if last_agent is not None:
            offered = await repository.offer_assignment(conn, item.id, last_agent)
        await _audit(
            conn,
            actor,
            "assignment.queued",
            offered or item,
            input={"queue": target, "source": "reopen", "last_agent_id": last_agent},
            output={"offered_to_last_agent": offered is not None},
            bank_customer_id=bank_customer_id,
        )
    return offered or item


# -- taking work --------------------------------------------------------------------------


async def work_of(conn: AsyncConnection[Any], agent: AgentClaims) -> Work:
    """The agent's presence, offers and work, and when each conversation's response is due;
    the items and clocks read in the agent's name (row_security)."""
    async with conn.transaction():
        presence = await repository.presence_of(conn, agent.agent_id)
        if presence is None:
            raise AgentNotFound("no such agent")
        await act_as_agent(conn, agent)
        items = await repository.held_by(conn, agent.agent_id)
        waiting = await repository.waiting_by_queue(conn, agent.queues)
        # Clocks are readable one conversation at a time (024): those of the conversations
        # row-level security just gave the agent are read in one statement as the service.
        await act_as_service(conn)
        held = [i.conversation_id for i in items if i.conversation_id is not None]
        due = await sla_repository.response_due(conn, held) if held else {}
    return Work(presence, items, due, waiting)


async def claim_next(conn: AsyncConnection[Any], agent_id: UUID) -> Assignment | None:
    """The best waiting item of the agent's queues, now theirs and active; None when none
    waits, or the agent may take no more (not available, at capacity in every channel with
    work)."""
    entry = AuditEntry(
        actor_type=ActorType.AGENT,
        actor_id=str(agent_id),
        event_type="assignment.claimed",
        success=True,
    )
    # One statement: the claim and its audit record commit together, in one round trip.
    return await repository.claim_next_assignment(conn, agent_id, audit.values_now(entry))


async def offer(
    conn: AsyncConnection[Any], actor: Actor, assignment_id: UUID, agent_id: UUID
) -> Assignment:
    """Push: the queued item offered to the agent until the queue's offer timeout."""
    async with conn.transaction():
        item = await repository.offer_assignment(conn, assignment_id, agent_id)
        if item is None:
            current = await _existing(conn, assignment_id)
            if not allowed(Move.OFFER, current.state):
                raise _illegal(Move.OFFER, current)
            raise AgentCannotTakeWork(
                "this agent cannot be offered this item now",
                hint="the agent must be available, in the item's queue, with room in its channel",
            )
        await _audit(
            conn,
            actor,
            "assignment.offered",
            item,
            output={"offer_expires_at": item.offer_expires_at},
        )
    return item


async def accept(
    conn: AsyncConnection[Any], agent_id: UUID, assignment_id: UUID, *, version: int | None = None
) -> Assignment:
    return await _move(
        conn,
        Move.ACCEPT,
        agent_id,
        assignment_id,
        version=version,
        event_type="assignment.accepted",
    )


async def decline(
    conn: AsyncConnection[Any], agent_id: UUID, assignment_id: UUID, *, version: int | None = None
) -> Assignment:
    """Back to the queue in its place (enqueued_at kept); counts towards the queue's
    max_offers, at which a supervisor is called."""
    async with conn.transaction():
        result = await repository.requeue_offer(
            conn, assignment_id, holder=agent_id, version=version
        )
        if result is None:
            raise await _why_not(conn, Move.DECLINE, assignment_id, agent_id, version)
        item, escalated = result
        await _audit_requeue(conn, agent_actor(agent_id), "assignment.declined", item, escalated)
    return item


async def wrap_up(
    conn: AsyncConnection[Any], agent_id: UUID, assignment_id: UUID, *, version: int | None = None
) -> Assignment:
    return await _move(
        conn,
        Move.WRAP_UP,
        agent_id,
        assignment_id,
        version=version,
        event_type="assignment.wrap_up",
    )


async def finish(
    conn: AsyncConnection[Any], agent_id: UUID, assignment_id: UUID, *, version: int | None = None
) -> Assignment:
    return await _move(
        conn, Move.FINISH, agent_id, assignment_id, version=version, event_type="assignment.done"
    )


async def cancel(
    conn: AsyncConnection[Any],
    actor: Actor,
    assignment_id: UUID,
    *,
    end_reason: EndReason = EndReason.CANCELLED,
    version: int | None = None,
) -> Assignment:
    """Only before anyone took the work (queued or offered): never after active."""
    if end_reason not in (EndReason.CANCELLED, EndReason.ABANDONED):
        raise InvalidInput("a cancelled item ends as cancelled or abandoned")
    async with conn.transaction():
        item = await repository.move(
            conn, Move.CANCEL, assignment_id, version=version, end_reason=str(end_reason)
        )
        if item is None:
            raise await _why_not(conn, Move.CANCEL, assignment_id, None, version)
        await _audit(conn, actor, "assignment.cancelled", item, input={"end": str(end_reason)})
    return item


async def transfer(
    conn: AsyncConnection[Any],
    agent_id: UUID,
    assignment_id: UUID,
    *,
    queue: str,
    reason: str,
    version: int | None = None,
) -> Assignment:
    """The agent's active item ends as done (transferred) and the conversation is queued
    again in `queue`, the new item naming the old (transferred_from) and keeping its place
    (enqueued_at). SLA clocks belong to the conversation, so they run on. The new item."""
    target = member_of(Queue, queue, "queue")
    reason = stated_reason(reason, max_chars=MAX_REASON)
    async with conn.transaction():
        ended = await repository.move(
            conn, Move.TRANSFER, assignment_id, holder=agent_id, version=version
        )
        if ended is None:
            raise await _why_not(conn, Move.TRANSFER, assignment_id, agent_id, version)
        item = await repository.insert_queued(
            conn,
            conversation_id=ended.conversation_id,
            case_id=ended.case_id,
            queue_name=target,
            channel=ended.channel or Channel.SMS,
            priority=ended.priority,
            source=Source.TRANSFER,
            reason=reason,
            within=_sla(target),
            assurance_level=ended.assurance_level,
            last_agent_id=agent_id,
            transferred_from=ended.id,
            enqueued_at_of=ended.id,
        )
        if item is None:  # the old one was the conversation's live item and is done now
            raise RuntimeError("a transferred conversation could not be queued again")
        await _audit(
            conn,
            agent_actor(agent_id),
            "assignment.transferred",
            item,
            input={"from_assignment_id": ended.id, "queue": target, "reason_chars": len(reason)},
        )
    return item


# -- a supervisor's moves -----------------------------------------------------------------

SUPERVISING_ROLES = frozenset({"supervisor", "admin"})


def require_supervisor(agent: AgentClaims) -> None:
    if agent.role not in SUPERVISING_ROLES:
        raise SupervisorOnly("only a supervisor or an admin may do this")


async def reassign(
    conn: AsyncConnection[Any],
    supervisor: AgentClaims,
    assignment_id: UUID,
    *,
    agent_id: UUID,
    reason: str,
    version: int,
) -> Assignment:
    """A supervisor offers a queued, offered or active item of their queue to another agent
    of that queue who is available and has room in its channel: the agent accepts or
    declines as any offer (a decline or expiry puts it back in the queue, in its place). The
    former holder, if any, no longer has it. The conversation's clocks run on."""
    return await _supervise(
        conn, Move.REASSIGN, supervisor, assignment_id, to=agent_id, reason=reason,
        version=version, event_type="assignment.reassigned",
    )  # fmt: skip


async def take_over(
    conn: AsyncConnection[Any],
    supervisor: AgentClaims,
    assignment_id: UUID,
    *,
    reason: str,
    version: int,
) -> Assignment:
    """The supervisor holds the item themselves, active, whatever their presence (they chose
    to), within their own capacity. The conversation's clocks run on."""
    return await _supervise(
        conn, Move.TAKE_OVER, supervisor, assignment_id, to=supervisor.agent_id,
        reason=reason, version=version, event_type="assignment.taken_over",
    )  # fmt: skip


async def _supervise(
    conn: AsyncConnection[Any],
    move: Move,
    supervisor: AgentClaims,
    assignment_id: UUID,
    *,
    to: UUID,
    reason: str,
    version: int,
    event_type: str,
) -> Assignment:
    require_supervisor(supervisor)
    reason = stated_reason(reason, max_chars=MAX_REASON)
    async with conn.transaction():
        # Seen, and supervised, as PostgreSQL lets the supervisor see it: else not found.
        await act_as_agent(conn, supervisor)
        if await repository.supervised_item(conn, assignment_id) is None:
            raise AssignmentNotFound(f"no assignment {assignment_id} in your queues")
        await act_as_service(conn)
        # The agent's row first, then the item's, as claim-next and offers take them.
        target = await repository.lock_agent(conn, to)
        current = await _locked(conn, assignment_id)
        if current.version != version:
            raise StaleAssignment(
                f"this item changed since you saw it (version {version}, now {current.version})",
                hint="reload it and decide again",
            )
        if not allowed(move, current.state):
            raise _illegal(move, current)
        why = await _why_they_cannot_hold(conn, move, target, current, supervisor)
        if why is not None:
            raise AgentCannotTakeWork(why, hint=_HOLD_HINT[move])
        moved = await repository.hand_to(conn, move, assignment_id, to, version=version)
        if moved is None:  # both rows are locked and were checked just above
            raise RuntimeError(f"{move} of a locked, checked item changed nothing")
        await _audit(
            conn,
            agent_actor(supervisor.agent_id),
            event_type,
            moved,
            input={
                "reason": reason,
                "to": to,
                "from_agent": current.assigned_to,
                "from_state": str(current.state),
            },
            output={"offer_expires_at": moved.offer_expires_at},
        )
    return moved


_HOLD_HINT = {
    Move.REASSIGN: "choose an available agent of the item's queue with room in its channel",
    Move.TAKE_OVER: "finish or hand on some of your own work first",
}


async def _locked(conn: AsyncConnection[Any], assignment_id: UUID) -> Assignment:
    current = await repository.lock_item(conn, assignment_id)
    if current is None:
        raise AssignmentNotFound("no such assignment")
    return current


async def _why_they_cannot_hold(
    conn: AsyncConnection[Any],
    move: Move,
    target: dict[str, Any] | None,
    item: Assignment,
    supervisor: AgentClaims,
) -> str | None:
    """Why the (locked) agent may not be given the (locked) item, or None."""
    if target is None or target["status"] != "active":
        return "there is no active agent with that id"
    you = target["id"] == supervisor.agent_id
    who, s = ("you", "") if you else ("this agent", "s")
    if item.assigned_to == str(target["id"]):
        return f"{who} already hold{s} this item"
    if move is Move.REASSIGN and target["presence"] != Presence.AVAILABLE:
        return f"this agent is {target['presence']}: work is offered only to an available agent"
    admin_taking = move is Move.TAKE_OVER and target["role"] == "admin"
    if not admin_taking and not await repository.is_member(conn, target["id"], item.queue_name):
        return f"{who} do{'' if you else 'es'} not work the queue {item.queue_name}"
    return await _no_room(conn, target, item, who, s)


async def _no_room(
    conn: AsyncConnection[Any], target: dict[str, Any], item: Assignment, who: str, s: str
) -> str | None:
    if item.channel is None:
        return "this item has no channel, so no capacity can take it"
    room = str(target["capacity"].get(item.channel, 0))
    most = int(room) if room.isdigit() else 0
    held = await repository.live_load(conn, target["id"], item.channel)
    if held >= most:
        return f"{who} hold{s} {held} of {most} {item.channel} items: at capacity"
    return None


# -- presence -----------------------------------------------------------------------------


async def set_presence(conn: AsyncConnection[Any], agent_id: UUID, presence: str) -> Presence:
    """The agent's presence, audited when it changes; offers open when the agent leaves
    'available' go back to the queue (each its own move)."""
    wanted = member_of(Presence, presence, "presence")
    async with conn.transaction():
        changed = await repository.set_presence(conn, agent_id, wanted)
        if changed is None:
            raise AgentNotFound("no such agent")
        before, after = changed
        if before != after:
            await audit.append(
                conn,
                AuditEntry(
                    actor_type=ActorType.AGENT,
                    actor_id=str(agent_id),
                    event_type="agent.presence_changed",
                    success=True,
                    input={"presence": after},
                    output={"before": before},
                ),
            )
    if wanted is not Presence.AVAILABLE:
        await _withdraw_offers_of_absent_agents(conn)
    return wanted


async def heartbeat(conn: AsyncConnection[Any], agent_id: UUID) -> None:
    """The agent's console is open: keeps them from being taken offline by the sweep. Not
    audited: it changes nothing but the time last seen."""
    if not await repository.touch_agent(conn, agent_id):
        raise AgentNotFound("no such agent")


# -- the sweep ----------------------------------------------------------------------------


async def sweep(
    conn: AsyncConnection[Any],
    *,
    offline_after: timedelta = DEFAULT_OFFLINE_AFTER,
    heed_within: timedelta | None = sla.HEED_WITHIN,
) -> SweepReport:
    """Agents silent for `offline_after` go offline; offers of agents not available, and
    offers past their expiry, go back to the queue; reopened items are offered to their last
    agent; new items get their SLA clocks; customers who wrote resume paused clocks and are
    owed a next response (their messages of the last `heed_within`; None: all); breaches are
    recorded. Each change its own transaction and audit record (actor system); safe to run
    from several workers at once."""
    gone = 0
    while True:
        async with conn.transaction():
            agent = await repository.one_silent_agent_offline(conn, offline_after)
            if agent is None:
                break
            await audit.append(
                conn,
                AuditEntry(
                    actor_type=SYSTEM.type,
                    actor_id=SYSTEM.id,
                    event_type="agent.presence_changed",
                    success=True,
                    input={"presence": str(Presence.OFFLINE), "agent_id": agent[0]},
                    output={"before": agent[1], "why": "no heartbeat"},
                ),
            )
        gone += 1
    withdrawn, escalated_w = await _withdraw_offers_of_absent_agents(conn)
    expired = escalated_e = 0
    while True:
        async with conn.transaction():
            expiring = await repository.one_expired_offer(conn)
            if expiring is None:
                break
            offer_id, holder = expiring
            result = await repository.requeue_offer(conn, offer_id)
            if result is None:
                continue
            item, escalated = result
            # An offer left unanswered says its agent is not at the desk: set away, so that
            # the push below offers them nothing more until they say they are back.
            away = holder is not None and await repository.set_away_if_available(conn, holder)
            await _audit_requeue(
                conn, SYSTEM, "assignment.offer_expired", item, escalated, agent_set_away=away
            )
        expired += 1
        escalated_e += escalated
    await _offer_reopened_to_last_agents(conn)
    await _offer_queued_to_idle_agents(conn)
    await _start_clocks_of_new_items(conn)
    await sla.heed_customer_messages(conn, actor=SYSTEM, within=heed_within)
    await sla.sweep_breaches(conn)
    return SweepReport(gone, withdrawn, expired, escalated_w + escalated_e)


async def _offer_reopened_to_last_agents(conn: AsyncConnection[Any]) -> None:
    """A conversation queued again by a customer's message goes to its last agent first when
    that agent is available, in the queue and has room; otherwise it waits for anyone."""
    for item in await repository.reopened_not_yet_offered(conn, SWEEP_BATCH):
        if item.last_agent_id is None:
            continue
        async with conn.transaction():
            offered = await repository.offer_assignment(conn, item.id, item.last_agent_id)
            if offered is not None:
                await _audit(
                    conn,
                    SYSTEM,
                    "assignment.offered",
                    offered,
                    input={"to": "last_agent"},
                    output={"offer_expires_at": offered.offer_expires_at},
                )


async def _offer_queued_to_idle_agents(conn: AsyncConnection[Any]) -> None:
    """Push: each available agent without an open offer is offered the best waiting item of
    their queues that they have room for, the longest idle agent first; one offer at a time
    per agent, so a declined or expired one goes to the next agent in turn. Agents who only
    pull (claim-next) are served the same way as soon as they are available."""
    for agent_id in await repository.idle_available_agents(conn, SWEEP_BATCH):
        async with conn.transaction():
            item = await repository.offer_best_item(conn, agent_id)
            if item is None:
                continue
            await _audit(
                conn,
                SYSTEM,
                "assignment.offered",
                item,
                input={"to": "idle_agent"},
                output={"offer_expires_at": item.offer_expires_at},
            )


async def _start_clocks_of_new_items(conn: AsyncConnection[Any]) -> None:
    """The SLA clocks of items queued without them (by the inbound path), from the time each
    was queued."""
    for item in await repository.items_without_clocks(conn, SWEEP_BATCH):
        if item.conversation_id is None or item.enqueued_at is None:
            continue
        await sla.start_clocks(
            conn,
            item.conversation_id,
            queue=item.queue_name,
            priority=sla_priority(item.priority),
            at=item.enqueued_at,
            actor=SYSTEM,
        )


async def _withdraw_offers_of_absent_agents(conn: AsyncConnection[Any]) -> tuple[int, int]:
    withdrawn = escalated_count = 0
    while True:
        async with conn.transaction():
            result = await repository.requeue_one_offer_of_absent_agent(conn)
            if result is None:
                break
            item, escalated = result
            await _audit_requeue(conn, SYSTEM, "assignment.offer_withdrawn", item, escalated)
        withdrawn += 1
        escalated_count += escalated
    return withdrawn, escalated_count


# -- helpers ------------------------------------------------------------------------------


async def _move(
    conn: AsyncConnection[Any],
    move: Move,
    agent_id: UUID,
    assignment_id: UUID,
    *,
    version: int | None,
    event_type: str,
) -> Assignment:
    async with conn.transaction():
        item = await repository.move(conn, move, assignment_id, holder=agent_id, version=version)
        if item is None:
            raise await _why_not(conn, move, assignment_id, agent_id, version)
        await _audit(conn, agent_actor(agent_id), event_type, item)
    return item


async def _why_not(
    conn: AsyncConnection[Any],
    move: Move,
    assignment_id: UUID,
    agent_id: UUID | None,
    version: int | None,
) -> Exception:
    """Why the UPDATE of `move` changed nothing, read after it (for the message only: the
    UPDATE's own check is what kept the item safe)."""
    current = await _existing(conn, assignment_id)
    if TRANSITIONS[move].by_holder and current.assigned_to not in (None, str(agent_id)):
        # Whether another's item exists, and its state, are not the caller's to learn.
        return AssignmentNotFound(f"no assignment {assignment_id} of yours")
    if version is not None and current.version != version:
        return StaleAssignment(
            f"this item changed since you saw it (version {version}, now {current.version})",
            hint="reload it and decide again",
        )
    if not allowed(move, current.state):
        return _illegal(move, current)
    if move is Move.ACCEPT:
        return IllegalAssignmentMove(
            "this offer has expired", hint="claim the next item, or wait for another offer"
        )
    return IllegalAssignmentMove(f"cannot {move} this item now")


async def _existing(conn: AsyncConnection[Any], assignment_id: UUID) -> Assignment:
    current = await repository.get_assignment(conn, assignment_id)
    if current is None:
        raise AssignmentNotFound("no such assignment")
    return current


def _illegal(move: Move, current: Assignment) -> IllegalAssignmentMove:
    sources = ", ".join(sorted(TRANSITIONS[move].sources))
    return IllegalAssignmentMove(
        f"cannot {move} an item that is {current.state}",
        hint=f"{move} applies to an item that is {sources}",
    )


async def _channel(
    conn: AsyncConnection[Any], conversation_id: UUID | None, given: str | None
) -> str:
    if given is not None:
        return member_of(Channel, given, "channel")
    if conversation_id is not None:
        channel = await repository.conversation_channel(conn, conversation_id)
        if channel is None:
            raise InvalidInput("no such conversation")
        if channel in _CHANNELS:
            return channel
    raise InvalidInput("say which channel the work is on", hint="sms, whatsapp, email or voice")


_CHANNELS = frozenset(c.value for c in Channel)
_QUEUES = frozenset(q.value for q in Queue)


def _sla(queue: str) -> timedelta:
    return SLA.get(Queue(queue), DEFAULT_SLA) if queue in _QUEUES else DEFAULT_SLA


def _agent_id(text: str | None) -> UUID | None:
    if text is None:
        return None
    try:
        return UUID(text)
    except ValueError:
        return None  # held before agents had ids (006's free text)


async def _audit_requeue(
    conn: AsyncConnection[Any],
    actor: Actor,
    event_type: str,
    item: Assignment,
    escalated: bool,
    *,
    agent_set_away: bool = False,
) -> None:
    # An escalation is its own event, for supervisors to find; what brought it is kept.
    output: dict[str, Any] = {"offer_count": item.offer_count}
    if agent_set_away:
        output["agent_set_away"] = True
    await _audit(
        conn,
        actor,
        "assignment.escalated" if escalated else event_type,
        item,
        input={"after": event_type} if escalated else {},
        output=output,
    )


async def _audit(
    conn: AsyncConnection[Any],
    actor: Actor,
    event_type: str,
    item: Assignment,
    *,
    input: dict[str, Any] | None = None,
    output: dict[str, Any] | None = None,
    bank_customer_id: UUID | None = None,
) -> None:
    out = {key: value.isoformat() if hasattr(value, "isoformat") else value
           for key, value in (output or {}).items()}  # fmt: skip
    await audit.append(
        conn,
        AuditEntry(
            actor_type=actor.type,
            actor_id=actor.id,
            event_type=event_type,
            success=True,
            input=input or {},
            output={
                "assignment_id": item.id,
                "state": str(item.state),
                "queue": item.queue_name,
                "assigned_to": item.assigned_to,
                "version": item.version,
                **out,
            },
            conversation_id=item.conversation_id,
            case_id=item.case_id,
            bank_customer_id=bank_customer_id,
        ),
    )


def sla_priority(priority: int) -> str:
    """An item's ordering priority as the SLA policies' priority."""
    if priority >= 2:
        return "urgent"
    if priority == 1:
        return "high"
    return "normal" if priority == 0 else "low"
