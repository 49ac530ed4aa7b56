"""The agents' JSON API for enrolment and sign-in, and `signed_in_agent`, the dependency every
route of an agent uses: it answers 401 `not_signed_in` without a live session and 403
`csrf_failed` for an unsafe method without proof that our own pages sent it.

CSRF (docs/agents.md): an unsafe method (POST, PUT, PATCH, DELETE) on a signed-in session needs
both (1) a browser's word that the request comes from our own origin: `Sec-Fetch-Site`
`same-origin` or `none` where the browser sends it (it is authoritative then: `cross-site` or
`same-site` is refused whatever `Origin` says), else an `Origin` equal to SWITCHBOARD_PUBLIC_URL's
origin; and (2) an `X-CSRF-Token` header equal to the session's CSRF token (an HMAC of the
session token, given by sign-in and GET /api/v1/session). Sign-in and enrolment, which have no
session yet, check (1).
"""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import urlsplit
from uuid import UUID

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from switchboard.agent_sessions import service
from switchboard.agent_sessions.keys import SignInKeys
from switchboard.agent_sessions.models import (
    ABSOLUTE,
    COOKIE,
    CSRF_HEADER,
    LiveSession,
    SignedInAgent,
    Stage,
)
from switchboard.agents import service as agents
from switchboard.agents.models import Role
from switchboard.agents.passwords import MAX_CHARS, PasswordChecker
from switchboard.api_docs import ErrorBody
from switchboard.audit.models import Actor, ActorType
from switchboard.errors import CsrfFailed, Forbidden, NotSignedIn
from switchboard.settings import Settings
from switchboard.webhooks.common import pool_of, settings_of

_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SAME_SITE = frozenset({"same-origin", "none"})


def _answer(codes: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": codes}


_SESSION_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _answer("`not_signed_in`: no session, or it was signed out, revoked or expired"),
    403: _answer("`csrf_failed`: an unsafe method without the origin or X-CSRF-Token proof"),
    503: _answer("`database_unavailable`: retry later"),
}
_SIGN_IN_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _answer("`sign_in_failed`: the email, password or code is wrong (one answer for all)"),
    403: _answer(
        "`csrf_failed` (not sent from our own origin) or `enrolment_incomplete` (the role "
        "needs a TOTP code and none was confirmed)"
    ),
    422: _answer("`invalid_request`"),
    429: _answer("`sign_in_blocked`: too many failures in a row; wait Retry-After seconds"),
    503: _answer("`sign_in_busy` or `database_unavailable`: retry after Retry-After seconds"),
}
_ENROLMENT_ERRORS: dict[int | str, dict[str, Any]] = {
    401: _answer("`enrolment_invalid` (unknown, used or expired) or `sign_in_failed` (code)"),
    403: _answer("`csrf_failed`: not sent from our own origin"),
    422: _answer("`invalid_input` (password of 12 to 1024 characters) or `invalid_request`"),
}

router = APIRouter(prefix="/api/v1", tags=["agents"])


# --- what the routes share --------------------------------------------------------------


def sign_in_for(settings: Settings) -> service.SignIn:
    """What sign-in needs for these settings; create_app keeps it in app.state.sign_in."""
    return service.SignIn(
        checker=PasswordChecker(),
        keys=SignInKeys.from_secret(settings.switchboard_secret_key),
        totp_for_every_agent=settings.production,
    )


def sign_in_context(request: Request) -> service.SignIn:
    context: service.SignIn = request.app.state.sign_in
    return context


