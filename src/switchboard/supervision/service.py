"""A supervisor's reads: the figures of their queues, a queue's live items a page at a time,
recent SLA breaches. Each is one transaction in the supervisor's name (row_security): what
the policies do not let them see is not counted, listed or found."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection

from switchboard.assignments.service import require_supervisor
from switchboard.errors import InvalidInput, QueueNotFound
from switchboard.row_security import AgentClaims, act_as_agent
from switchboard.supervision import repository
from switchboard.supervision.models import Breach, ItemsPage, QueueFigures

DEFAULT_PAGE = 50
MAX_PAGE = 200
BREACHES_SINCE = timedelta(hours=24)
MAX_BREACHES = 500


async def queue_figures(conn: AsyncConnection[Any], supervisor: AgentClaims) -> list[QueueFigures]:
    """Every queue the caller supervises (an admin: every queue), with its figures now."""
    require_supervisor(supervisor)
    async with conn.transaction():
        await act_as_agent(conn, supervisor)
        return await repository.queue_figures(conn)


async def queue_items(
    conn: AsyncConnection[Any],
    supervisor: AgentClaims,
    queue: str,
    *,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE,
) -> ItemsPage:
    """The queue's live items (queued, offered, active, wrap-up), oldest first, after `cursor`."""
    require_supervisor(supervisor)
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit is 1 to {MAX_PAGE}")
    after = _decode(cursor) if cursor else None
    async with conn.transaction():
        await act_as_agent(conn, supervisor)
        if not await repository.supervises(conn, queue):
            raise QueueNotFound(f"no queue {queue!r} among those you supervise")
        items = await repository.queue_items(conn, queue, after=after, limit=limit + 1)
    more = len(items) > limit
    items = items[:limit]
    last = items[-1] if more else None
    return ItemsPage(items, None if last is None else _encode(last.enqueued_at, last.id))


async def breaches(
    conn: AsyncConnection[Any],
    supervisor: AgentClaims,
    *,
    since: datetime | None = None,
    limit: int = 100,
    now: datetime | None = None,
) -> list[Breach]:
    """SLA clocks breached since `since` (default: the last 24 hours) in the caller's queues,
    and regulatory clocks of cases the caller may see; newest first."""
    require_supervisor(supervisor)
    if not 1 <= limit <= MAX_BREACHES:
        raise InvalidInput(f"limit is 1 to {MAX_BREACHES}")
    moment = now or datetime.now(UTC)
    if since is None:
        since = moment - BREACHES_SINCE
    elif since.tzinfo is None:
        raise InvalidInput("since needs a time zone", hint="e.g. 2026-11-02T09:00:00Z")
    async with conn.transaction():
        await act_as_agent(conn, supervisor)
        return await repository.breaches(conn, since=since, limit=limit)


def _encode(at: datetime, item_id: UUID) -> str:
    return base64.urlsafe_b64encode(f"{at.isoformat()}|{item_id}".encode()).decode()


def _decode(cursor: str) -> tuple[datetime, UUID]:
    try:
        at, _, item_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        moment = datetime.fromisoformat(at)
        if moment.tzinfo is None:
            raise ValueError(at)
        return moment, UUID(item_id)
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise InvalidInput(
            "this cursor is not one a page gave", hint="start again without it"
        ) from exc
