"""Hostile input to the console's enrolment form and to the API routes the console calls: each
is answered 4xx at once, in the route's own shape, and stores nothing."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from psycopg import AsyncConnection

from switchboard.app import create_app
from switchboard.assignments import service as assignments
from switchboard.audit.models import Actor, ActorType
from tests.agent_sessions.console import (
    PUBLIC_URL,
    SAME_ORIGIN,
    add,
    agent_settings,
    enrol,
    signed_in,
)
from tests.builders import execute
from tests.conftest import service_url
from tests.row_security.floor import add_conversation

pytestmark = pytest.mark.anyio

# A NUL character, which a JSON string or a query string may carry and PostgreSQL's text and
# jsonb cannot hold.
NUL = "\u0000"


@pytest.fixture
async def api(migrated_db: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    """The service in-process, answering a fault as a server does (a 500) instead of raising
    it into the test."""
    settings = agent_settings(tmp_path, DEFAULT_PHONE_REGION="US")
    app = create_app(settings, database_url=service_url(migrated_db), pool_size=10)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url=PUBLIC_URL) as client:
            yield client


def _rows(db: str) -> dict[str, int]:
    counts = {}
    for table in ("cc_audit_logs", "cc_conversation_notes", "cc_cases", "cc_case_notes",
                  "cc_sign_in_failures", "cc_agent_search_budget", "cc_assignments"):  # fmt: skip
        [(count,)] = execute(db, f"SELECT count(*) FROM {table}")
        counts[table] = count
    return counts


@pytest.mark.parametrize(
    "form",
    [
        {},  # no field at all
        {"secret": "", "password": ""},
        {"secret": "s" * 500, "password": "a long enough password"},
        {"secret": "abc", "password": "p" * 2000},
    ],
)
async def test_the_enrolment_form_refuses_missing_or_long_fields_422(
    api: httpx.AsyncClient, migrated_db: str, form: dict[str, str]
) -> None:
    """Such a form made EnrolmentBody raise pydantic's ValidationError outside the handler's
    try: a 500 internal_error (and an error in the log) for a form anyone may post."""
    before = _rows(migrated_db)
    answer = await api.post("/console/enrol", data=form, headers=SAME_ORIGIN)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    assert 'role="alert"' in answer.text
    assert _rows(migrated_db) == before


async def test_the_enrolment_form_refuses_a_cross_site_post_before_reading_it(
    api: httpx.AsyncClient,
) -> None:
    for form in ({}, {"secret": "abc", "password": "a long enough password"}):
        answer = await api.post(
            "/console/enrol", data=form, headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert answer.status_code == 403, answer.text
        assert "cross-site" in answer.text


async def test_a_nul_character_anywhere_is_422_and_stores_nothing(
    api: httpx.AsyncClient, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    """A NUL in a note, a case's summary, a reason, a sign-in email or a search key reached
    PostgreSQL (psycopg refuses it in text, the server in jsonb) and was answered 500
    internal_error, logged as a fault of ours."""
    conversation, case = add_conversation(migrated_db, None)
    await assignments.enqueue_inbound(
        conn, Actor(ActorType.SYSTEM, "test"), conversation_id=conversation
    )
    email = "ana@bank.example"
    headers = await signed_in(
        api, await enrol(api, await add(conn, email, queues=("general",)), email)
    )
    assert (
        await api.put("/api/v1/presence", json={"presence": "available"}, headers=headers)
    ).is_success
    taken = await api.post("/api/v1/work/next", headers=headers)
    assert taken.status_code == 200, taken.text
    item = taken.json()["id"]
    text = f"the customer{NUL} asked for it"
    before = _rows(migrated_db)
    for method, url, body in [
        ("POST", f"/api/v1/conversations/{conversation}/notes", {"body": text}),
        ("POST", f"/api/v1/conversations/{conversation}/cases",
         {"case_type": "cards", "summary": text}),
        ("POST", f"/api/v1/cases/{case}/notes", {"body": text}),
        ("PATCH", f"/api/v1/conversations/{conversation}/customer/preferences",
         {"reason": text, "do_not_contact": False}),
        ("POST", f"/api/v1/assignments/{item}/transfer", {"queue": "fraud", "reason": text}),
        ("POST", "/api/v1/session", {"email": f"ana{NUL}@bank.example", "password": "x" * 12}),
        ("GET", "/api/v1/search?email=ana%00@bank.example", None),
    ]:  # fmt: skip
        started = time.perf_counter()
        answer = await api.request(method, url, json=body, headers=headers)
        assert time.perf_counter() - started < 1.0
        assert answer.status_code == 422, (url, answer.text)
        assert answer.json()["error"] in {"invalid_input", "invalid_request"}, (url, answer.text)
    assert _rows(migrated_db) == before
    page = await api.get("/console/search?email=ana%00@bank.example")
    assert page.status_code == 422, page.text
    assert page.headers["content-type"].startswith("text/html")


async def test_what_a_customer_or_an_agent_wrote_is_shown_as_text_never_as_markup(
    api: httpx.AsyncClient, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    """A customer's message, a case's summary, a note and an agent's display name with markup
    in them: every console page and fragment that shows them escapes them (the CSP is a
    second wall, not the first)."""
    attack = '"><script>alert(1)</script><img src=x onerror=alert(2)>'
    conversation, _ = add_conversation(migrated_db, None)
    execute(migrated_db, "UPDATE cc_messages SET body_text = %s", (attack,))
    execute(migrated_db, "UPDATE cc_cases SET summary = %s", (attack,))
    await assignments.enqueue_inbound(
        conn, Actor(ActorType.SYSTEM, "test"), conversation_id=conversation
    )
    email = "ana@bank.example"
    enrolled = await enrol(api, await add(conn, email, queues=("general",)), email)
    execute(migrated_db, "UPDATE cc_agents SET display_name = %s", (attack,))
    headers = await signed_in(api, enrolled)
    assert (
        await api.put("/api/v1/presence", json={"presence": "available"}, headers=headers)
    ).is_success
    assert (await api.post("/api/v1/work/next", headers=headers)).status_code == 200
    noted = await api.post(
        f"/api/v1/conversations/{conversation}/notes", json={"body": attack}, headers=headers
    )
    assert noted.status_code == 201, noted.text
    shown = 0
    for path in (
        "/console/work",
        "/console/work/lists",
        f"/console/conversations/{conversation}",
        f"/console/conversations/{conversation}/timeline",
        f"/console/conversations/{conversation}/customer",
    ):
        page = await api.get(path)
        assert page.status_code == 200, (path, page.text)
        assert "<script>alert" not in page.text, path
        assert "<img src=x" not in page.text, path
        shown += page.text.count("&lt;script&gt;alert(1)&lt;/script&gt;")
    assert shown >= 4  # the name, the message, the note, the case: there, as text
