"""Group commit of inbound texts: the webhooks that arrive while others are being written
are written together, in one transaction, and each is answered once it has committed.

Nothing waits for a group to fill: a text that finds a writer free is written at once, alone,
so at a quiet time each webhook costs what it always did. Only when every writer is busy do
texts queue, and the next free writer takes all of them (up to MAX_GROUP) in one
transaction. A group that fails for any reason (a deadlock with another group, a lock it
waited on too long, one message the database refuses) is retried message by message, in
the order they came, so one message's fault is that message's alone. A group and a text
written alone take the same path (inbound.record_inbound): alone, it is a group of one.
"""

from __future__ import annotations

import asyncio
import logging
from contextvars import Context
from types import TracebackType
from typing import Any, NamedTuple

from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import AsyncConnectionPool

from switchboard.db import connection_pool, database_fault
from switchboard.messages.inbound import record_inbound, shared_in_group
from switchboard.messages.models import InboundMessage, Recorded
from switchboard.metrics import Metrics
from switchboard.request_ids import REQUEST_ID, current_request_id

log = logging.getLogger(__name__)

# A group's statements grow with it; past this, a bigger group saves little and delays its
# first message's answer.
MAX_GROUP = 64
# Two: one group commits while the next is written, and a group held up by a slow WAL flush
# does not hold every text up; more would only split the queue into smaller groups.
WRITERS = 2
# How long a group may wait for a lock (a delivery or a thread another transaction holds,
# such as the provider's retry of a text still being written) before it gives up and its
# texts are written one by one: every text behind it waits meanwhile.
GROUP_LOCK_TIMEOUT_MS = 1000


class _Waiting(NamedTuple):
    message: InboundMessage
    future: asyncio.Future[Recorded]
    # The id of the request that brought it: its audit record's, not the writer's.
    request_id: str | None


class InboundTexts:
    """Where the Twilio messages webhook records what it was sent. Use it as an async context
    manager: it keeps its writers' connections (with GROUP_LOCK_TIMEOUT_MS) in a pool of its
    own, and on leaving waits for the groups being written. The size of each group written
    goes to `metrics`."""

    def __init__(
        self,
        pool: AsyncConnectionPool[Any],
        metrics: Metrics,
        *,
        max_group: int = MAX_GROUP,
        writers: int = WRITERS,
    ) -> None:
        self._pool = pool  # for the texts written one by one
        self._group_sizes = metrics.group_sizes
        # Added to what the URL may already set (a search_path, say), not in its place.
        conninfo = pool.conninfo
        if not isinstance(conninfo, str):
            raise TypeError("the texts' pool is built from the API pool's URL")
        options = conninfo_to_dict(conninfo).get("options")
        self._group_pool = connection_pool(
            conninfo,
            name="switchboard-texts",
            min_size=0,
            max_size=writers,
            wait_seconds=pool.timeout,
            options=f"{options or ''} -c lock_timeout={GROUP_LOCK_TIMEOUT_MS}".strip(),
        )
        self._max_group = max_group
        self._writers = writers
        self._waiting: list[_Waiting] = []
        self._writing = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._closed = False
        # Written in groups so far, for a look at how much grouping a load gets.
        self.groups = 0
        self.grouped_texts = 0

    @property
    def group_pool(self) -> AsyncConnectionPool[Any]:
        """The writers' pool, for its statistics (metrics.py)."""
        return self._group_pool

    async def __aenter__(self) -> InboundTexts:
        await self._group_pool.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._closed = True  # from now on each text is written alone
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._group_pool.close()

    async def record(self, message: InboundMessage) -> Recorded:
        """Store the message (inbound.record_inbound); returns once it has committed."""
        if self._closed:
            return await self._record_alone(message)
        future: asyncio.Future[Recorded] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(message, future, current_request_id()))
        if self._writing < self._writers:
            self._writing += 1
            # A context of its own: the writer serves many requests, not the one it started in.
            task = asyncio.create_task(
                self._write_while_waiting(), name="inbound texts writer", context=Context()
            )
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _write_while_waiting(self) -> None:
        try:
            while self._waiting:
                group = self._take_group()
                try:
                    await self._write(group)
                except asyncio.CancelledError:
                    # Its webhooks, and those queued behind it, must not wait for ever.
                    for waiting in group + self._waiting:
                        waiting.future.cancel()
                    self._waiting.clear()
                    raise
        finally:
            # No await between the loop's last look at the queue and this: a text queued
            # after it finds a writer slot free and starts one.
            self._writing -= 1

    def _take_group(self) -> list[_Waiting]:
        """The oldest waiting text and those like it (one provider, event type and direction
        a group)."""
        first = shared_in_group(self._waiting[0].message)
        group: list[_Waiting] = []
        rest: list[_Waiting] = []
        for waiting in self._waiting:
            alike = shared_in_group(waiting.message) == first
            (group if alike and len(group) < self._max_group else rest).append(waiting)
        self._waiting = rest
        return group

    async def _write(self, group: list[_Waiting]) -> None:
        try:
            results = await record_inbound(
                self._group_pool,
                [w.message for w in group],
                request_ids=[w.request_id for w in group],
            )
        except Exception as exc:
            if database_fault(exc) is not None:
                # The database failed, not a text: written alone, each would wait as long for
                # the same answer.
                for waiting in group:
                    if not waiting.future.done():
                        waiting.future.set_exception(database_fault(exc) or exc)
                return
            log.warning(
                "a group of %d inbound texts was not written; writing each alone",
                len(group),
                exc_info=True,
            )
            # One after the other, in the order they came: all at once would ask the shared
            # pool for as many connections, when the database is likely slow already.
            for waiting in group:
                await self._write_alone(waiting)
            return
        self.groups += 1
        self.grouped_texts += len(group)
        self._group_sizes.observe(len(group))
        for waiting, result in zip(group, results, strict=True):
            if not waiting.future.done():  # its webhook may have gone: the text is stored anyway
                waiting.future.set_result(result)

    async def _write_alone(self, waiting: _Waiting) -> None:
        future = waiting.future
        # Under its own request's id: its audit record and the lines logged meanwhile.
        token = REQUEST_ID.set(waiting.request_id)
        try:
            result = await self._record_alone(waiting.message)
        except Exception as exc:
            if not future.done():
                future.set_exception(exc)
        else:
            if not future.done():
                future.set_result(result)
        finally:
            REQUEST_ID.reset(token)

    async def _record_alone(self, message: InboundMessage) -> Recorded:
        [recorded] = await record_inbound(self._pool, [message])
        return recorded
