"""026: whose presence an agent may follow (cc_private.may_see_agent), asked in an agent's
transaction as the live streams ask it: their own; an admin anyone's; a supervisor that of the
agents sharing one of their queues; a disabled agent nobody's."""

from __future__ import annotations

from typing import Any

import pytest
from psycopg import AsyncConnection

from switchboard.row_security import AgentClaims, act_as_agent
from tests.row_security.floor import Floor, floor_fixture  # noqa: F401 (a fixture)

pytestmark = pytest.mark.anyio


async def _followed(conn: AsyncConnection[Any], claims: AgentClaims, floor: Floor) -> set[str]:
    everyone = {"ana": floor.ana, "bo": floor.bo, "sue": floor.sue, "root": floor.root}
    async with conn.transaction():
        await act_as_agent(conn, claims)
        cursor = await conn.execute(
            "SELECT x.id FROM unnest(%s::uuid[]) AS x (id) WHERE cc_private.may_see_agent(x.id)",
            ([c.agent_id for c in everyone.values()],),
        )
        seen = {row[0] for row in await cursor.fetchall()}
    return {name for name, c in everyone.items() if c.agent_id in seen}


async def test_presence_is_followed_by_the_agent_their_supervisors_and_admins(
    conn: AsyncConnection[Any], floor: Floor
) -> None:
    assert await _followed(conn, floor.ana, floor) == {"ana"}
    assert await _followed(conn, floor.bo, floor) == {"bo"}
    assert await _followed(conn, floor.sue, floor) == {"ana", "sue"}  # fraud's supervisor
    assert await _followed(conn, floor.root, floor) == {"ana", "bo", "sue", "root"}
    assert await _followed(conn, floor.gone, floor) == set()
