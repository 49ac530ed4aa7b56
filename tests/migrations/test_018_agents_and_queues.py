"""018: agents, their sessions, queues, calendars and SLA policies."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from switchboard.migrations.runner import MigrationRunner
from tests.builders import execute

Runner = Callable[..., MigrationRunner]

TABLES = (
    "cc_calendars",
    "cc_calendar_hours",
    "cc_calendar_exceptions",
    "cc_sla_policies",
    "cc_sla_targets",
    "cc_queues",
    "cc_agents",
    "cc_agent_queues",
    "cc_agent_sessions",
    "cc_sign_in_failures",
)


def test_the_assistants_seven_queues_each_with_a_policy_and_calendar(migrated_db: str) -> None:
    queues = execute(
        migrated_db,
        "SELECT q.name, count(t.*) FROM cc_queues AS q"
        " JOIN cc_sla_targets AS t ON t.policy_name = q.sla_policy_name"
        " JOIN cc_calendars AS c ON c.name = q.calendar_name GROUP BY q.name ORDER BY q.name",
    )
    # every priority (4) times every metric (3)
    assert queues == [
        (name, 12)
        for name in sorted(
            ["fraud", "cards", "payments", "loans", "disputes", "complaints", "general"]
        )
    ]


def test_an_email_is_one_agent_whatever_its_case(migrated_db: str) -> None:
    execute(
        migrated_db,
        "INSERT INTO cc_agents (email, display_name, role)"
        " VALUES ('Ana@Bank.example', 'Ana', 'agent')",
    )
    with pytest.raises(psycopg.errors.UniqueViolation):
        execute(
            migrated_db,
            "INSERT INTO cc_agents (email, display_name, role)"
            " VALUES ('ana@bank.example', 'Ana again', 'agent')",
        )


def test_browser_roles_get_nothing_but_the_reference_data_under_supabase_defaults(
    pre006_db: str, runner_for: Runner
) -> None:
    execute(
        pre006_db,
        "DO $$ BEGIN"
        " IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon')"
        " THEN CREATE ROLE anon; END IF;"
        " IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated')"
        " THEN CREATE ROLE authenticated; END IF;"
        " IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role')"
        " THEN CREATE ROLE service_role; END IF; END $$;"
        " ALTER DEFAULT PRIVILEGES IN SCHEMA public"
        " GRANT ALL ON TABLES TO anon, authenticated, service_role",
    )
    runner_for(pre006_db).upgrade()

    rights = execute(
        pre006_db,
        "SELECT table_name, grantee, privilege_type FROM information_schema.role_table_grants"
        " WHERE table_name = ANY(%s) AND grantee IN ('anon', 'authenticated', 'PUBLIC')"
        " ORDER BY 1",
        (list(TABLES),),
    )
    # Agents read how the contact center works (024); nothing of agents, sessions or failures.
    assert rights == [
        (table, "authenticated", "SELECT")
        for table in sorted(TABLES)
        if not table.startswith(("cc_agent", "cc_sign_in"))
    ]
    agents = execute(
        pre006_db,
        "SELECT privilege_type FROM information_schema.role_table_grants"
        " WHERE table_name = 'cc_agents' AND grantee = 'service_role' ORDER BY 1",
    )
    assert agents == [("INSERT",), ("SELECT",), ("UPDATE",)]  # disabled, never deleted
    secured = execute(
        pre006_db,
        "SELECT count(*) FROM pg_class WHERE relname = ANY(%s) AND relrowsecurity",
        (list(TABLES),),
    )
    assert secured == [(len(TABLES),)]


def test_018_rolls_back_and_applies_again(migrated_db: str, runner_for: Runner) -> None:
    runner = runner_for(migrated_db)

    runner.downgrade("017")

    assert execute(migrated_db, "SELECT to_regclass('cc_agents')") == [(None,)]
    runner.upgrade()
    assert execute(migrated_db, "SELECT count(*) FROM cc_queues") == [(7,)]
