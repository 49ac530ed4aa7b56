"""Every route's body is bounded by its family's limit, in the request layer: the agents' API at
64 KiB, answered 413 body_too_large before the body is read when its length is declared, and
as soon as the limit is passed when it is not; nothing stored, nothing audited. The
webhooks keep their own limits and their payload_too_large (tests/webhooks)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from psycopg import AsyncConnection

from switchboard.http_limits import API_MAX_BODY_BYTES
from tests.agent_sessions.console import add, client, enrol, signed_in
from tests.builders import execute
from tests.row_security.floor import add_conversation

__all__ = ["client"]
pytestmark = pytest.mark.anyio
CHUNK = 1024
THIRTY_MB = 30 * 1024 * 1024


class Pulled:
    """A body of `size` bytes of a JSON note, sent in CHUNK-byte pieces, counting how many
    pieces the server asked for."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.chunks = 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        head = b'{"body": "'
        yield head
        self.chunks += 1
        sent = len(head)
        while sent < self.size:
            self.chunks += 1
            sent += CHUNK
            yield b"x" * CHUNK
        yield b'"}'


async def _counts(conn: AsyncConnection[Any]) -> tuple[int, int]:
    cursor = await conn.execute(
        "SELECT (SELECT count(*) FROM cc_audit_logs), (SELECT count(*) FROM cc_conversation_notes)"
    )
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0]), int(row[1])


async def _note_url(client: httpx.AsyncClient, conn: AsyncConnection[Any], url: str) -> str:
    conversation, _ = add_conversation(url, "general")
    return f"/api/v1/conversations/{conversation}/notes"


@pytest.fixture
async def headers(client: httpx.AsyncClient, conn: AsyncConnection[Any]) -> dict[str, str]:
    email = "ana@bank.example"
    enrolled = await enrol(
        client, await add(conn, email, queues=("general",)), email, confirm=False
    )
    return await signed_in(client, enrolled)


async def test_a_body_declared_too_large_is_refused_before_a_byte_of_it_is_read(
    client: httpx.AsyncClient, conn: AsyncConnection[Any], migrated_db: str, headers: Any
) -> None:
    url = await _note_url(client, conn, migrated_db)
    before = await _counts(conn)
    body = Pulled(THIRTY_MB)

    answer = await client.post(
        url,
        content=body,
        headers={**headers, "Content-Type": "application/json", "Content-Length": str(THIRTY_MB)},
    )

    assert answer.status_code == 413
    assert answer.json()["error"] == "body_too_large"
    assert str(API_MAX_BODY_BYTES) in answer.json()["detail"]
    assert answer.headers["connection"] == "close"
    assert body.chunks == 0
    assert await _counts(conn) == before


async def test_a_body_without_a_length_is_refused_once_it_passes_the_limit(
    client: httpx.AsyncClient, conn: AsyncConnection[Any], migrated_db: str, headers: Any
) -> None:
    url = await _note_url(client, conn, migrated_db)
    before = await _counts(conn)
    body = Pulled(THIRTY_MB)

    answer = await client.post(
        url, content=body, headers={**headers, "Content-Type": "application/json"}
    )

    assert "content-length" not in answer.request.headers
    assert answer.status_code == 413
    assert answer.json()["error"] == "body_too_large"
    assert body.chunks <= API_MAX_BODY_BYTES // CHUNK + 2
    assert await _counts(conn) == before


async def test_a_body_within_the_limit_is_served(
    client: httpx.AsyncClient, conn: AsyncConnection[Any], migrated_db: str, headers: Any
) -> None:
    url = await _note_url(client, conn, migrated_db)
    # The largest note there is, each character sent escaped: still within the limit.
    escaped = json.dumps({"body": "\U0001f4b3" * 4000})

    answer = await client.post(
        url, content=escaped, headers={**headers, "Content-Type": "application/json"}
    )

    assert answer.status_code == 201, answer.text
    assert len(escaped) < API_MAX_BODY_BYTES
    assert execute(migrated_db, "SELECT count(*) FROM cc_conversation_notes") == [(1,)]


async def test_a_route_that_reads_no_body_is_refused_by_length_too(
    client: httpx.AsyncClient, conn: AsyncConnection[Any], headers: Any
) -> None:
    before = await _counts(conn)

    answer = await client.post(
        "/api/v1/presence/heartbeat",
        content=b"x" * (API_MAX_BODY_BYTES + 1),
        headers=headers,
    )

    assert (answer.status_code, answer.json()["error"]) == (413, "body_too_large")
    assert await _counts(conn) == before
