"""GET /api/v1/events: what changed reaches the agents who may see it, at once, as ids; a
session that ends ends its streams; a lost listener comes back and says so."""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any
from uuid import UUID

import httpx
import pytest
from psycopg import AsyncConnection

from switchboard.agent_sessions import service as sessions
from switchboard.audit.models import Actor, ActorType
from switchboard.live import repository
from tests.builders import execute
from tests.live.console import (
    Live,
    conversation,
    events,
    serving,
    session,
)
from tests.live.console import agent as new_agent

pytestmark = pytest.mark.anyio


def text_in(live: Live, conversation_id: UUID, body: str = "where is my card?") -> UUID:
    [(message_id,)] = execute(
        live.db,
        "INSERT INTO cc_messages (conversation_id, direction, provider, provider_message_id,"
        " from_address, to_address, body_text) VALUES (%s, 'inbound', 'twilio', %s,"
        " '+15550001', '+15550002', %s) RETURNING id",
        (conversation_id, f"SM{uuid.uuid4().hex}", body),
    )
    return UUID(str(message_id))


async def test_a_message_reaches_the_stream_of_an_agent_of_its_queue_within_a_second(
    live: Live, conn: AsyncConnection[Any]
) -> None:
    ana = await new_agent(live, conn, "ana@bank.example", queues=("fraud",))
    fraud, _ = conversation(live, "fraud")
    async with session(live, ana) as signed, events(live, signed) as stream:
        committed = time.monotonic()
        message_id = text_in(live, fraud)
        data = await stream.until("message", id=str(message_id), timeout=1.0)
        assert time.monotonic() - committed < 1.0
    assert data == {"id": str(message_id), "conversation_id": str(fraud)}


async def test_another_queues_changes_never_reach_an_agent_row_security_decides(
    live: Live, conn: AsyncConnection[Any]
) -> None:
    ana = await new_agent(live, conn, "ana@bank.example", queues=("fraud",))
    bo = await new_agent(live, conn, "bo@bank.example", queues=("cards",))
    fraud, fraud_case = conversation(live, "fraud")
    cards, _ = conversation(live, "cards")
    async with (
        session(live, ana) as ana_signed,
        session(live, bo) as bo_signed,
        events(live, ana_signed) as ana_stream,
        events(live, bo_signed) as bo_stream,
    ):
        secret = text_in(live, fraud)
        execute(live.db, "UPDATE cc_cases SET status = 'open' WHERE id = %s", (fraud_case,))
        execute(
            live.db,
            "UPDATE cc_assignments SET priority = 5 WHERE conversation_id = %s",
            (fraud,),
        )
        # Then something Bo may see: notifications are delivered in commit order, so when it
        # arrives, whatever Bo was to be sent of the fraud queue's changes has been sent.
        seen = text_in(live, cards)
        await ana_stream.until("message", id=str(secret))
        await ana_stream.until("assignment", conversation_id=str(fraud), queue="fraud")
        await bo_stream.until("message", id=str(seen))
    assert ana_stream.seen[0] == ("message", {"id": str(secret), "conversation_id": str(fraud)})
    assert ("case", {"id": str(fraud_case), "conversation_id": str(fraud)}) in ana_stream.seen
    assert bo_stream.seen == [("message", {"id": str(seen), "conversation_id": str(cards)})]


