"""A call's events as the Vapi webhook hands them to the service."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class CallEventType(StrEnum):
    """The audit (and delivery ledger) event type of each kind of call event."""

    STATUS = "call.status"
    TRANSCRIPT = "call.transcript"
    CONVERSATION_UPDATED = "call.conversation_updated"
    ENDED = "call.ended"


@dataclass(frozen=True)
class CallEvent:
    """Something Vapi reports about a call that is not itself a message (a status change,
    a history update): it opens or continues the call's conversation and is audited."""

    call_id: str
    event_key: str  # the delivery's own id: call id + status, or + Vapi's timestamp
    event_type: CallEventType
    customer_address: str | None  # normalised to E.164 where it could be
    our_number: str | None
    details: dict[str, Any] = field(default_factory=dict)  # kept in the audit record
