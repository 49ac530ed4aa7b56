"""A tool call while the database cannot serve: still a 200, each call answered with an error
the assistant can act on (try again shortly), never internal_error."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import pytest
from psycopg import errors

from switchboard.tools.service import UNAVAILABLE_HINT
from tests.builders import execute
from tests.tools.conftest import KNOWN_NUMBER, audit_rows, caller

pytestmark = pytest.mark.anyio


async def test_a_tool_the_database_failed_is_answered_retryable_and_audited(
    client: httpx.AsyncClient, migrated_db: str
) -> None:
    app = client._transport.app  # type: ignore[attr-defined]

    async def shut_down(*_: Any, **__: Any) -> bool:
        raise errors.AdminShutdown("terminating connection due to administrator command")

    app.state.tool_services = dataclasses.replace(app.state.tool_services, send_code=shut_down)

    answer = await caller(client, KNOWN_NUMBER).use("start_verification", channel="sms")

    assert answer["error"].startswith("database_unavailable: ")
    assert answer["error"].endswith(UNAVAILABLE_HINT)
    assert [(r[3], r[4]) for r in audit_rows(migrated_db, "tool.start_verification")] == [
        (False, "database_unavailable")
    ]
    assert execute(migrated_db, "SELECT count(*) FROM cc_tool_calls") == [(0,)]  # kept nothing


async def test_no_connection_to_be_had_answers_every_call_retryable(
    client: httpx.AsyncClient,
) -> None:
    app = client._transport.app  # type: ignore[attr-defined]
    await app.state.pool.close()  # a pool that hands out nothing: as in an outage, at once

    answers = await caller(client, KNOWN_NUMBER).answers(
        ("identify_caller", {}), ("list_cases", {"include_closed": False})
    )

    assert [a["error"].split(":")[0] for a in answers] == ["database_unavailable"] * 2
