"""One LISTEN per process: a connection of its own (not the pool's: it is held for as long as
the process runs) receives cc_live's notifications and hands each to every open stream.

A stream holds at most BACKLOG changes it has not sent yet: a browser that reads slower than
changes come loses them, and is told to read everything again (resync) instead, so that no
stream grows without bound. When the connection is lost (the database restarts, an operator
ends the backend) the listener connects again, waiting a little longer each time, and every
stream is told to resync: what was notified meanwhile never arrives.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any
from uuid import UUID

import psycopg
from psycopg import AsyncConnection, sql

from switchboard.errors import LiveStreamsBusy, TooManyLiveStreams
from switchboard.live.models import CHANNEL, Change, Kind, parse

log = logging.getLogger(__name__)

# Changes a stream may hold unsent before it drops them for a resync.
BACKLOG = 256
# Reconnecting: the first wait, doubled after each failure up to the last.
FIRST_WAIT = 0.1
LONGEST_WAIT = 5.0
# How long the connection may stay quiet before it is asked whether it is still there.
PROBE_SECONDS = 30.0


@dataclass(frozen=True)
class Batch:
    """What a stream has to do now: all of it at once, so that one read serves a burst."""

    changes: list[Change]
    resync: bool
    check_session: bool
    closing: bool


@dataclass(eq=False)
class Stream:
    """An agent's open event stream, as the listener sees it: what it has not sent yet."""

    agent_id: UUID
    session_id: UUID
    _changes: list[Change] = field(default_factory=list)
    _resync: bool = False
    _check_session: bool = False
    _closing: bool = False
    _ready: asyncio.Event = field(default_factory=asyncio.Event)

    def push(self, change: Change) -> None:
        if self._resync:
            return  # everything will be read again: this one too
        if len(self._changes) >= BACKLOG:
            self._changes.clear()
            self._resync = True
        else:
            self._changes.append(change)
        self._ready.set()

    def resync(self) -> None:
        self._changes.clear()
        self._resync = True
        self._ready.set()

    def check_session(self) -> None:
        self._check_session = True
        self._ready.set()

    def close(self) -> None:
        self._closing = True
        self._ready.set()

    async def next(self, timeout: float) -> Batch | None:
        """What arrived, once something has; None when `timeout` passed without anything."""
        if not self._ready.is_set():
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._ready.wait()
            if not self._ready.is_set():
                return None
        batch = Batch(self._changes, self._resync, self._check_session, self._closing)
        self._changes = []
        self._resync = self._check_session = False
        self._ready.clear()
        return batch


class Listener:
    """LISTEN cc_live on `database_url`, for at most `per_agent` streams of one agent and
    `most` in all. Use it as an async context manager: entering starts listening (waiting
    up to `wait_seconds` for the first connection, then going on in the background),
    leaving stops it and closes every stream. `reading` bounds how many streams read a burst
    at once: the pool's other connections stay free for the requests of the API."""

    def __init__(
        self,
        database_url: str,
        *,
        per_agent: int,
        most: int,
        wait_seconds: float,
        readers: int = 5,
    ) -> None:
        self._url = database_url
        self._per_agent = per_agent
        self._most = most
        self._wait_seconds = wait_seconds
        self._streams: dict[UUID, set[Stream]] = {}
        self._count = 0
        self._task: asyncio.Task[None] | None = None
        self.listening = asyncio.Event()
        self.reading = asyncio.Semaphore(readers)

    async def __aenter__(self) -> Listener:
        self._task = asyncio.create_task(self._run(), name="live listener")
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(self._wait_seconds):
                await self.listening.wait()
        if not self.listening.is_set():
            log.warning("live updates: not listening yet; trying again in the background")
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        for stream in self._all():
            stream.close()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    def open(self, agent_id: UUID, session_id: UUID) -> Stream:
        """A new stream for the agent, or TooManyLiveStreams / LiveStreamsBusy."""
        mine = self._streams.get(agent_id, set())
        if len(mine) >= self._per_agent:
            raise TooManyLiveStreams(
                f"at most {self._per_agent} live streams per agent are open at once",
                hint="close a console tab, or wait for one to close",
            )
        if self._count >= self._most:
            raise LiveStreamsBusy(
                "this server has as many live streams open as it serves", hint="retry later"
            )
        stream = Stream(agent_id, session_id)
        self._streams[agent_id] = mine
        mine.add(stream)
        self._count += 1
        return stream

    def close(self, stream: Stream) -> None:
        """The stream is gone (its browser left, or it ended); closing it twice is harmless."""
        mine = self._streams.get(stream.agent_id)
        if mine is None or stream not in mine:
            return
        mine.discard(stream)
        self._count -= 1
        if not mine:
            del self._streams[stream.agent_id]

    @property
    def open_streams(self) -> int:
        return self._count

    def _all(self) -> Iterator[Stream]:
        for mine in list(self._streams.values()):
            yield from list(mine)

    def deliver(self, payload: str) -> None:
        """Hand a notification's changes to the streams: a session's end to that session's
        streams, anything else to every stream, which reads it again as its agent."""
        for change in parse(payload):
            if change.kind is Kind.SESSION:
                for stream in self._all():
                    if stream.session_id == change.id():
                        stream.check_session()
                continue
            for stream in self._all():
                stream.push(change)

    async def _run(self) -> None:
        wait = FIRST_WAIT
        connected_before = False
        while True:
            try:
                async with await AsyncConnection.connect(
                    self._url, autocommit=True, application_name="switchboard-live"
                ) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    self.listening.set()
                    if connected_before:
                        log.info("live updates: listening again; every stream reads afresh")
                        for stream in self._all():
                            stream.resync()
                    connected_before = True
                    wait = FIRST_WAIT
                    await self._receive(conn)
            except (psycopg.Error, OSError) as exc:
                self.listening.clear()
                log.warning(
                    "live updates: the listening connection failed (%s); again in %.1f s",
                    str(exc).strip() or type(exc).__name__,
                    wait,
                )
            except Exception:  # a fault of ours must not end live updates for the process
                self.listening.clear()
                log.exception("live updates: the listener failed; again in %.1f s", wait)
            await asyncio.sleep(wait * random.uniform(0.5, 1.0))  # noqa: S311 - not a secret
            wait = min(wait * 2, LONGEST_WAIT)

    async def _receive(self, conn: AsyncConnection[Any]) -> None:
        while True:
            async for notify in conn.notifies(timeout=PROBE_SECONDS):
                self.deliver(notify.payload)
            # A connection lost without a word (a network gone quiet) shows here.
            await conn.execute("SELECT 1")
