"""Signing in (password, then a TOTP code where one is needed), reading a session, signing out
and revoking every session of an agent; the back-off on failures. One transaction per change,
audited in it.

A password is checked outside any transaction and without holding a connection (it takes a
while); attempts while blocked are refused before the password is looked at, counted on the
subject's row and not audited one by one: one record when a block starts.

An attempt is counted as a failure before it is checked (reserved, under the subject's row
lock), and the count undone if it passes: counted after, a burst of concurrent attempts would
all be checked before the first failure was counted, each one a free guess.
"""

from __future__ import annotations

import dataclasses
import math
import secrets
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from switchboard.agent_sessions import repository
from switchboard.agent_sessions.keys import SignInKeys, token_hash
from switchboard.agent_sessions.models import (
    ABSOLUTE,
    AWAITING_CODE,
    BLOCK_CAP,
    FREE_FAILURES,
    IDLE,
    TOUCH_EVERY,
    Failure,
    LiveSession,
    NewSession,
    Stage,
    SubjectKind,
)
from switchboard.agents import repository as agents
from switchboard.agents import totp
from switchboard.agents.models import Credentials, Role, Status
from switchboard.agents.passwords import PasswordChecker
from switchboard.audit import service as audit
from switchboard.audit.models import Actor, ActorType, AuditEntry
from switchboard.errors import (
    AgentNotFound,
    EnrolmentIncomplete,
    NotSignedIn,
    SignInBlocked,
    SignInFailed,
)
from switchboard.sealing import unseal

# Who acts in the audit record of a failure whose email names no agent.
_UNKNOWN = Actor(ActorType.SYSTEM, "sign_in")


@dataclass(frozen=True)
class SignIn:
    """What sign-in needs besides the request: the password checker, the keys, and whether
    every agent needs a TOTP code (production)."""

    checker: PasswordChecker
    keys: SignInKeys
    totp_for_every_agent: bool


@dataclass(frozen=True)
class Attempt:
    email: str
    client: str
    user_agent: str | None


def _failed() -> SignInFailed:
    return SignInFailed(
        "the email, password or code is wrong",
        hint="check them and try again; repeated failures make you wait longer each time",
    )


def totp_needed(creds: Credentials, *, for_every_agent: bool) -> bool:
    return (
        creds.role in (Role.SUPERVISOR, Role.ADMIN)
        or for_every_agent
        or creds.totp_last_step is not None  # the agent confirmed an authenticator
    )


async def _refuse_if_blocked(conn: AsyncConnection[Any], subjects: list[tuple[str, str]]) -> None:
    wait = await repository.refuse_if_blocked(conn, subjects)
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        raise SignInBlocked(
            f"too many failed sign-ins: try again in {seconds} s", retry_after=seconds
        )


Reserved = list[tuple[str, str, Failure]]


async def _reserve(conn: AsyncConnection[Any], subjects: list[tuple[str, str]]) -> Reserved:
    """The attempt counted as a failure of each subject, before it is checked; SignInBlocked
    (and nothing counted but the refusal) while any of them is blocked."""
    await _refuse_if_blocked(conn, subjects)
    reserved: Reserved = []
    try:
        async with conn.transaction():
            for kind, subject in subjects:  # always account, then client: one lock order
                failure = await repository.reserve_attempt(
                    conn, kind, subject, free=FREE_FAILURES, cap=BLOCK_CAP
                )
                if failure is None:
                    raise _Raced
                reserved.append((kind, subject, failure))
    except _Raced:
        # Blocked since the check above by a concurrent attempt: nothing of this one is kept.
        await _refuse_if_blocked(conn, subjects)
        raise SignInBlocked("too many failed sign-ins: try again in 1 s", retry_after=1) from None
    return reserved


class _Raced(Exception):
    """A subject was blocked between the check and the reservation."""


async def _release(conn: AsyncConnection[Any], reserved: Reserved, *, kinds: set[str]) -> None:
    """Undo the reservation for the subjects of `kinds`: the attempt did not fail."""
    for kind, subject, _ in reserved:
        if kind in kinds:
            await repository.release_attempt(conn, kind, subject, free=FREE_FAILURES)


_EVERY_KIND = {SubjectKind.ACCOUNT.value, SubjectKind.CLIENT.value}


async def _release_on_error(pool: AsyncConnectionPool[Any], reserved: Reserved) -> None:
    async with pool.connection() as conn, conn.transaction():
        await _release(conn, reserved, kinds=_EVERY_KIND)


