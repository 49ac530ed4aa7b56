"""What checking a pooled connection before use costs: a checkout and return of one connection,
in microseconds, with no check (psycopg_pool's plain pool), with Switchboard's check
(db.connection_pool: a look at the socket, a round trip only when the server sent something),
and with psycopg_pool's own `check=check_connection` (a round trip every time).

Run as `.venv/bin/python bench/pool_check.py` (DATABASE_URL's server, else an embedded one);
the figures are printed.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from bench_support import scratch_database, server
from switchboard.db import connection_pool

CHECKOUTS = 20_000


async def _autocommit(conn: AsyncConnection[Any]) -> None:
    await conn.set_autocommit(True)


async def microseconds_per_checkout(pool: AsyncConnectionPool[Any], checkouts: int) -> float:
    await pool.open(wait=True)
    try:
        async with pool.connection():
            pass
        start = time.perf_counter()
        for _ in range(checkouts):
            async with pool.connection():
                pass
        return (time.perf_counter() - start) / checkouts * 1e6
    finally:
        await pool.close()


async def measure(url: str) -> dict[str, float]:
    def plain(**options: Any) -> AsyncConnectionPool[Any]:
        return AsyncConnectionPool(
            url, min_size=1, max_size=1, open=False, configure=_autocommit, **options
        )

    ours = connection_pool(url, name="bench-pool", min_size=1, max_size=1, wait_seconds=5)
    return {
        "no check": await microseconds_per_checkout(plain(), CHECKOUTS),
        "db.connection_pool": await microseconds_per_checkout(ours, CHECKOUTS),
        "check=check_connection": await microseconds_per_checkout(
            plain(check=AsyncConnectionPool.check_connection), CHECKOUTS // 4
        ),
    }


def main() -> None:
    with server() as (admin_url, where), scratch_database(admin_url, "sb_bench_pool") as url:
        print(f"server: {where}")
        for name, figure in asyncio.run(measure(url)).items():
            print(f"{name:>24}: {figure:7.1f} us per checkout and return")


if __name__ == "__main__":
    main()
