"""The human queues, an assignment's states and the moves between them (as data)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID


class Queue(StrEnum):
    FRAUD = "fraud"
    CARDS = "cards"
    PAYMENTS = "payments"
    LOANS = "loans"
    DISPUTES = "disputes"
    COMPLAINTS = "complaints"
    GENERAL = "general"


# A caller reporting fraud may be losing money while they wait; a complaint can be answered
# within the hour. Everything else is picked up within a quarter of an hour.
SLA: dict[Queue, timedelta] = {
    Queue.FRAUD: timedelta(minutes=5),
    Queue.COMPLAINTS: timedelta(hours=1),
}
DEFAULT_SLA = timedelta(minutes=15)


class State(StrEnum):
    QUEUED = "queued"
    OFFERED = "offered"
    ACTIVE = "active"
    WRAP_UP = "wrap_up"
    DONE = "done"
    CANCELLED = "cancelled"


LIVE_STATES = frozenset({State.QUEUED, State.OFFERED, State.ACTIVE, State.WRAP_UP})


class Move(StrEnum):
    CLAIM = "claim"  # pull: the agent takes the best item, which is accepting it
    OFFER = "offer"  # push: offered to one agent until the queue's offer timeout
    ACCEPT = "accept"
    DECLINE = "decline"
    EXPIRE = "expire"  # the offer's time ran out
    WITHDRAW = "withdraw"  # the agent went away or offline with the offer open
    WRAP_UP = "wrap_up"
    FINISH = "finish"
    TRANSFER = "transfer"
    CANCEL = "cancel"
    REASSIGN = "reassign"  # a supervisor offers the item to an agent of its queue
    TAKE_OVER = "take_over"  # a supervisor holds the item themselves


@dataclass(frozen=True)
class Transition:
    sources: frozenset[State]
    target: State
    # Made by the agent who holds the item (and so refused to anyone else).
    by_holder: bool = False


# TaskRouter's lifecycle: an offer declined, expired or withdrawn goes back to the queue;
# cancelling is possible only before the work was taken (never after active); a transfer ends
# the active item as done and queues a new one. A supervisor's reassign offers the item to
# another agent (who may decline: it goes back to the queue in its place), a take-over makes
# it the supervisor's, active; the conversation's clocks run on either way.
TRANSITIONS: dict[Move, Transition] = {
    Move.CLAIM: Transition(frozenset({State.QUEUED}), State.ACTIVE),
    Move.OFFER: Transition(frozenset({State.QUEUED}), State.OFFERED),
    Move.ACCEPT: Transition(frozenset({State.OFFERED}), State.ACTIVE, by_holder=True),
    Move.DECLINE: Transition(frozenset({State.OFFERED}), State.QUEUED, by_holder=True),
    Move.EXPIRE: Transition(frozenset({State.OFFERED}), State.QUEUED),
    Move.WITHDRAW: Transition(frozenset({State.OFFERED}), State.QUEUED),
    Move.WRAP_UP: Transition(frozenset({State.ACTIVE}), State.WRAP_UP, by_holder=True),
    Move.FINISH: Transition(frozenset({State.WRAP_UP}), State.DONE, by_holder=True),
    Move.TRANSFER: Transition(frozenset({State.ACTIVE}), State.DONE, by_holder=True),
    Move.CANCEL: Transition(frozenset({State.QUEUED, State.OFFERED}), State.CANCELLED),
    # A supervisor's: the work is not done yet (wrap-up is the holder's own), whoever has it.
    Move.REASSIGN: Transition(
        frozenset({State.QUEUED, State.OFFERED, State.ACTIVE}), State.OFFERED
    ),
    Move.TAKE_OVER: Transition(
        frozenset({State.QUEUED, State.OFFERED, State.ACTIVE}), State.ACTIVE
    ),
}


def allowed(move: Move, state: State) -> bool:
    return state in TRANSITIONS[move].sources


def moves_from(state: State) -> list[Move]:
    return [move for move, transition in TRANSITIONS.items() if state in transition.sources]


class Source(StrEnum):
    """What queued an item."""

    AI_HANDOFF = "ai_handoff"
    INBOUND = "inbound"  # a customer wrote on a conversation nobody held
    REOPEN = "reopen"
    TRANSFER = "transfer"


class EndReason(StrEnum):
    RESOLVED = "resolved"
    TRANSFERRED = "transferred"
    CANCELLED = "cancelled"
    ABANDONED = "abandoned"  # the customer left before anyone took it


class Presence(StrEnum):
    AVAILABLE = "available"
    AWAY = "away"
    OFFLINE = "offline"


class Channel(StrEnum):
    SMS = "sms"
    WHATSAPP = "whatsapp"
    EMAIL = "email"
    VOICE = "voice"


@dataclass(frozen=True)
class Assignment:
    id: UUID
    conversation_id: UUID | None
    case_id: UUID | None
    queue_name: str
    sla_due_at: datetime | None
    state: State
    priority: int
    channel: str | None
    assigned_to: str | None  # the holder's cc_agents.id, as text (006's column)
    enqueued_at: datetime | None
    offered_at: datetime | None
    offer_expires_at: datetime | None
    offer_count: int
    accepted_at: datetime | None
    wrap_started_at: datetime | None
    done_at: datetime | None
    end_reason: str | None
    escalated_at: datetime | None
    transferred_from: UUID | None
    last_agent_id: UUID | None
    source: str | None
    reason: str | None
    assurance_level: int | None
    version: int


COLUMNS = ", ".join(Assignment.__dataclass_fields__)


@dataclass(frozen=True)
class SweepReport:
    """What one pass of the routing sweep did."""

    agents_gone_offline: int
    offers_withdrawn: int
    offers_expired: int
    escalated: int


@dataclass(frozen=True)
class Work:
    """What an agent has in hand: their presence, their offers and work (oldest first), and,
    per conversation, its response clock running or paused: (metric, state, due_at); and how
    many items wait in each of their queues."""

    presence: str
    items: list[Assignment]
    response_due: dict[UUID, tuple[str, str, datetime | None]]
    waiting: dict[str, int]
