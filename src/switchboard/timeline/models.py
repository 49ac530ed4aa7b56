"""A conversation's timeline as an agent reads it."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from switchboard.auth_sessions.models import AssuranceLevel
from switchboard.errors import InvalidInput
from switchboard.sla.models import ClockView

DEFAULT_PAGE = 50
MAX_PAGE = 200


@dataclass(frozen=True)
class Position:
    """Where a page ends: the last entry's time and id. Entries are ordered by both, newest
    first, so a page never repeats or skips an entry whatever is written meanwhile."""

    at: datetime
    id: UUID

    def cursor(self) -> str:
        raw = f"{self.at.isoformat()}|{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    @classmethod
    def from_cursor(cls, cursor: str) -> Position:
        try:
            padded = cursor + "=" * (-len(cursor) % 4)
            at, _, entry_id = base64.urlsafe_b64decode(padded).decode("ascii").partition("|")
            position = cls(datetime.fromisoformat(at), UUID(entry_id))
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise InvalidInput(
                "the cursor is not one this service gave", hint="pass next_cursor as it came"
            ) from exc
        if position.at.tzinfo is None:
            raise InvalidInput("the cursor is not one this service gave")
        return position


@dataclass(frozen=True)
class Entry:
    """A message (kind "message"), one of the assistant's tool calls (kind "tool_call",
    summarised: the tool and its one-line result or error), or an agent's internal note (kind
    "note", by `author`, an agent's id)."""

    kind: str
    id: UUID
    at: datetime
    direction: str | None = None
    provider: str | None = None
    text: str | None = None
    status: str | None = None
    tool: str | None = None
    outcome: str | None = None  # "ok" or the error's code
    summary: str | None = None
    author: str | None = None


@dataclass(frozen=True)
class Verification:
    level: AssuranceLevel
    expires_at: datetime | None


@dataclass(frozen=True)
class Timeline:
    conversation_id: UUID
    channel: str
    status: str
    bank_customer_id: UUID | None
    opened_at: datetime
    verification: Verification
    clocks: list[ClockView]  # its SLA clocks, with the time each has left
    entries: list[Entry]
    next_cursor: str | None  # None: this page holds the oldest entry
