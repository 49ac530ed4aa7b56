"""within_transaction: a transaction of its own on an idle connection, the caller's otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from psycopg import AsyncConnection

from switchboard.db import within_transaction
from tests.builders import execute

pytestmark = pytest.mark.anyio


class Refused(Exception):
    pass


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def conn(empty_db: str) -> AsyncIterator[AsyncConnection[Any]]:
    async with await AsyncConnection.connect(empty_db, autocommit=True) as connection:
        await connection.execute("CREATE TABLE t (n int)")
        yield connection


async def test_on_an_idle_connection_the_block_commits_on_its_own(
    conn: AsyncConnection[Any], empty_db: str
) -> None:
    async with within_transaction(conn):
        await conn.execute("INSERT INTO t VALUES (1)")
        assert execute(empty_db, "SELECT count(*) FROM t") == [(0,)]  # not yet committed

    assert execute(empty_db, "SELECT n FROM t") == [(1,)]


async def test_on_an_idle_connection_an_error_undoes_the_block(
    conn: AsyncConnection[Any], empty_db: str
) -> None:
    async def write_then_fail() -> None:
        async with within_transaction(conn):
            await conn.execute("INSERT INTO t VALUES (1)")
            raise Refused

    with pytest.raises(Refused):
        await write_then_fail()

    assert execute(empty_db, "SELECT count(*) FROM t") == [(0,)]


async def test_inside_a_transaction_the_block_joins_it_without_a_savepoint(
    conn: AsyncConnection[Any], empty_db: str
) -> None:
    async with conn.transaction():
        try:
            async with within_transaction(conn):
                await conn.execute("INSERT INTO t VALUES (1)")
                raise Refused
        except Refused:
            pass  # caught inside the transaction: the block's write is not undone
        await conn.execute("INSERT INTO t VALUES (2)")

    assert execute(empty_db, "SELECT n FROM t ORDER BY n") == [(1,), (2,)]


async def test_inside_a_transaction_the_block_rolls_back_with_it(
    conn: AsyncConnection[Any], empty_db: str
) -> None:
    async def write_then_fail_after() -> None:
        async with conn.transaction():
            async with within_transaction(conn):
                await conn.execute("INSERT INTO t VALUES (1)")
            raise Refused

    with pytest.raises(Refused):
        await write_then_fail_after()

    assert execute(empty_db, "SELECT count(*) FROM t") == [(0,)]
