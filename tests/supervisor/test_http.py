"""The supervisor's API and search over HTTP, signed in as the console is: figures, items,
breaches, reassign, take-over; search by an exact key only, audited without the key in clear,
limited per agent."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from psycopg import AsyncConnection

from switchboard.customer_search.service import ALLOWANCE
from tests.agent_sessions.console import add, agent_settings, enrol, running, signed_in
from tests.assignments.support import make_item
from tests.builders import execute
from tests.row_security.floor import add_conversation

pytestmark = pytest.mark.anyio


@pytest.fixture
async def api(migrated_db: str, tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async for client in running(agent_settings(tmp_path, DEFAULT_PHONE_REGION="US"), migrated_db):
        yield client


async def _sign_in(
    api: httpx.AsyncClient, conn: AsyncConnection[Any], email: str, role: str, queue: str
) -> dict[str, str]:
    enrolled = await enrol(api, await add(conn, email, role=role, queues=(queue,)), email)
    return await signed_in(api, enrolled)


def _id_of(url: str, email: str) -> str:
    return str(execute(url, "SELECT id FROM cc_agents WHERE email = %s", (email,))[0][0])


async def test_an_agent_is_answered_403_supervisor_only(
    api: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    headers = await _sign_in(api, conn, "al@bank.example", "agent", "cards")
    item = "00000000-0000-0000-0000-000000000001"
    for answer in (
        await api.get("/api/v1/queues"),
        await api.get("/api/v1/queues/cards/items"),
        await api.get("/api/v1/breaches"),
        await api.post(
            f"/api/v1/assignments/{item}/take-over",
            json={"reason": "the customer is waiting", "version": 0},
            headers=headers,
        ),
    ):
        assert (answer.status_code, answer.json()["error"]) == (403, "supervisor_only")


async def test_a_supervisor_reads_their_queue_and_moves_its_items(
    api: httpx.AsyncClient, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    waiting = make_item(migrated_db, queue="cards", waited_seconds=90)
    elsewhere = make_item(migrated_db, queue="fraud")
    headers = await _sign_in(api, conn, "sue@bank.example", "supervisor", "cards")

    queues = await api.get("/api/v1/queues")
    assert queues.status_code == 200, queues.text
    assert queues.headers["cache-control"] == "no-store"
    [cards] = queues.json()["queues"]
    assert (cards["queue"], cards["queued"], cards["attainment_today"]) == ("cards", 1, None)
    assert cards["oldest_wait_seconds"] >= 90
    assert [a["display_name"] for a in cards["agents"]] == ["sue"]
    items = await api.get("/api/v1/queues/cards/items", params={"limit": 1})
    assert [i["id"] for i in items.json()["items"]] == [str(waiting)]
    assert items.json()["next_cursor"] is None
    assert (await api.get("/api/v1/queues/fraud/items")).status_code == 404
    assert (await api.get("/api/v1/breaches")).json() == {"breaches": []}

    refused = await api.post(
        f"/api/v1/assignments/{elsewhere}/take-over",
        json={"reason": "I know this customer", "version": 0},
        headers=headers,
    )
    assert (refused.status_code, refused.json()["error"]) == (404, "assignment_not_found")
    stale = await api.post(
        f"/api/v1/assignments/{waiting}/take-over",
        json={"reason": "I know this customer", "version": 7},
        headers=headers,
    )
    assert (stale.status_code, stale.json()["error"]) == (409, "stale_assignment")
    taken = await api.post(
        f"/api/v1/assignments/{waiting}/take-over",
        json={"reason": "I know this customer", "version": 0},
        headers=headers,
    )
    assert taken.status_code == 200, taken.text
    assert (taken.json()["state"], taken.json()["version"]) == ("active", 1)
    again = await api.post(
        f"/api/v1/assignments/{waiting}/reassign",
        json={
            "agent_id": _id_of(migrated_db, "sue@bank.example"),
            "reason": "rebalancing the load",
            "version": 1,
        },
        headers=headers,
    )
    assert (again.status_code, again.json()["error"]) == (409, "agent_cannot_take_work")
    assert "already hold" in again.json()["detail"]


async def test_search_finds_by_the_whole_key_only(
    api: httpx.AsyncClient, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    mine, _ = add_conversation(migrated_db, "cards")
    theirs, _ = add_conversation(migrated_db, "fraud")
    phone_of = {
        conversation: str(
            execute(
                migrated_db,
                "SELECT l.address FROM cc_identity_links AS l JOIN cc_conversations AS c"
                " ON c.bank_customer_id = l.bank_customer_id WHERE c.id = %s",
                (conversation,),
            )[0][0]
        )
        for conversation in (mine, theirs)
    }
    execute(
        migrated_db,
        "INSERT INTO cc_identity_links (bank_customer_id, channel, address)"
        " SELECT bank_customer_id, 'email', 'zoe.first@example.com' FROM cc_conversations"
        " WHERE id = %s",
        (mine,),
    )
    await _sign_in(api, conn, "al@bank.example", "agent", "cards")
    phone = phone_of[mine]  # +1555nnnnnnn

    # Written as a person would: the same number, the same address.
    for params in (
        {"phone": f"({phone[2:5]}) {phone[5:8]}-{phone[8:]}"},
        {"email": "Zoe.First@EXAMPLE.com"},
    ):
        found = await api.get("/api/v1/search", params=params)
        assert found.status_code == 200, found.text
        body = found.json()
        assert [c["id"] for c in body["conversations"]] == [str(mine)]
        [customer] = body["customers"]
        addresses = [c["address"] for c in customer["contacts"]]
        assert phone not in addresses
        assert "zoe.first@example.com" not in addresses
        assert any(a.endswith(phone[-4:]) for a in addresses)  # masked, as the panel shows

    # A fragment or a pattern finds nothing: refused, or no match.
    for params in (
        {"phone": phone[:6]},
        {"phone": phone[:-1] + "%"},
        {"email": "zoe.first@"},
        {"email": "%@example.com"},
        {"email": "zoe.first@example"},
        {"email": "*"},
        {"case": "0"},
        {"phone": phone, "email": "zoe.first@example.com"},
        {},
    ):
        answer = await api.get("/api/v1/search", params=params)
        assert answer.status_code in (200, 422), params
        if answer.status_code == 200:
            assert answer.json() == {"customers": [], "conversations": [], "cases": []}, params

    # Another queue's customer, found by their exact number: nothing the agent may not see.
    other = await api.get("/api/v1/search", params={"phone": phone_of[theirs]})
    assert other.json() == {"customers": [], "conversations": [], "cases": []}

    rows = execute(
        migrated_db,
        "SELECT input_redacted, output_redacted, actor_type FROM cc_audit_logs"
        " WHERE event_type = 'customer.searched' ORDER BY created_at, id",
    )
    assert len(rows) == 3  # every search looked up (the fragments were refused before)
    assert {row[2] for row in rows} == {"agent"}
    kept = json.dumps([list(row[:2]) for row in rows])
    for key in (phone, phone[1:], phone_of[theirs], "zoe.first"):  # masked as the panel masks
        assert key not in kept
    assert {row[0]["kind"] for row in rows} == {"phone", "email"}
    assert all(row[0]["key_hash"].startswith("hmac:") for row in rows)


async def test_search_by_case_reference_under_row_security(
    api: httpx.AsyncClient, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    mine, my_case = add_conversation(migrated_db, "cards")
    _, their_case = add_conversation(migrated_db, "fraud")
    await _sign_in(api, conn, "al@bank.example", "agent", "cards")

    found = (await api.get("/api/v1/search", params={"case": str(my_case).upper()})).json()
    assert [c["id"] for c in found["cases"]] == [str(my_case)]
    assert [c["id"] for c in found["conversations"]] == [str(mine)]
    other = (await api.get("/api/v1/search", params={"case": str(their_case)})).json()
    assert other == {"customers": [], "conversations": [], "cases": []}


async def test_searches_beyond_the_allowance_are_refused_429(
    api: httpx.AsyncClient, conn: AsyncConnection[Any], migrated_db: str
) -> None:
    await _sign_in(api, conn, "al@bank.example", "agent", "cards")
    key = {"email": "nobody@example.com"}
    for _ in range(ALLOWANCE):
        assert (await api.get("/api/v1/search", params=key)).status_code == 200
    refused = await api.get("/api/v1/search", params=key)
    again = await api.get("/api/v1/search", params=key)

    assert (refused.status_code, refused.json()["error"]) == (429, "search_rate_limited")
    assert int(refused.headers["retry-after"]) >= 1
    assert again.status_code == 429
    counts = dict(
        execute(
            migrated_db,
            "SELECT event_type, count(*) FROM cc_audit_logs WHERE event_type LIKE 'customer.%'"
            " GROUP BY event_type",
        )
    )
    assert counts == {"customer.searched": ALLOWANCE, "customer.search_refused": 1}


async def test_the_routes_are_documented_with_their_models_and_errors(
    api: httpx.AsyncClient,
) -> None:
    paths = (await api.get("/openapi.json")).json()["paths"]
    expected = {
        ("/api/v1/queues", "get"): {"200", "401", "403"},
        ("/api/v1/queues/{queue}/items", "get"): {"200", "403", "404"},
        ("/api/v1/breaches", "get"): {"200", "403"},
        ("/api/v1/assignments/{assignment_id}/reassign", "post"): {"200", "403", "404", "409"},
        ("/api/v1/assignments/{assignment_id}/take-over", "post"): {"200", "403", "404", "409"},
        ("/api/v1/search", "get"): {"200", "401", "422", "429"},
    }
    for (path, method), statuses in expected.items():
        responses = paths[path][method]["responses"]
        assert statuses <= set(responses), path
        assert "$ref" in json.dumps(responses["200"]), path  # a response model