async def _audit_failure(
    conn: AsyncConnection[Any],
    *,
    actor: Actor,
    reserved: Reserved,
    event_type: str,
    reason: str,
    details: dict[str, Any],
) -> None:
    """The failure, counted when its attempt was reserved, audited; a block it started is
    audited once."""
    async with conn.transaction():
        await audit.append(
            conn,
            AuditEntry(
                actor_type=actor.type,
                actor_id=actor.id,
                event_type=event_type,
                success=False,
                input={**details, "reason": reason},
                error_code="sign_in_failed",
            ),
        )
        for kind, _, failure in reserved:
            if not failure.block_started:
                continue
            block = {
                "subject_kind": kind,
                "failures": failure.failures,
                "blocked_until": failure.blocked_until.isoformat(),
                "refused_while_blocked": failure.refused_while_blocked,
            }
            await audit.append(
                conn,
                AuditEntry(
                    actor_type=actor.type,
                    actor_id=actor.id,
                    event_type="agent.sign_in_blocked",
                    success=False,
                    input={**details, **block},
                    error_code="sign_in_blocked",
                ),
            )


async def sign_in(
    pool: AsyncConnectionPool[Any], context: SignIn, attempt: Attempt, password: str
) -> NewSession:
    """A new session: at stage `password` when a TOTP code must follow, else `signed_in`."""
    account = context.keys.account_subject(attempt.email)
    subjects = [(SubjectKind.ACCOUNT.value, account), (SubjectKind.CLIENT.value, attempt.client)]
    async with pool.connection() as conn:
        reserved = await _reserve(conn, subjects)
        creds = await agents.credentials_by_email(conn, attempt.email)
    # Checked whether or not the agent exists or is active: every failure costs the same.
    try:
        matches, rehashed = await context.checker.verify(
            creds.password_hash if creds else None, password
        )
    except BaseException:
        await _release_on_error(pool, reserved)  # not checked (busy): not a failure
        raise
    refusal = (
        "unknown_email"
        if creds is None
        else "not_enrolled"
        if creds.password_hash is None
        else "wrong_password"
        if not matches
        else "disabled"
        if creds.status != Status.ACTIVE
        else None
    )
    async with pool.connection() as conn:
        if creds is None or refusal is not None:
            known = creds is not None
            await _audit_failure(
                conn,
                actor=Actor(ActorType.AGENT, str(creds.id)) if creds else _UNKNOWN,
                reserved=reserved,
                event_type="agent.sign_in_failed",
                reason=refusal or "unknown_email",
                details={"agent_id": creds.id} if known and creds else {"account": account},
            )
            raise _failed()
        actor = Actor(ActorType.AGENT, str(creds.id))
        needed = totp_needed(creds, for_every_agent=context.totp_for_every_agent)
        if needed and creds.totp_last_step is None:
            async with conn.transaction():
                await _release(conn, reserved, kinds=_EVERY_KIND)  # the password was right
                await audit.append(
                    conn,
                    AuditEntry(
                        actor_type=actor.type,
                        actor_id=actor.id,
                        event_type="agent.sign_in_failed",
                        success=False,
                        input={"agent_id": creds.id, "reason": "totp_not_enrolled"},
                        error_code="enrolment_incomplete",
                    ),
                )
            raise EnrolmentIncomplete(
                "your role needs an authenticator code, and yours was never confirmed",
                hint="finish enrolment with your enrolment link, or ask an administrator "
                "for a new one",
            )
        stage = Stage.PASSWORD if needed else Stage.SIGNED_IN
        token = secrets.token_urlsafe(32)
        async with conn.transaction():
            if rehashed is not None:
                await agents.set_password_hash(conn, creds.id, rehashed)
            await repository.clear_failures(conn, SubjectKind.ACCOUNT.value, account)
            await _release(conn, reserved, kinds={SubjectKind.CLIENT.value})
            session_id, idle_at, absolute_at = await repository.insert_session(
                conn,
                token_hash=token_hash(token),
                agent_id=creds.id,
                stage=stage.value,
                idle=min(IDLE, AWAITING_CODE) if needed else IDLE,
                absolute=AWAITING_CODE if needed else ABSOLUTE,
                client_address=attempt.client,
                user_agent=(attempt.user_agent or "")[:500] or None,
            )
            await audit.append(
                conn,
                AuditEntry(
                    actor_type=actor.type,
                    actor_id=actor.id,
                    event_type="agent.signed_in" if not needed else "agent.password_accepted",
                    success=True,
                    input={"agent_id": creds.id, "client": attempt.client},
                    output={"session_id": session_id, "stage": stage.value},
                ),
            )
    return NewSession(session_id, token, stage.value, idle_at, absolute_at)