def _own_origin(settings: Settings) -> str:
    parts = urlsplit(settings.public_url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def require_same_origin(request: Request) -> None:
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        if site.strip().lower() in _SAME_SITE:
            return
        raise CsrfFailed(f"refused: the browser says this request is {site}")
    origin = (request.headers.get("origin") or "").rstrip("/").lower()
    if origin and origin == _own_origin(settings_of(request)):
        return
    raise CsrfFailed(
        "refused: the request does not come from this service's own origin",
        hint="send it from the console, or with Origin: " + _own_origin(settings_of(request)),
    )


def client_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


async def _current(request: Request) -> tuple[LiveSession, str]:
    """The live session of the cookie (any stage), with CSRF checked for an unsafe method."""
    token = request.cookies.get(COOKIE)
    if not token:
        raise NotSignedIn("not signed in", hint="sign in: POST /api/v1/session")
    if request.method in _UNSAFE:
        require_same_origin(request)
        expected = sign_in_context(request).keys.csrf_token(token)
        presented = request.headers.get(CSRF_HEADER, "")
        if not hmac.compare_digest(presented.encode(), expected.encode()):
            raise CsrfFailed(
                f"refused: {CSRF_HEADER} is missing or wrong",
                hint="send the csrf_token that GET /api/v1/session gives, in " + CSRF_HEADER,
            )
    async with pool_of(request).connection() as conn:
        session = await service.live_session(conn, token)
    return session, token


def csrf_token_of(request: Request) -> str:
    """The CSRF token of the request's session cookie, for a page of ours to send back."""
    return sign_in_context(request).keys.csrf_token(request.cookies.get(COOKIE, ""))


async def current_session(request: Request) -> LiveSession:
    session, _ = await _current(request)
    return session


async def signed_in_agent(request: Request) -> SignedInAgent:
    """The agent whose signed-in session sent the request (both factors passed)."""
    session, _ = await _current(request)
    if session.stage != Stage.SIGNED_IN:
        raise NotSignedIn(
            "sign-in is not finished: the authenticator code is awaited",
            hint="POST /api/v1/session/totp",
        )
    return SignedInAgent(
        agent_id=session.agent_id,
        email=session.email,
        display_name=session.display_name,
        role=session.role,
        queues=tuple(session.queues),
        session_id=session.id,
        time_zone=session.time_zone,
    )


SignedIn = Annotated[SignedInAgent, Depends(signed_in_agent)]
AnyStage = Annotated[LiveSession, Depends(current_session)]


# --- request and response bodies --------------------------------------------------------


class SignInBody(BaseModel):
    # No control character: such an "email" is refused before it is counted as a failure
    # (a NUL could not even be looked up).
    email: str = Field(min_length=3, max_length=254, pattern=r"^[^\x00-\x1f\x7f]+$")
    password: str = Field(min_length=1, max_length=MAX_CHARS)


class CodeBody(BaseModel):
    code: str = Field(min_length=1, max_length=12, description="the authenticator's 6 digits")


class EnrolmentBody(BaseModel):
    secret: str = Field(min_length=1, max_length=200, description="from `agents add`")
    password: str = Field(min_length=1, max_length=MAX_CHARS, description="12 to 1024 chars")


class EnrolmentConfirmBody(BaseModel):
    secret: str = Field(min_length=1, max_length=200)
    code: str = Field(min_length=1, max_length=12)


class EnrolmentStarted(BaseModel):
    provisioning_uri: str = Field(
        description="otpauth:// URI for an authenticator app (as a QR code); shown once"
    )


class Enrolled(BaseModel):
    enrolled: bool = True


class SessionInfo(BaseModel):
    agent_id: UUID
    email: str
    display_name: str
    role: str
    queues: list[str]
    stage: str = Field(description="`password`: a TOTP code is awaited; `signed_in`")
    idle_expires_at: datetime
    absolute_expires_at: datetime
    csrf_token: str = Field(description="send it as X-CSRF-Token with every unsafe method")


class Revoked(BaseModel):
    sessions_revoked: int


def _info(session: LiveSession, csrf_token: str) -> SessionInfo:
    return SessionInfo(
        agent_id=session.agent_id,
        email=session.email,
        display_name=session.display_name,
        role=session.role,
        queues=session.queues,
        stage=session.stage,
        idle_expires_at=session.idle_expires_at,
        absolute_expires_at=session.absolute_expires_at,
        csrf_token=csrf_token,
    )


def _set_cookie(response: Response, token: str) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=int(ABSOLUTE.total_seconds()),
        path="/",
        secure=True,
        httponly=True,
        samesite="strict",
    )


