"""026: the live notifications' triggers, as a migration: one notification per 25 rows of a
statement, none for a change the console does not show, functions nobody may call, and a
file that runs twice and rolls back."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from psycopg import AsyncConnection

from switchboard.migrations.runner import MigrationRunner
from tests.builders import execute

Runner = Callable[..., MigrationRunner]
pytestmark = pytest.mark.anyio

TRIGGERS = "SELECT count(*) FROM pg_trigger WHERE tgname LIKE '%\\_live\\_%' AND NOT tgisinternal"
NOTIFIERS = (
    "live_assignments", "live_messages", "live_message_statuses", "live_sla_events",
    "live_cases", "live_notes", "live_presence", "live_sessions",
    "live_verification",  # 029's
)  # fmt: skip
# 026's ten triggers and 029's three.
LIVE_TRIGGERS = 13


async def _notified(url: str, *statements: str) -> list[dict[str, Any]]:
    """What cc_live carried while `statements` ran, each in its own transaction."""
    async with await AsyncConnection.connect(url, autocommit=True) as listening:
        await listening.execute("LISTEN cc_live")
        for statement in statements:
            execute(url, statement)
        execute(url, 'NOTIFY cc_live, \'{"kind": "end"}\'')
        got = []
        async for notify in listening.notifies(timeout=5):
            payload = json.loads(notify.payload)
            if payload["kind"] == "end":
                break
            got.append(payload)
        return got


async def test_a_statement_of_sixty_rows_notifies_three_times(migrated_db: str) -> None:
    [(conversation,)] = execute(
        migrated_db, "INSERT INTO cc_conversations (channel) VALUES ('sms') RETURNING id"
    )
    got = await _notified(
        migrated_db,
        "INSERT INTO cc_messages (conversation_id, direction, body_text)"
        f" SELECT '{conversation}', 'inbound', 'a text' FROM generate_series(1, 60)",
    )
    assert [len(note["rows"]) for note in got] == [25, 25, 10]
    assert {note["kind"] for note in got} == {"message"}
    assert len({row["id"] for note in got for row in note["rows"]}) == 60


async def test_a_change_the_console_does_not_show_notifies_nothing(migrated_db: str) -> None:
    [(agent,)] = execute(
        migrated_db,
        "INSERT INTO cc_agents (email, display_name, role) VALUES ('a@b.example', 'A', 'agent')"
        " RETURNING id",
    )
    [(conversation,)] = execute(
        migrated_db, "INSERT INTO cc_conversations (channel) VALUES ('sms') RETURNING id"
    )
    execute(
        migrated_db,
        "INSERT INTO cc_messages (conversation_id, direction, status) VALUES (%s, 'inbound',"
        " 'received')",
        (conversation,),
    )
    got = await _notified(
        migrated_db,
        f"UPDATE cc_agents SET last_seen_at = now() WHERE id = '{agent}'",  # a heartbeat
        "UPDATE cc_messages SET provider_message_id = 'SM1'",
        "UPDATE cc_messages SET status = 'delivered'",
        f"UPDATE cc_agents SET presence = 'away' WHERE id = '{agent}'",
    )
    assert [note["kind"] for note in got] == ["message", "presence"]
    assert got[1]["rows"] == [{"agent_id": str(agent), "presence": "away"}]


def test_nobody_may_call_the_notifiers_and_only_agents_and_the_service_the_helper(
    migrated_db: str,
) -> None:
    rows = execute(
        migrated_db,
        "SELECT p.proname, p.prosecdef, p.proconfig,"
        " has_function_privilege('anon', p.oid, 'EXECUTE'),"
        " has_function_privilege('authenticated', p.oid, 'EXECUTE'),"
        " has_function_privilege('service_role', p.oid, 'EXECUTE'),"
        " has_function_privilege('switchboard_app', p.oid, 'EXECUTE')"
        " FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'cc_private' AND (p.proname LIKE 'live\\_%' OR p.proname ="
        " 'may_see_agent')",
    )
    assert len(rows) == len(NOTIFIERS) + 1
    for name, definer, config, *callers in rows:
        assert config == ['search_path=""'], name
        if name == "may_see_agent":
            assert definer
            # switchboard_app calls it as authenticated or service_role, not as itself
            assert callers == [False, True, True, False]
        else:
            assert name in NOTIFIERS
            assert callers == [False, False, False, False], name


def test_026_runs_twice_and_rolls_back(migrated_db: str, runner_for: Runner) -> None:
    script = runner_for(migrated_db)
    migration = next(m for m in script._migrations if m.id == "026")
    for statement in migration.apply.statements:
        execute(migrated_db, statement.sql)
    assert execute(migrated_db, TRIGGERS) == [(LIVE_TRIGGERS,)]

    script.downgrade("025")

    assert execute(migrated_db, TRIGGERS) == [(0,)]
    assert execute(
        migrated_db,
        "SELECT count(*) FROM pg_proc WHERE pronamespace = 'cc_private'::regnamespace"
        " AND (proname LIKE 'live\\_%' OR proname = 'may_see_agent')",
    ) == [(0,)]
    script.upgrade()
    assert execute(migrated_db, TRIGGERS) == [(LIVE_TRIGGERS,)]
