"""The service served by a real uvicorn on a free port (httpx's in-process transport hands a
response over only once it has ended: a stream never would), with agents signing in through
the same app in-process, as the console's other requests would."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from psycopg import AsyncConnection

from switchboard.agent_sessions.models import COOKIE
from switchboard.app import create_app
from switchboard.http_app import SwitchboardApp
from tests.agent_sessions.console import (
    PUBLIC_URL,
    Enrolled,
    add,
    agent_settings,
    enrol,
    signed_in,
)
from tests.conftest import service_url
from tests.row_security.floor import add_conversation

HEARTBEAT = 0.5  # seconds: a quiet stream beats, and checks its session, this often here


@dataclass
class Live:
    app: SwitchboardApp
    base_url: str  # where uvicorn listens
    db: str  # the test's database, as its owner


@dataclass
class Session:
    """One signed-in session: its own cookie jar, the headers of its unsafe requests."""

    api: httpx.AsyncClient
    headers: dict[str, str]
    cookie: str  # as a Cookie header: the stream's requests go to uvicorn, not through `api`


@asynccontextmanager
async def serving(db: str, tmp_path: Path, **overrides: Any) -> AsyncIterator[Live]:
    settings = agent_settings(tmp_path, SWITCHBOARD_LIVE_HEARTBEAT_SECONDS=HEARTBEAT, **overrides)
    app = create_app(settings, database_url=service_url(db), pool_size=10)
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, log_level="warning", timeout_graceful_shutdown=1)
    server = uvicorn.Server(config)
    served = asyncio.create_task(server.serve(sockets=[listening]))
    while not server.started:
        assert not served.done(), "uvicorn did not start"
        await asyncio.sleep(0.01)
    try:
        yield Live(app, f"http://127.0.0.1:{port}", db)
    finally:
        server.should_exit = True
        await served
        listening.close()


@pytest.fixture
async def live(migrated_db: str, tmp_path: Path) -> AsyncIterator[Live]:
    async with serving(migrated_db, tmp_path) as running:
        yield running


async def agent(
    live: Live, conn: AsyncConnection[Any], email: str, *, role: str = "agent",
    queues: tuple[str, ...] = (), totp: bool = False,
) -> Enrolled:  # fmt: skip
    """A new agent, enrolled (with an authenticator for a role that needs one)."""
    secret = await add(conn, email, role=role, queues=queues)
    async with _api(live) as api:
        return await enrol(api, secret, email, confirm=totp)


@asynccontextmanager
async def session(live: Live, who: Enrolled, *, step: int = 0) -> AsyncIterator[Session]:
    async with _api(live) as api:
        headers = await signed_in(api, who, step=step)
        yield Session(api, headers, f"{COOKIE}={api.cookies[COOKIE]}")


def _api(live: Live) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=live.app), base_url=PUBLIC_URL)


@dataclass
class Events:
    """An open stream, read event by event; `raw` keeps every line read."""

    response: httpx.Response
    raw: list[str] = field(default_factory=list)
    seen: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lines = self.response.aiter_lines()

    async def next(self) -> tuple[str, dict[str, Any]]:
        name: str | None = None
        data: dict[str, Any] = {}
        async for line in self._lines:
            self.raw.append(line)
            if line.startswith("event: "):
                name = line.removeprefix("event: ")
            elif line.startswith("data: "):
                data = json.loads(line.removeprefix("data: "))
            elif line == "" and name is not None:
                self.seen.append((name, data))
                return name, data
        raise EOFError("the stream ended")

    async def until(self, name: str, *, timeout: float = 5.0, **matching: Any) -> dict[str, Any]:
        """The data of the first `name` event whose data has `matching`'s values."""
        async with asyncio.timeout(timeout):
            while True:
                got, data = await self.next()
                if got == name and all(data.get(k) == v for k, v in matching.items()):
                    return data

    async def ended(self, *, timeout: float = 5.0) -> None:
        async with asyncio.timeout(timeout):
            async for line in self._lines:
                self.raw.append(line)


@asynccontextmanager
async def events(
    live: Live, who: Session, headers: dict[str, str] | None = None
) -> AsyncIterator[Events]:
    async with (
        httpx.AsyncClient(base_url=live.base_url, timeout=10) as http,
        http.stream(
            "GET", "/api/v1/events", headers={"Cookie": who.cookie, **(headers or {})}
        ) as response,
    ):
        assert response.status_code == 200, (await response.aread()).decode()
        assert response.headers["content-type"].startswith("text/event-stream")
        yield Events(response)


def conversation(live: Live, queue: str | None) -> tuple[Any, Any]:
    """A conversation with messages and a case, queued in `queue`: (its id, its case's)."""
    return add_conversation(live.db, queue)
