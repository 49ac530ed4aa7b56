"""GET /api/v1/events: a signed-in agent's live updates, as server-sent events.

Each change the process's listener hears of is read again as the agent (live/service.py)
and sent only if the agent may see it, as ids: `event: assignment` `data: {"id": …}`. The
stream beats every heartbeat (a comment), and checks its session then and whenever the
session's row changes: once it is signed out, revoked or expired it sends `signed-out` and
ends, which is how every tab of the session learns of a sign-out.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Any

import psycopg
from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from psycopg_pool import AsyncConnectionPool, PoolTimeout
from starlette.background import BackgroundTask

from switchboard.agent_api.conversations import claims_of
from switchboard.agent_api.errors import SIGNED_IN, answer
from switchboard.agent_sessions import service as sessions
from switchboard.agent_sessions.http import SignedIn
from switchboard.agent_sessions.models import SignedInAgent
from switchboard.live import service
from switchboard.live.listener import Listener, Stream
from switchboard.live.models import RESYNC, SIGNED_OUT, Event
from switchboard.webhooks.common import pool_of, settings_of

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/v1", tags=["live"])
# How long a browser waits before it connects again after the stream ends (SSE `retry:`).
RETRY_MS = 3000
_STREAM_HEADERS = {"X-Accel-Buffering": "no"}  # a proxy in front must not hold events back


def listener_of(request: Request) -> Listener:
    listener: Listener = request.app.state.live
    return listener


@router.get(
    "/events",
    summary="Live updates for the signed-in agent (text/event-stream): ids of what changed",
    response_class=StreamingResponse,
    responses={
        200: {
            "content": {"text/event-stream": {}},
            "description": "events assignment, message, sla, case, note, presence, resync, "
            "signed-out; a comment every heartbeat",
        },
        **SIGNED_IN,
        429: answer("`too_many_live_streams`: this agent has as many streams open as allowed"),
        503: answer("`live_streams_busy` or `database_unavailable`: retry after Retry-After"),
    },
)
async def events(request: Request, agent: SignedIn) -> StreamingResponse:
    listener = listener_of(request)
    stream = listener.open(agent.agent_id, agent.session_id)
    resumed = request.headers.get("last-event-id") is not None
    heartbeat = settings_of(request).live_heartbeat_seconds
    body = _events(pool_of(request), listener, stream, agent, resumed=resumed, heartbeat=heartbeat)
    # Also closed here: a response cancelled before its body starts never runs the body's own
    # clean-up.
    return StreamingResponse(
        body,
        media_type="text/event-stream",
        headers=_STREAM_HEADERS,
        background=BackgroundTask(listener.close, stream),
    )


async def _events(
    pool: AsyncConnectionPool[Any],
    listener: Listener,
    stream: Stream,
    agent: SignedInAgent,
    *,
    resumed: bool,
    heartbeat: float,
) -> AsyncIterator[bytes]:
    claims = claims_of(agent)
    sent = 0
    try:
        yield f"retry: {RETRY_MS}\n\n".encode()
        if resumed:  # the browser reconnected: what happened meanwhile was not sent
            stream.resync()
        loop = asyncio.get_running_loop()
        session_due = loop.time() + heartbeat
        while True:
            batch = await stream.next(heartbeat)
            if batch is not None and batch.closing:
                return
            check = batch is None or batch.check_session or loop.time() >= session_due
            if check:
                async with listener.reading:
                    live = await _session_live(pool, agent)
                session_due = loop.time() + heartbeat
                if live is False:
                    sent += 1
                    yield Event(SIGNED_OUT, {}).encode(sent)
                    return
            if batch is None:
                yield b": heartbeat\n\n"
                continue
            resync = batch.resync
            found: list[Event] = []
            if batch.changes and not resync:
                try:
                    async with listener.reading:
                        found = await service.visible_events(pool, claims, batch.changes)
                except (psycopg.Error, PoolTimeout) as exc:
                    # What changed cannot be read now: the browser reads it all again later.
                    log.warning("live updates: a burst could not be read: %s", str(exc).strip())
                    resync = True
            if resync:
                sent += 1
                yield Event(RESYNC, {}).encode(sent)
                continue
            for event in found:
                sent += 1
                yield event.encode(sent)
    finally:
        listener.close(stream)


async def _session_live(pool: AsyncConnectionPool[Any], agent: SignedInAgent) -> bool | None:
    """Whether the stream's session is still live; None when the database cannot say now (the
    stream goes on, and asks again at the next heartbeat)."""
    try:
        async with pool.connection() as conn:
            return await sessions.still_live(conn, agent.session_id)
    except (psycopg.Error, PoolTimeout) as exc:
        log.warning("live updates: a session could not be checked: %s", str(exc).strip())
        return None
