"""Adding agents, listing, disabling them and changing their queues (an administrator's acts),
and enrolment (the agent's own: a password, then a confirmed TOTP code). One transaction per
use case, audited in it."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterable
from typing import Any

import psycopg
from psycopg import AsyncConnection

from switchboard.agent_sessions import repository as sessions
from switchboard.agent_sessions.keys import token_hash
from switchboard.agents import repository, totp
from switchboard.agents.models import ENROLMENT_HOURS, Agent, NewAgent, Role
from switchboard.agents.passwords import PasswordChecker, check_new_password
from switchboard.audit import service as audit
from switchboard.audit.models import Actor, ActorType, AuditEntry
from switchboard.enum_input import member_of
from switchboard.errors import (
    AgentExists,
    AgentNotFound,
    EnrolmentInvalid,
    InvalidInput,
    SignInFailed,
)
from switchboard.sealing import seal, unseal
from switchboard.time_zones import iana_zone

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_EMAIL = 254
MAX_NAME = 200


def _email(value: str) -> str:
    email = value.strip().lower()
    if len(email) > MAX_EMAIL or not _EMAIL.match(email):
        raise InvalidInput(f"{value!r} is not an email address", hint="such as ada@bank.example")
    return email


async def _known_queues(conn: AsyncConnection[Any], asked: Iterable[str]) -> list[str]:
    wanted = sorted({q.strip() for q in asked})
    existing = await repository.queue_names(conn)
    unknown = [q for q in wanted if q not in existing]
    if unknown:
        raise InvalidInput(
            f"no such queue: {', '.join(unknown)}", hint=f"the queues are: {', '.join(existing)}"
        )
    return wanted


async def _agent(conn: AsyncConnection[Any], email: str) -> Agent:
    agent = await repository.agent_by_email(conn, email)
    if agent is None:
        raise AgentNotFound(f"no agent has the email {email}", hint="`switchboard agents list`")
    return agent


async def add_agent(
    conn: AsyncConnection[Any],
    actor: Actor,
    *,
    email: str,
    display_name: str,
    role: str,
    queues: Iterable[str] = (),
    time_zone: str = "UTC",
) -> NewAgent:
    """A new agent, active, not enrolled yet: its enrolment secret is returned this once and
    kept only as its SHA-256. `time_zone` (IANA): the console shows them times in it."""
    email = _email(email)
    name = display_name.strip()
    if not name or len(name) > MAX_NAME:
        raise InvalidInput(f"a display name of 1 to {MAX_NAME} characters is needed")
    chosen = member_of(Role, role, "role")
    iana_zone(time_zone)
    secret = secrets.token_urlsafe(32)
    async with conn.transaction():
        wanted = await _known_queues(conn, queues)
        try:
            async with conn.transaction():
                agent_id, expires_at = await repository.insert_agent(
                    conn,
                    email=email,
                    display_name=name,
                    role=chosen,
                    enrolment_secret_hash=token_hash(secret),
                    enrolment_hours=ENROLMENT_HOURS,
                    time_zone=time_zone,
                )
        except psycopg.errors.UniqueViolation:
            raise AgentExists(
                f"an agent with the email {email} exists already",
                hint="`switchboard agents list`; a disabled one stays, with its audit trail",
            ) from None
        await repository.add_queues(conn, agent_id, wanted)
        await audit.append(
            conn,
            AuditEntry(
                actor_type=actor.type,
                actor_id=actor.id,
                event_type="agent.added",
                success=True,
                input={
                    "agent_id": agent_id,
                    "role": str(chosen),
                    "queues": wanted,
                    "time_zone": time_zone,
                },
                output={"enrolment_expires_at": expires_at.isoformat()},
            ),
        )
        agent = await repository.agent_by_id(conn, agent_id)
    assert agent is not None  # noqa: S101 - written just above, in this transaction
    return NewAgent(agent=agent, enrolment_secret=secret, enrolment_expires_at=expires_at)


async def list_agents(conn: AsyncConnection[Any]) -> list[Agent]:
    return await repository.list_agents(conn)


async def disable_agent(conn: AsyncConnection[Any], actor: Actor, email: str) -> int:
    """Disable the agent and end every session of theirs at once: how many were open."""
    async with conn.transaction():
        agent = await _agent(conn, _email(email))
        changed = await repository.disable(conn, agent.id)
        ended = await sessions.revoke_all(conn, agent.id, "agent_disabled")
        await audit.append(
            conn,
            AuditEntry(
                actor_type=actor.type,
                actor_id=actor.id,
                event_type="agent.disabled",
                success=True,
                input={"agent_id": agent.id},
                output={"was_active": changed, "sessions_revoked": ended},
            ),
        )
    return ended


async def change_queues(
    conn: AsyncConnection[Any],
    actor: Actor,
    email: str,
    *,
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
) -> Agent:
    async with conn.transaction():
        agent = await _agent(conn, _email(email))
        adding = await _known_queues(conn, add)
        removing = await _known_queues(conn, remove)
        if set(adding) & set(removing):
            raise InvalidInput("a queue cannot be both added and removed")
        added = await repository.add_queues(conn, agent.id, adding)
        removed = await repository.remove_queues(conn, agent.id, removing)
        await repository.touch(conn, agent.id)
        await audit.append(
            conn,
            AuditEntry(
                actor_type=actor.type,
                actor_id=actor.id,
                event_type="agent.queues_changed",
                success=True,
                input={"agent_id": agent.id, "add": adding, "remove": removing},
                output={"added": added, "removed": removed},
            ),
        )
        changed = await repository.agent_by_id(conn, agent.id)
    assert changed is not None  # noqa: S101 - read in this transaction
    return changed


def _invalid_enrolment() -> EnrolmentInvalid:
    return EnrolmentInvalid(
        "this enrolment link is unknown, used or expired",
        hint="ask an administrator for a new one (`switchboard agents add` prints it)",
    )


async def start_enrolment(
    conn: AsyncConnection[Any],
    checker: PasswordChecker,
    seal_key: bytes | None,
    *,
    secret: str,
    password: str,
) -> str:
    """Set the agent's password and a new TOTP secret: its provisioning URI, shown this once.
    The enrolment secret stays valid until the first code is confirmed (or it expires)."""
    check_new_password(password)
    secret_hash = token_hash(secret)
    found = await repository.enrolment_for_update(conn, secret_hash)
    if found is None or found.password_set:
        raise _invalid_enrolment()
    hashed = await checker.hash(password)  # outside the transaction: it takes a while
    totp_secret = totp.new_secret()
    async with conn.transaction():
        enrolment = await repository.enrolment_for_update(conn, secret_hash)
        if enrolment is None or enrolment.password_set:
            raise _invalid_enrolment()
        sealed = seal(seal_key, totp_secret, bound_to=enrolment.agent_id)
        await repository.set_password_and_totp(conn, enrolment.agent_id, hashed, sealed)
        await audit.append(
            conn,
            AuditEntry(
                actor_type=ActorType.AGENT,
                actor_id=str(enrolment.agent_id),
                event_type="agent.password_set",
                success=True,
                input={"agent_id": enrolment.agent_id},
            ),
        )
    return totp.provisioning_uri(totp_secret, enrolment.email)


async def confirm_enrolment(
    conn: AsyncConnection[Any], seal_key: bytes | None, *, secret: str, code: str
) -> None:
    """Accept the first code of the agent's authenticator, and burn the enrolment secret."""
    async with conn.transaction():
        enrolment = await repository.enrolment_for_update(conn, token_hash(secret))
        if enrolment is None or not enrolment.password_set or not enrolment.totp_secret_sealed:
            raise _invalid_enrolment()
        opened = unseal(seal_key, enrolment.totp_secret_sealed, bound_to=enrolment.agent_id)
        step = totp.matched_step(opened, code)
        accepted = step is not None and await repository.accept_totp_step(
            conn, enrolment.agent_id, step
        )
        if accepted:
            await repository.burn_enrolment(conn, enrolment.agent_id)
        await audit.append(
            conn,
            AuditEntry(
                actor_type=ActorType.AGENT,
                actor_id=str(enrolment.agent_id),
                event_type="agent.enrolled" if accepted else "agent.enrolment_code_failed",
                success=accepted,
                input={"agent_id": enrolment.agent_id},
                error_code=None if accepted else "sign_in_failed",
            ),
        )
    if not accepted:
        raise SignInFailed(
            "the code is not the authenticator's current one",
            hint="scan the QR code (or enter the key) again, then send the code it shows now",
        )
