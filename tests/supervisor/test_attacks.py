"""Attacks on the supervisor's routes, search and CSRF over HTTP: another queue's supervisor,
an agent's two sessions sharing one search allowance, and every unsafe route of the API
refused without the session's own token from our own origin."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute
from psycopg import AsyncConnection

from switchboard.app import create_app
from switchboard.customer_search.service import ALLOWANCE
from switchboard.http_app import SwitchboardApp
from tests.agent_sessions.console import (
    PUBLIC_URL,
    SAME_ORIGIN,
    Enrolled,
    add,
    agent_settings,
    enrol,
    signed_in,
)
from tests.assignments.support import make_item
from tests.builders import execute
from tests.conftest import service_url

pytestmark = pytest.mark.anyio
WHY = "rebalancing the load of the queue"
# Routes an unsigned browser calls: they check the origin alone (tests/agent_sessions).
_NO_SESSION = {"/api/v1/session", "/api/v1/enrolment", "/api/v1/enrolment/confirm"}


@pytest.fixture
async def app(migrated_db: str, tmp_path: Path) -> AsyncIterator[SwitchboardApp]:
    settings = agent_settings(tmp_path, DEFAULT_PHONE_REGION="US")
    served = create_app(settings, database_url=service_url(migrated_db), pool_size=10)
    async with served.router.lifespan_context(served):
        yield served


def _browser(app: SwitchboardApp) -> httpx.AsyncClient:
    """A browser of its own: its own cookie jar."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=PUBLIC_URL)


async def _enrolled(
    app: SwitchboardApp, conn: AsyncConnection[Any], email: str, role: str, queue: str
) -> Enrolled:
    async with _browser(app) as browser:
        return await enrol(browser, await add(conn, email, role=role, queues=(queue,)), email)


def _audit_count(db: str) -> int:
    return int(execute(db, "SELECT count(*) FROM cc_audit_logs")[0][0])


async def test_a_supervisor_of_cards_cannot_move_a_fraud_item_by_its_id(
    app: SwitchboardApp, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    sam = await _enrolled(app, conn, "sam@bank.example", "supervisor", "cards")
    fred = await _enrolled(app, conn, "fred@bank.example", "agent", "fraud")
    fraud_item = make_item(migrated_db, queue="fraud")
    [(fred_id,)] = execute(migrated_db, "SELECT id FROM cc_agents WHERE email = %s", (fred.email,))
    before = execute(migrated_db, "SELECT state, version, assigned_to FROM cc_assignments")
    audited = _audit_count(migrated_db)
    async with _browser(app) as browser:
        headers = await signed_in(browser, sam)
        audited = _audit_count(migrated_db)
        for route, body in (
            ("take-over", {"reason": WHY, "version": 0}),
            ("reassign", {"agent_id": str(fred_id), "reason": WHY, "version": 0}),
        ):
            answer = await browser.post(
                f"/api/v1/assignments/{fraud_item}/{route}", json=body, headers=headers
            )
            assert answer.status_code == 404, answer.text
        items = await browser.get("/api/v1/queues/fraud/items")
        assert (items.status_code, items.json()["error"]) == (404, "queue_not_found")
    assert execute(migrated_db, "SELECT state, version, assigned_to FROM cc_assignments") == before
    assert _audit_count(migrated_db) == audited


async def test_two_sessions_of_one_agent_share_one_search_allowance_at_once(
    app: SwitchboardApp, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    """Two tabs (two sessions) searching at once, 2 x ALLOWANCE searches together: exactly
    ALLOWANCE pass, and the refusals write one audit record."""
    al = await _enrolled(app, conn, "al@bank.example", "agent", "cards")
    async with _browser(app) as first, _browser(app) as second:
        await signed_in(first, al, step=0)
        await signed_in(second, al, step=1)
        key = {"email": "nobody@example.com"}
        answers = await asyncio.gather(
            *(tab.get("/api/v1/search", params=key) for tab in (first, second) * ALLOWANCE)
        )
    statuses = sorted(a.status_code for a in answers)
    assert statuses == [200] * ALLOWANCE + [429] * ALLOWANCE
    counts = dict(
        execute(
            migrated_db,
            "SELECT event_type, count(*) FROM cc_audit_logs WHERE event_type LIKE 'customer.%'"
            " GROUP BY event_type",
        )
    )
    assert counts == {"customer.searched": ALLOWANCE, "customer.search_refused": 1}


def _unsafe_routes(app: SwitchboardApp) -> list[tuple[str, str]]:
    found = []
    for route in app.routes:
        if not isinstance(route, APIRoute) or not route.path.startswith("/api/v1/"):
            continue
        if route.path in _NO_SESSION:
            continue
        for method in sorted(route.methods & {"POST", "PUT", "PATCH", "DELETE"}):
            path = route.path
            for name in route.param_convertors:
                path = path.replace("{" + name + "}", "00000000-0000-4000-8000-000000000001")
            found.append((method, path))
    return found


async def test_every_unsafe_route_refuses_a_request_without_its_own_sessions_proof(
    app: SwitchboardApp, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    """Every POST, PUT, PATCH and DELETE of /api/v1 that a session calls: 403 csrf_failed with
    no token, another session's token, or a cross-site or same-site request bearing the right
    one; nothing audited."""
    ana = await _enrolled(app, conn, "ana@bank.example", "admin", "cards")
    bo = await _enrolled(app, conn, "bo@bank.example", "agent", "cards")
    routes = _unsafe_routes(app)
    assert len(routes) >= 15, routes
    async with _browser(app) as mine, _browser(app) as theirs:
        own = await signed_in(mine, ana)
        other = await signed_in(theirs, bo)
        audited = _audit_count(migrated_db)
        for method, path in routes:
            for headers in (
                SAME_ORIGIN,
                {**SAME_ORIGIN, "X-CSRF-Token": other["X-CSRF-Token"]},
                {**own, "Sec-Fetch-Site": "cross-site"},
                {**own, "Sec-Fetch-Site": "same-site"},
                {"X-CSRF-Token": own["X-CSRF-Token"], "Origin": "https://evil.example"},
                {"X-CSRF-Token": own["X-CSRF-Token"]},  # no origin at all
            ):
                body = {"code": "123456"} if path == "/api/v1/session/totp" else {}
                answer = await mine.request(method, path, json=body, headers=headers)
                assert (answer.status_code, answer.json()["error"]) == (403, "csrf_failed"), (
                    method, path, headers, answer.text,
                )  # fmt: skip
    assert _audit_count(migrated_db) == audited
