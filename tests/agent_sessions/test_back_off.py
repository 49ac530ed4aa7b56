"""Repeated failures back off, per account and per client, quickly and in bounded audit."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from psycopg import AsyncConnection

from switchboard.agents.passwords import PasswordChecker
from switchboard.errors import SignInBusy
from tests.agent_sessions.console import PASSWORD, SAME_ORIGIN, add, enrol, sign_in

pytestmark = pytest.mark.anyio

WRONG = "this is not the password"


async def audit_count(conn: AsyncConnection[Any]) -> int:
    cursor = await conn.execute("SELECT count(*) FROM cc_audit_logs")
    row = await cursor.fetchone()
    assert row is not None
    return int(row[0])


async def test_after_5_failures_the_account_gets_429_quickly_and_the_audit_stays_bounded(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    who = await enrol(client, await add(conn, "ada@bank.example"), "ada@bank.example")
    before = await audit_count(conn)
    for _ in range(5):
        failed = await sign_in(client, who, password=WRONG)
        assert failed.status_code == 401

    started = time.perf_counter()
    blocked = await sign_in(client, who)  # even the right password is not looked at
    took = time.perf_counter() - started

    assert blocked.status_code == 429
    assert blocked.json()["error"] == "sign_in_blocked"
    assert int(blocked.headers["Retry-After"]) >= 1
    assert took < 0.1
    statuses = [(await sign_in(client, who, password=WRONG)).status_code for _ in range(200)]
    assert statuses.count(429) >= 150  # a few get through, and fail, as each block ends
    # 5 failures, and for each later one its failure and the block it starts (account and
    # client): never one record per refused attempt.
    checked = 5 + statuses.count(401)
    assert await audit_count(conn) - before <= checked + 2 * (checked - 4)
    cursor = await conn.execute(
        "SELECT subject_kind, failures, refused_while_blocked > 0 FROM cc_sign_in_failures"
        " ORDER BY subject_kind"
    )
    rows = await cursor.fetchall()
    assert [(kind, refused) for kind, _, refused in rows] == [
        ("account", True),
        ("client", True),
    ]
    cursor = await conn.execute(
        "SELECT count(*) FROM cc_audit_logs WHERE event_type = 'agent.sign_in_blocked'"
    )
    assert ((await cursor.fetchone()) or [0])[0] >= 2


async def test_blocks_grow_exponentially_and_success_clears_the_account(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    who = await enrol(
        client, await add(conn, "ada@bank.example"), "ada@bank.example", confirm=False
    )
    waits = []
    for _ in range(8):
        await conn.execute("UPDATE cc_sign_in_failures SET blocked_until = now()")
        assert (await sign_in(client, who, password=WRONG)).status_code == 401
        cursor = await conn.execute(
            "SELECT round(extract(epoch FROM blocked_until - last_failed_at))::int"
            " FROM cc_sign_in_failures WHERE subject_kind = 'account'"
        )
        waits.append(((await cursor.fetchone()) or [0])[0])
    assert waits == [0, 0, 0, 0, 1, 2, 4, 8]

    await conn.execute("UPDATE cc_sign_in_failures SET failures = 40, blocked_until = now()")
    assert (await sign_in(client, who, password=WRONG)).status_code == 401
    cursor = await conn.execute(
        "SELECT extract(epoch FROM blocked_until - last_failed_at)::int FROM cc_sign_in_failures"
    )
    assert [row[0] for row in await cursor.fetchall()] == [900, 900]  # capped at 15 minutes

    await conn.execute("UPDATE cc_sign_in_failures SET blocked_until = now()")
    assert (await sign_in(client, who)).status_code == 200
    cursor = await conn.execute("SELECT subject_kind FROM cc_sign_in_failures")
    assert await cursor.fetchall() == [("client",)]  # the account's counter is cleared


async def test_an_unknown_email_backs_off_like_a_known_one(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    answers = []
    for _ in range(6):
        answer = await client.post(
            "/api/v1/session",
            json={"email": "nobody@bank.example", "password": PASSWORD},
            headers=SAME_ORIGIN,
        )
        answers.append(answer.status_code)

    assert answers == [401] * 5 + [429]
    cursor = await conn.execute("SELECT subject FROM cc_sign_in_failures")
    assert all("nobody" not in row[0] for row in await cursor.fetchall())


async def test_past_its_slots_and_queue_the_password_checker_answers_busy() -> None:
    checker = PasswordChecker(PasswordHasher(), slots=1, waiting=2)
    stored = PasswordHasher().hash(PASSWORD)

    results = await asyncio.gather(
        *(checker.verify(stored, PASSWORD) for _ in range(6)), return_exceptions=True
    )

    busy = [r for r in results if isinstance(r, SignInBusy)]
    assert len(busy) == 3
    assert [r for r in results if not isinstance(r, SignInBusy)] == [(True, None)] * 3
    assert busy[0].http_status == 503
    assert busy[0].retry_after == 1


async def test_an_unknown_email_costs_what_a_known_one_does() -> None:
    checker = PasswordChecker()
    stored = await checker.hash(PASSWORD)
    await checker.verify(None, PASSWORD)  # the dummy hash is made on first use

    def timed(stored_hash: str | None) -> Any:
        async def run() -> float:
            started = time.perf_counter()
            await checker.verify(stored_hash, WRONG)
            return time.perf_counter() - started

        return run()

    known = min([await timed(stored) for _ in range(3)])
    unknown = min([await timed(None) for _ in range(3)])

    assert unknown > 0.5 * known
    assert known > 0.5 * unknown


async def test_a_hash_with_old_parameters_is_replaced_when_it_matches(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    who = await enrol(
        client, await add(conn, "ada@bank.example"), "ada@bank.example", confirm=False
    )
    weak = PasswordHasher(time_cost=1, memory_cost=8192, parallelism=1).hash(PASSWORD)
    await conn.execute("UPDATE cc_agents SET password_hash = %s", (weak,))

    assert (await sign_in(client, who)).status_code == 200

    cursor = await conn.execute("SELECT password_hash FROM cc_agents")
    renewed = ((await cursor.fetchone()) or [""])[0]
    assert renewed != weak
    assert renewed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


async def test_a_burst_of_wrong_passwords_gets_no_more_checks_than_the_back_off_allows(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    who = await enrol(
        client, await add(conn, "ada@bank.example"), "ada@bank.example", confirm=False
    )

    answers = await asyncio.gather(*(sign_in(client, who, password=WRONG) for _ in range(8)))

    statuses = sorted(answer.status_code for answer in answers)
    # Each attempt checked is a 401; the first 5 failures are free, the 5th starts a block.
    assert statuses == [401] * 5 + [429] * 3
    cursor = await conn.execute(
        "SELECT subject_kind, failures FROM cc_sign_in_failures ORDER BY subject_kind"
    )
    assert await cursor.fetchall() == [("account", 5), ("client", 5)]
    cursor = await conn.execute(
        "SELECT count(*) FROM cc_audit_logs WHERE event_type = 'agent.sign_in_failed'"
    )
    assert ((await cursor.fetchone()) or [0])[0] == 5


async def test_a_burst_of_right_passwords_from_one_address_is_not_blocked(
    client: httpx.AsyncClient, conn: AsyncConnection[Any]
) -> None:
    who = await enrol(
        client, await add(conn, "ada@bank.example"), "ada@bank.example", confirm=False
    )

    answers = await asyncio.gather(*(sign_in(client, who) for _ in range(8)))

    assert [answer.status_code for answer in answers].count(200) >= 5
    cursor = await conn.execute("SELECT coalesce(sum(failures), 0) FROM cc_sign_in_failures")
    assert ((await cursor.fetchone()) or [0])[0] == 0
