"""SQL for cc_webhook_refusals: a counter per window, provider, client and error code."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from switchboard.refusals.models import Overflow

# The window now() falls in, as the start of it: the same for every process of the service.
_CURRENT_WINDOW = "to_timestamp(floor(extract(epoch FROM now()) / %(seconds)s) * %(seconds)s)"


async def count_refusal(
    conn: AsyncConnection[Any],
    *,
    provider: str,
    client: str,
    error_code: str,
    window_seconds: int,
) -> int:
    """Count one refusal in its source's current window; the count so far, this one included."""
    cursor = await conn.execute(
        "INSERT INTO cc_webhook_refusals AS r (window_start, provider, client, error_code)"
        f" VALUES ({_CURRENT_WINDOW}, %(provider)s, %(client)s, %(error_code)s)"
        " ON CONFLICT (window_start, provider, client, error_code)"
        " DO UPDATE SET refused = r.refused + 1"
        " RETURNING refused",
        {
            "seconds": window_seconds,
            "provider": provider,
            "client": client,
            "error_code": error_code,
        },
    )
    row = await cursor.fetchone()
    if row is None:  # INSERT ... ON CONFLICT DO UPDATE ... RETURNING always returns the row
        raise RuntimeError("cc_webhook_refusals upsert returned no row")
    refused: int = row[0]
    return refused


async def delete_closed_windows(
    conn: AsyncConnection[Any], *, window_seconds: int, audited: int, limit: int
) -> list[Overflow]:
    """Delete up to `limit` counters of windows that are over; those that counted more than
    `audited` refusals are returned, to be audited in summary.

    SKIP LOCKED: a counter another transaction is still incrementing (its window just closed)
    is left for a later call, so no refusal ever waits here, and none is counted twice.
    """
    cursor = await conn.execute(
        "WITH due AS ("
        " SELECT window_start, provider, client, error_code FROM cc_webhook_refusals"
        f" WHERE window_start < {_CURRENT_WINDOW}"
        " ORDER BY window_start LIMIT %(limit)s FOR UPDATE SKIP LOCKED),"
        " gone AS ("
        " DELETE FROM cc_webhook_refusals r USING due"
        " WHERE (r.window_start, r.provider, r.client, r.error_code)"
        " = (due.window_start, due.provider, due.client, due.error_code)"
        " RETURNING r.window_start, r.provider, r.client, r.error_code, r.refused)"
        " SELECT window_start, provider, client, error_code, refused FROM gone"
        " WHERE refused > %(audited)s ORDER BY window_start, provider, client, error_code",
        {"seconds": window_seconds, "limit": limit, "audited": audited},
    )
    return [Overflow(*row) for row in await cursor.fetchall()]