# --- routes ------------------------------------------------------------------------------


@router.post(
    "/enrolment",
    summary="Set the password of a new agent; answers the TOTP provisioning URI, once",
    responses=_ENROLMENT_ERRORS,
)
async def start_enrolment(request: Request, body: EnrolmentBody) -> EnrolmentStarted:
    require_same_origin(request)
    context = sign_in_context(request)
    async with pool_of(request).connection() as conn:
        uri = await agents.start_enrolment(
            conn,
            context.checker,
            context.keys.totp_seal,
            secret=body.secret,
            password=body.password,
        )
    return EnrolmentStarted(provisioning_uri=uri)


@router.post(
    "/enrolment/confirm",
    summary="Confirm the authenticator's first code; the enrolment secret is then used up",
    responses=_ENROLMENT_ERRORS,
)
async def confirm_enrolment(request: Request, body: EnrolmentConfirmBody) -> Enrolled:
    require_same_origin(request)
    context = sign_in_context(request)
    async with pool_of(request).connection() as conn:
        await agents.confirm_enrolment(
            conn, context.keys.totp_seal, secret=body.secret, code=body.code
        )
    return Enrolled()


@router.post(
    "/session",
    summary="Sign in with email and password; sets the session cookie",
    responses=_SIGN_IN_ERRORS,
)
async def sign_in(request: Request, response: Response, body: SignInBody) -> SessionInfo:
    require_same_origin(request)
    context = sign_in_context(request)
    attempt = service.Attempt(
        email=body.email, client=client_of(request), user_agent=request.headers.get("user-agent")
    )
    new = await service.sign_in(pool_of(request), context, attempt, body.password)
    _set_cookie(response, new.token)
    async with pool_of(request).connection() as conn:
        session = await service.live_session(conn, new.token)
    return _info(session, context.keys.csrf_token(new.token))


@router.post(
    "/session/totp",
    summary="The authenticator code that finishes sign-in",
    responses=_SIGN_IN_ERRORS,
)
async def confirm_totp(request: Request, response: Response, body: CodeBody) -> SessionInfo:
    session, token = await _current(request)
    context = sign_in_context(request)
    renewed = await service.confirm_totp(
        pool_of(request), context, session, body.code, client_of(request)
    )
    if renewed is not None:
        # A new token for the signed-in session: whoever held the first factor's cannot use it.
        token = renewed
        _set_cookie(response, token)
    async with pool_of(request).connection() as conn:
        confirmed = await service.live_session(conn, token)
    return _info(confirmed, context.keys.csrf_token(token))


@router.get("/session", summary="Who is signed in", responses=_SESSION_ERRORS)
async def who(request: Request) -> SessionInfo:
    session, token = await _current(request)
    return _info(session, sign_in_context(request).keys.csrf_token(token))


@router.delete(
    "/session",
    summary="Sign out: the session ends at once",
    status_code=204,
    responses=_SESSION_ERRORS,
)
async def sign_out(request: Request, session: AnyStage) -> Response:
    async with pool_of(request).connection() as conn:
        await service.sign_out(conn, session)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/", secure=True, httponly=True, samesite="strict")
    return response


@router.post(
    "/agents/{agent_id}/sessions/revoke",
    summary="End every session of an agent at once (administrators)",
    responses={
        **_SESSION_ERRORS,
        403: _answer("`csrf_failed`, or `forbidden`: only an administrator may"),
        404: _answer("`agent_not_found`"),
    },
)
async def revoke_sessions(request: Request, agent_id: UUID, admin: SignedIn) -> Revoked:
    if admin.role != Role.ADMIN:
        raise Forbidden("only an administrator may end another agent's sessions")
    async with pool_of(request).connection() as conn:
        ended = await service.revoke_all(
            conn, Actor(ActorType.ADMIN, str(admin.agent_id)), agent_id
        )
    return Revoked(sessions_revoked=ended)