async def confirm_totp(
    pool: AsyncConnectionPool[Any], context: SignIn, session: LiveSession, code: str, client: str
) -> str | None:
    """The second factor: the session becomes `signed_in` under a new token, returned (None:
    it was signed in already, and keeps its token). A code is accepted once."""
    if session.stage != Stage.PASSWORD:
        return None
    account = context.keys.account_subject(session.email)
    subjects = [(SubjectKind.ACCOUNT.value, account), (SubjectKind.CLIENT.value, client)]
    actor = Actor(ActorType.AGENT, str(session.agent_id))
    async with pool.connection() as conn:
        reserved = await _reserve(conn, subjects)
        creds = await agents.credentials_by_id(conn, session.agent_id)
        step = None
        if creds is not None and creds.totp_secret_sealed is not None:
            secret = unseal(context.keys.totp_seal, creds.totp_secret_sealed, bound_to=creds.id)
            step = totp.matched_step(secret, code)
        accepted = False
        token = secrets.token_urlsafe(32)
        if step is not None:
            async with conn.transaction():
                accepted = await agents.accept_totp_step(conn, session.agent_id, step)
                if accepted and not await repository.promote(
                    conn, session.id, token_hash(token), idle=IDLE, absolute=ABSOLUTE
                ):
                    raise NotSignedIn("the session ended before its code was sent")
                if accepted:
                    await repository.clear_failures(conn, SubjectKind.ACCOUNT.value, account)
                    await _release(conn, reserved, kinds={SubjectKind.CLIENT.value})
                    await audit.append(
                        conn,
                        AuditEntry(
                            actor_type=actor.type,
                            actor_id=actor.id,
                            event_type="agent.signed_in",
                            success=True,
                            input={"agent_id": session.agent_id, "client": client},
                            output={"session_id": session.id, "stage": Stage.SIGNED_IN.value},
                        ),
                    )
        if not accepted:
            await _audit_failure(
                conn,
                actor=actor,
                reserved=reserved,
                event_type="agent.totp_failed",
                reason="reused_code" if step is not None else "wrong_code",
                details={"agent_id": session.agent_id, "session_id": session.id},
            )
            raise _failed()
    return token


async def live_session(conn: AsyncConnection[Any], token: str) -> LiveSession:
    """The session this token opens, its idle expiry pushed on; NotSignedIn otherwise."""
    session = await repository.live_session(conn, token_hash(token))
    if session is None:
        raise NotSignedIn(
            "not signed in (no session, or it was signed out, revoked or expired)",
            hint="sign in: POST /api/v1/session",
        )
    slid = await repository.slide_idle_expiry(conn, session.id, idle=IDLE, every=TOUCH_EVERY)
    if slid is None:
        return session
    return dataclasses.replace(session, idle_expires_at=slid)


async def still_live(conn: AsyncConnection[Any], session_id: UUID) -> bool:
    """Whether the session is neither signed out, revoked nor expired, without pushing its
    idle expiry on: a live stream held open is not the agent at work."""
    return await repository.session_is_live(conn, session_id)


async def sign_out(conn: AsyncConnection[Any], session: LiveSession) -> None:
    async with conn.transaction():
        ended = await repository.revoke(conn, session.id, "signed_out")
        await audit.append(
            conn,
            AuditEntry(
                actor_type=ActorType.AGENT,
                actor_id=str(session.agent_id),
                event_type="agent.signed_out",
                success=True,
                input={"agent_id": session.agent_id, "session_id": session.id},
                output={"ended": ended},
            ),
        )


async def revoke_all(conn: AsyncConnection[Any], admin: Actor, agent_id: UUID) -> int:
    """End every session of the agent at once: how many were open."""
    async with conn.transaction():
        if await agents.agent_by_id(conn, agent_id) is None:
            raise AgentNotFound(f"no agent has the id {agent_id}")
        ended = await repository.revoke_all(conn, agent_id, "revoked_by_admin")
        await audit.append(
            conn,
            AuditEntry(
                actor_type=admin.type,
                actor_id=admin.id,
                event_type="agent.sessions_revoked",
                success=True,
                input={"agent_id": agent_id},
                output={"sessions_revoked": ended},
            ),
        )
    return ended
