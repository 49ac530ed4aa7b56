"""What a notification on cc_live says (migration 026), and what a stream sends for it.

A notification is only a hint that something changed: anyone connected to the database may
NOTIFY on any channel. Its ids are read again under the agent's row-level security before
anything is sent; the few values passed on as they came (a presence, a clock's event) are
checked against the values they may take.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID

log = logging.getLogger(__name__)

CHANNEL = "cc_live"


class Kind(StrEnum):
    """What changed; also the SSE event name of each (session: the stream's own sign-out)."""

    ASSIGNMENT = "assignment"
    MESSAGE = "message"
    SLA = "sla"
    CASE = "case"
    NOTE = "note"
    VERIFICATION = "verification"  # a one-time code or a tool call: the badge may change
    PRESENCE = "presence"
    SESSION = "session"


RESYNC = "resync"
SIGNED_OUT = "signed-out"

# The id fields of each kind's rows; every one is a uuid (or null).
_IDS: dict[Kind, tuple[str, ...]] = {
    Kind.ASSIGNMENT: ("id", "conversation_id", "case_id"),
    Kind.MESSAGE: ("id", "conversation_id"),
    Kind.SLA: ("id", "clock_id", "conversation_id", "case_id"),
    Kind.CASE: ("id", "conversation_id"),
    Kind.NOTE: ("id", "conversation_id"),
    Kind.VERIFICATION: ("id", "conversation_id"),
    Kind.PRESENCE: ("agent_id",),
    Kind.SESSION: ("id", "agent_id"),
}
# The values a notification may carry besides ids, and what each may be (None: any short
# name, which the stream reads again itself and does not pass on).
_VALUES: dict[Kind, dict[str, frozenset[str] | None]] = {
    Kind.ASSIGNMENT: {"queue": None, "state": None},
    Kind.SLA: {
        "event": frozenset(
            {"started", "paused", "resumed", "fulfilled", "breached", "cancelled", "recomputed"}
        )
    },
    Kind.PRESENCE: {"presence": frozenset({"available", "away", "offline"})},
}


@dataclass(frozen=True)
class Change:
    """One changed row, as its notification named it."""

    kind: Kind
    ids: dict[str, UUID | None]
    values: dict[str, str]

    def id(self, field: str = "id") -> UUID | None:
        return self.ids.get(field)


def parse(payload: str) -> list[Change]:
    """The changes a notification names; what does not have the shape of 026's is dropped
    (and logged), never passed on."""
    try:
        note = json.loads(payload)
        kind = Kind(note["kind"])
        rows = note["rows"]
        if not isinstance(rows, list):
            raise TypeError("rows is not a list")
        return [_change(kind, row) for row in rows]
    except (ValueError, KeyError, TypeError, RecursionError) as exc:
        # RecursionError: json.loads of a payload nested thousands deep (8000 bytes of "["),
        # which any session may NOTIFY; let through, it ended the listener's connection.
        log.warning("a notification on %s not of our shape was dropped: %s", CHANNEL, exc)
        return []


def _change(kind: Kind, row: Any) -> Change:
    if not isinstance(row, dict):
        raise TypeError("a row is not an object")
    ids: dict[str, UUID | None] = {}
    for field in _IDS[kind]:
        value = row.get(field)
        ids[field] = None if value is None else UUID(str(value))
    values: dict[str, str] = {}
    for field, allowed in _VALUES.get(kind, {}).items():
        value = row.get(field)
        if not isinstance(value, str) or len(value) > 63:
            raise TypeError(f"{field} is not a short string")
        if allowed is not None and value not in allowed:
            raise ValueError(f"{field} {value!r} is not one of ours")
        values[field] = value
    return Change(kind, ids, values)


@dataclass(frozen=True)
class Event:
    """What a stream sends: an SSE event whose data is ids (and states) only."""

    name: str
    data: dict[str, str | None]

    def encode(self, event_id: int) -> bytes:
        data = json.dumps(self.data, separators=(",", ":"))
        return f"id: {event_id}\nevent: {self.name}\ndata: {data}\n\n".encode()
