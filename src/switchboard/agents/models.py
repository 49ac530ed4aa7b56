"""An agent as the services and the CLI see it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any
from uuid import UUID

from switchboard.audit.models import Actor, ActorType

# How long a printed enrolment secret may be used.
ENROLMENT_HOURS = 72


class Role(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    ADMIN = "admin"


class Status(StrEnum):
    ACTIVE = "active"
    DISABLED = "disabled"


# Who acts when an administrator runs the CLI on the server itself.
CLI_ACTOR = Actor(ActorType.SYSTEM, "cli")


@dataclass(frozen=True)
class Agent:
    id: UUID
    email: str
    display_name: str
    role: str
    status: str
    queues: list[str]
    capacity: dict[str, Any]
    time_zone: str
    created_at: datetime
    disabled_at: datetime | None
    enrolled: bool  # has a password
    totp_confirmed: bool  # a TOTP code was accepted once


@dataclass(frozen=True)
class NewAgent:
    """What `agents add` gives back: the agent, and its enrolment secret, shown this once."""

    agent: Agent
    enrolment_secret: str
    enrolment_expires_at: datetime

    @property
    def enrolment_path(self) -> str:
        return f"/console/enrol#{self.enrolment_secret}"


@dataclass(frozen=True)
class Credentials:
    """What sign-in needs of an agent; never leaves agent_sessions' service."""

    id: UUID
    email: str
    role: str
    status: str
    password_hash: str | None
    totp_secret_sealed: str | None
    totp_last_step: int | None


@dataclass(frozen=True)
class Enrolment:
    """The agent an enrolment secret belongs to, while it is valid."""

    agent_id: UUID
    email: str
    role: str
    password_set: bool
    totp_secret_sealed: str | None
