"""021: the agents' row-level security, as a migration: idempotent, reversible, and kept
when 014 runs again."""

from __future__ import annotations

from collections.abc import Callable

from switchboard.migrations.expected import AGENT_READABLE
from switchboard.migrations.runner import MigrationRunner
from tests.builders import execute

Runner = Callable[..., MigrationRunner]

# The tables 021 opens to agents (later migrations open their own).
TABLES_021 = (
    "'cc_conversations', 'cc_messages', 'cc_cases', 'cc_case_notes', 'cc_assignments',"
    " 'cc_comm_preferences', 'cc_identity_links', 'cc_audit_logs', 'cc_tool_calls',"
    " 'cc_auth_sessions'"
)
POLICIES = (
    "SELECT count(*) FROM pg_policy WHERE polname LIKE '%\\_agent\\_read'"
    f" AND polrelid::regclass::text IN ({TABLES_021})"
)
READABLE = (
    "SELECT count(DISTINCT table_name) FROM information_schema.role_column_grants"
    " WHERE grantee = 'authenticated' AND privilege_type = 'SELECT'"
    f" AND table_name IN ({TABLES_021})"
)


def test_ten_tables_readable_by_agents_under_their_policies(migrated_db: str) -> None:
    assert execute(migrated_db, POLICIES) == [(10,)]
    assert execute(migrated_db, READABLE) == [(10,)]
    # Nothing but reads, and nothing at all for anon.
    assert execute(
        migrated_db,
        "SELECT DISTINCT privilege_type FROM information_schema.role_table_grants"
        " WHERE grantee = 'authenticated'",
    ) == [("SELECT",)]
    assert execute(
        migrated_db,
        "SELECT count(*) FROM information_schema.role_table_grants WHERE grantee = 'anon'",
    ) == [(0,)]


def test_the_helpers_are_for_agents_and_the_service_only(migrated_db: str) -> None:
    rows = execute(
        migrated_db,
        "SELECT p.proname, p.prosecdef, p.proconfig,"
        " has_function_privilege('anon', p.oid, 'EXECUTE'),"
        " has_function_privilege('authenticated', p.oid, 'EXECUTE')"
        " FROM pg_proc AS p JOIN pg_namespace AS n ON n.oid = p.pronamespace"
        " WHERE n.nspname = 'cc_private' AND p.proname IN ('agent_id', 'agent_role',"
        " 'agent_queues', 'may_see_conversation', 'read_conversation', 'read_customer')",
    )
    assert len(rows) == 6
    for name, definer, config, anon_may, agents_may in rows:
        assert definer, name
        assert config == ['search_path=""'], name
        assert (anon_may, agents_may) == (False, True), name
    assert execute(migrated_db, "SELECT has_schema_privilege('anon', 'cc_private', 'USAGE')") == [
        (False,)
    ]


def test_021_runs_twice_and_rolls_back(migrated_db: str, runner_for: Runner) -> None:
    script = runner_for(migrated_db)
    migration = next(m for m in script._migrations if m.id == "021")
    for statement in migration.apply.statements:  # as the runner does after 014, again
        execute(migrated_db, statement.sql)
    assert execute(migrated_db, POLICIES) == [(10,)]

    script.downgrade("020" if any(m.id == "020" for m in script._migrations) else "018")

    assert execute(migrated_db, POLICIES) == [(0,)]
    assert execute(migrated_db, READABLE) == [(0,)]
    assert execute(migrated_db, "SELECT to_regprocedure('auth.uid()')") == [(None,)]
    script.upgrade()
    assert execute(migrated_db, POLICIES) == [(10,)]


def test_the_columns_agents_may_read_are_exactly_those_listed(migrated_db: str) -> None:
    rows = execute(
        migrated_db,
        "SELECT table_name, array_agg(column_name::text ORDER BY column_name)"
        " FROM information_schema.role_column_grants"
        " WHERE grantee = 'authenticated' AND privilege_type = 'SELECT' GROUP BY table_name",
    )
    granted = dict(rows)
    for table, columns in AGENT_READABLE.items():
        if columns is not None:
            assert granted[table] == sorted(columns), table