async def test_a_burst_is_read_again_in_one_statement_not_one_a_change(
    live: Live, conn: AsyncConnection[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    ana = await new_agent(live, conn, "ana@bank.example", queues=("fraud",))
    fraud, _ = conversation(live, "fraud")
    reads: list[int] = []
    real = repository.visible_rows

    async def counted(conn: AsyncConnection[Any], **ids: list[UUID]) -> list[repository.Seen]:
        reads.append(sum(len(v) for v in ids.values()))
        return await real(conn, **ids)

    monkeypatch.setattr(repository, "visible_rows", counted)
    async with session(live, ana) as signed, events(live, signed) as stream:
        execute(
            live.db,
            "INSERT INTO cc_messages (conversation_id, direction, body_text)"
            " SELECT %s, 'inbound', 'burst ' || n FROM generate_series(1, 60) AS n",
            (fraud,),
        )
        for _ in range(60):
            await stream.until("message")
    assert len(reads) <= 3  # 60 rows: three notifications (25 rows each at most)


async def test_signing_out_ends_that_sessions_streams_with_signed_out_and_no_other(
    live: Live, conn: AsyncConnection[Any]
) -> None:
    ana = await new_agent(live, conn, "ana@bank.example", queues=("fraud",))
    fraud, _ = conversation(live, "fraud")
    async with (
        session(live, ana) as tab,
        session(live, ana, step=1) as other,
        events(live, tab) as first,
        events(live, tab) as second,
        events(live, other) as elsewhere,
    ):
        signed_out = await tab.api.delete("/api/v1/session", headers=tab.headers)
        assert signed_out.status_code == 204
        for stream in (first, second):
            assert await stream.until("signed-out", timeout=2.0) == {}
            await stream.ended()
        message_id = text_in(live, fraud)
        await elsewhere.until("message", id=str(message_id))
        refused = await _open(live, tab.cookie)
        assert refused.status_code == 401
        assert refused.json()["error"] == "not_signed_in"


async def test_revoking_every_session_ends_every_stream_of_the_agent(
    live: Live, conn: AsyncConnection[Any]
) -> None:
    ana = await new_agent(live, conn, "ana@bank.example", queues=("fraud",))
    bo = await new_agent(live, conn, "bo@bank.example", queues=("fraud",))
    fraud, _ = conversation(live, "fraud")
    async with (
        session(live, ana) as one,
        session(live, ana, step=1) as two,
        session(live, bo) as bos,
        events(live, one) as first,
        events(live, two) as second,
        events(live, bos) as bo_stream,
    ):
        info = (await one.api.get("/api/v1/session")).json()
        ended = await sessions.revoke_all(
            conn, Actor(ActorType.ADMIN, "admin-test"), UUID(info["agent_id"])
        )
        assert ended == 2
        for stream in (first, second):
            await stream.until("signed-out", timeout=2.0)
            await stream.ended()
        message_id = text_in(live, fraud)
        await bo_stream.until("message", id=str(message_id))


async def test_an_expired_session_ends_its_stream_at_the_next_heartbeat(
    live: Live, conn: AsyncConnection[Any]
) -> None:
    ana = await new_agent(live, conn, "ana@bank.example", queues=("fraud",))
    async with session(live, ana) as signed, events(live, signed) as stream:
        # Time passing, not a revocation: no notification says so.
        execute(live.db, "UPDATE cc_agent_sessions SET idle_expires_at = now()")
        await stream.until("signed-out", timeout=3.0)
        await stream.ended()


async def test_a_killed_listener_connects_again_and_every_stream_resyncs(
    live: Live, conn: AsyncConnection[Any]
) -> None:
    ana = await new_agent(live, conn, "ana@bank.example", queues=("fraud",))
    fraud, _ = conversation(live, "fraud")
    async with session(live, ana) as signed, events(live, signed) as stream:
        [(killed,)] = execute(
            live.db,
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
            " WHERE application_name = 'switchboard-live' AND datname = current_database()",
        )
        assert killed == 1
        assert await stream.until("resync", timeout=5.0) == {}
        message_id = text_in(live, fraud)
        await stream.until("message", id=str(message_id), timeout=2.0)


async def test_a_browser_that_reconnects_is_told_to_resync(
    live: Live, conn: AsyncConnection[Any]
) -> None:
    ana = await new_agent(live, conn, "ana@bank.example", queues=("fraud",))
    async with (
        session(live, ana) as signed,
        events(live, signed, headers={"Last-Event-ID": "41"}) as stream,
    ):
        assert await stream.until("resync", timeout=2.0) == {}


async def test_streams_are_capped_per_agent_and_in_all(
    migrated_db: str, conn: AsyncConnection[Any], tmp_path: Any
) -> None:
    async with serving(migrated_db, tmp_path, SWITCHBOARD_LIVE_STREAMS_PER_AGENT=2,
                       SWITCHBOARD_LIVE_STREAMS_MOST=3) as running:  # fmt: skip
        ana = await new_agent(running, conn, "ana@bank.example", queues=("fraud",))
        bo = await new_agent(running, conn, "bo@bank.example", queues=("cards",))
        async with (
            session(running, ana) as ana_signed,
            session(running, bo) as bo_signed,
            events(running, ana_signed),
            events(running, ana_signed),
        ):
            third = await _open(running, ana_signed.cookie)
            assert third.status_code == 429
            assert third.json()["error"] == "too_many_live_streams"
            assert third.headers["Retry-After"] == "5"
            async with events(running, bo_signed):
                full = await _open(running, bo_signed.cookie)
                assert full.status_code == 503
                assert full.json()["error"] == "live_streams_busy"
            await asyncio.sleep(0.2)  # a closed stream gives its place back
            async with events(running, bo_signed):
                assert running.app.state.live.open_streams == 3


async def test_the_request_layer_counts_a_stream_once_it_ends(
    live: Live, conn: AsyncConnection[Any]
) -> None:
    ana = await new_agent(live, conn, "ana@bank.example", queues=("fraud",))
    async with session(live, ana) as signed:
        async with events(live, signed) as stream:
            await stream.response.aclose()
        await asyncio.sleep(0.2)
        async with httpx.AsyncClient(base_url=live.base_url) as http:
            page = (await http.get("/metrics")).text
    counted = [
        line for line in page.splitlines()
        if line.startswith("switchboard_http_requests_total{") and "/api/v1/events" in line
    ]  # fmt: skip
    assert len(counted) == 1, counted
    assert counted[0].endswith(" 1.0"), counted


async def _open(live: Live, cookie: str) -> httpx.Response:
    async with httpx.AsyncClient(base_url=live.base_url, timeout=5) as http:
        return await http.get("/api/v1/events", headers={"Cookie": cookie})


async def test_a_code_verified_reaches_the_agents_of_its_conversation_for_the_badge(
    live: Live, conn: AsyncConnection[Any]
) -> None:
    ana = await new_agent(live, conn, "ana@bank.example", queues=("fraud",))
    bo = await new_agent(live, conn, "bo@bank.example", queues=("cards",))
    fraud, _ = conversation(live, "fraud")
    cards, _ = conversation(live, "cards")
    async with (
        session(live, ana) as ana_signed,
        session(live, bo) as bo_signed,
        events(live, ana_signed) as ana_stream,
        events(live, bo_signed) as bo_stream,
    ):
        [(code,)] = execute(
            live.db,
            "INSERT INTO cc_auth_sessions (conversation_id, expires_at)"
            " VALUES (%s, now() + interval '10 minutes') RETURNING id",
            (fraud,),
        )
        execute(live.db, "UPDATE cc_auth_sessions SET status = 'verified' WHERE id = %s", (code,))
        seen = text_in(live, cards)  # after it, in commit order: Bo was told nothing of it
        await ana_stream.until("verification", id=str(code))
        await bo_stream.until("message", id=str(seen))
    told = [data for kind, data in ana_stream.seen if kind == "verification"]
    assert told  # the insert and the update: one event each, or one for a burst of both
    assert all(data == {"id": str(code), "conversation_id": str(fraud)} for data in told)
    assert [kind for kind, _ in bo_stream.seen if kind == "verification"] == []
