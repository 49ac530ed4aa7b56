"""Attacks on GET /api/v1/events: notifications forged on cc_live by any database session, and
many idle streams held open against one process."""

from __future__ import annotations

import asyncio
import json
import resource
import time
import uuid
from typing import Any

import pytest
from psycopg import AsyncConnection

from switchboard.live.models import parse
from tests.builders import execute
from tests.live.console import Live, conversation, events, serving, session
from tests.live.console import agent as new_agent
from tests.live.test_events import text_in

pytestmark = pytest.mark.anyio

# The most a NOTIFY payload may hold (PostgreSQL's limit is 8000 bytes).
MOST_PAYLOAD = 7999


def _notify(db: str, payload: str) -> None:
    execute(db, "SELECT pg_notify('cc_live', %s)", (payload,))


def test_a_deeply_nested_notification_is_dropped_not_raised() -> None:
    for payload in (
        "[" * MOST_PAYLOAD,
        '{"kind": "message", "rows": [' + "[" * 7000 + "]}",
        '{"kind": "message", "rows": [{"id": ' + "[" * 7000 + "}]}",
    ):
        assert parse(payload) == []


async def test_a_forged_deep_notification_does_not_cut_the_listener_off(
    live: Live, conn: AsyncConnection[Any]
) -> None:
    """A database session's NOTIFY of 8000 '[' made the listener's json.loads raise
    RecursionError, which _run took for a failed connection: it reconnected and told every
    stream to resync, and what was notified meanwhile was lost. One statement, repeatable."""
    ana = await new_agent(live, conn, "ana@bank.example", queues=("fraud",))
    fraud, _ = conversation(live, "fraud")
    async with session(live, ana) as signed, events(live, signed) as stream:
        for _ in range(3):
            _notify(live.db, "[" * MOST_PAYLOAD)
        message_id = text_in(live, fraud)
        name, data = await asyncio.wait_for(stream.next(), timeout=3.0)
        assert (name, data.get("id")) == ("message", str(message_id)), stream.seen


async def test_a_forged_clock_event_passes_on_no_id_the_agent_may_not_see(
    live: Live, conn: AsyncConnection[Any]
) -> None:
    """An `sla` event was sent with every id the notification named once either its
    conversation or its case was visible: a forged one carried another queue's case id (or
    any uuid at all) to the agent's browser, unread."""
    ana = await new_agent(live, conn, "ana@bank.example", queues=("fraud",))
    fraud, _ = conversation(live, "fraud")
    _, cards_case = conversation(live, "cards")
    forged = {
        "kind": "sla",
        "rows": [{"id": str(uuid.uuid4()), "clock_id": str(uuid.uuid4()),
                  "conversation_id": str(fraud), "case_id": str(cards_case),
                  "event": "breached"}],
    }  # fmt: skip
    async with session(live, ana) as signed, events(live, signed) as stream:
        _notify(live.db, json.dumps(forged))
        data = await stream.until("sla", conversation_id=str(fraud), timeout=3.0)
    assert data["case_id"] is None, data


def _rss_kib() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


async def test_three_hundred_idle_streams_cost_little_and_stall_nothing(
    migrated_db: str, conn: AsyncConnection[Any], tmp_path: Any
) -> None:
    """300 streams (three agents, 100 each) held open by raw sockets (a client that costs
    next to nothing): the process's memory grows by little per stream, a request is still
    answered at once, and every stream still gets a message within a few seconds."""
    async with serving(migrated_db, tmp_path, SWITCHBOARD_LIVE_STREAMS_PER_AGENT=100) as live:
        fraud, _ = conversation(live, "fraud")
        cookies = []
        for name in ("ana", "bo", "cy"):
            who = await new_agent(live, conn, f"{name}@bank.example", queues=("fraud",))
            async with session(live, who) as signed:
                cookies.append(signed.cookie)
        ana = await new_agent(live, conn, "di@bank.example", queues=("fraud",))
        async with session(live, ana) as signed:
            host, port = live.base_url.removeprefix("http://").split(":")
            before = _rss_kib()
            opened: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
            started = time.perf_counter()
            for n in range(300):
                request = (
                    f"GET /api/v1/events HTTP/1.1\r\nHost: {host}\r\n"
                    f"Cookie: {cookies[n % 3]}\r\n\r\n"
                ).encode()
                reader, writer = await asyncio.open_connection(host, int(port))
                writer.write(request)
                opened.append((reader, writer))
            for reader, _ in opened:
                head = await asyncio.wait_for(reader.readuntil(b"retry: 3000\n\n"), 10)
                assert head.startswith(b"HTTP/1.1 200"), head[:200]
            opening = time.perf_counter() - started
            assert live.app.state.live.open_streams == 300
            await asyncio.sleep(1.5)  # three heartbeats: every stream checks its session
            grown = _rss_kib() - before
            answered = time.perf_counter()
            who = await signed.api.get("/api/v1/session")
            answer_seconds = time.perf_counter() - answered
            assert who.status_code == 200
            committed = time.perf_counter()
            message_id = text_in(live, fraud)
            for reader, _ in opened:
                await asyncio.wait_for(reader.readuntil(str(message_id).encode()), 5)
            fan_out = time.perf_counter() - committed
            for _, writer in opened:
                writer.close()
            print(
                f"\n300 streams: opened in {opening:.2f} s, RSS +{grown} KiB"
                f" ({grown / 300:.1f} KiB a stream),"
                f" GET /session in {answer_seconds * 1000:.0f} ms,"
                f" a message to all 300 in {fan_out * 1000:.0f} ms"
            )
            assert grown / 300 < 64
            assert answer_seconds < 1.0
            assert fan_out < 3.0
