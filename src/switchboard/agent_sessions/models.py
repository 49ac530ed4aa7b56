"""Sessions and the signed-in agent as routes see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from uuid import UUID

IDLE = timedelta(minutes=30)
ABSOLUTE = timedelta(hours=12)
# A session whose password was accepted, waiting for its TOTP code: the code is at hand (the
# authenticator is open), so a half-signed-in session is not left lying about for 30 minutes.
AWAITING_CODE = timedelta(minutes=5)
# The idle expiry slides with each request, but is written at most this often.
TOUCH_EVERY = timedelta(minutes=1)
COOKIE = "__Host-sb_session"
CSRF_HEADER = "X-CSRF-Token"
# Back-off: after this many failures in a row a subject waits 1 s, then 2 s, 4 s ... at most
# BLOCK_CAP, before its next attempt is even checked.
FREE_FAILURES = 5
BLOCK_CAP = timedelta(minutes=15)


class Stage(StrEnum):
    PASSWORD = "password"  # noqa: S105 - a stage: the first factor passed, TOTP awaited
    SIGNED_IN = "signed_in"


class SubjectKind(StrEnum):
    ACCOUNT = "account"
    CLIENT = "client"


@dataclass(frozen=True)
class LiveSession:
    """A session row that is neither revoked nor expired, of an active agent."""

    id: UUID
    agent_id: UUID
    stage: str
    email: str
    display_name: str
    role: str
    time_zone: str
    queues: list[str]
    created_at: datetime
    last_seen_at: datetime
    idle_expires_at: datetime
    absolute_expires_at: datetime


@dataclass(frozen=True)
class NewSession:
    """A session just created: its token goes in the cookie and is never stored."""

    id: UUID
    token: str
    stage: str
    idle_expires_at: datetime
    absolute_expires_at: datetime


@dataclass(frozen=True)
class Failure:
    """A subject's failure just counted: whether it starts a block, and until when."""

    failures: int
    blocked_until: datetime
    block_started: bool
    refused_while_blocked: int


@dataclass(frozen=True)
class SignedInAgent:
    """What a route knows of the agent whose request it serves."""

    agent_id: UUID
    email: str
    display_name: str
    role: str
    queues: tuple[str, ...]
    session_id: UUID
    time_zone: str
