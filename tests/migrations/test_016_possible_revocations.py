"""016: the flags of texts that may ask, in words, to stop being contacted."""

from __future__ import annotations

from collections.abc import Callable

from switchboard.migrations.runner import MigrationRunner
from tests.builders import execute

Runner = Callable[..., MigrationRunner]


def test_flags_are_only_appended_and_browser_roles_see_none(migrated_db: str) -> None:
    rights = execute(
        migrated_db,
        "SELECT grantee, privilege_type FROM information_schema.role_table_grants"
        " WHERE table_name = 'cc_possible_revocations'"
        " AND grantee IN ('service_role', 'switchboard_app', 'anon', 'authenticated', 'PUBLIC')"
        " ORDER BY 1, 2",
    )
    assert rights == [("service_role", "INSERT"), ("service_role", "SELECT")]
    assert execute(
        migrated_db,
        "SELECT relrowsecurity FROM pg_class WHERE relname = 'cc_possible_revocations'",
    ) == [(True,)]


def test_supabase_default_privileges_grant_nothing_more(pre006_db: str, runner_for: Runner) -> None:
    # What a Supabase project does for every new table in public.
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

    assert execute(
        pre006_db,
        "SELECT grantee, privilege_type FROM information_schema.role_table_grants"
        " WHERE table_name = 'cc_possible_revocations'"
        " AND grantee IN ('service_role', 'anon', 'authenticated') ORDER BY 1, 2",
    ) == [("service_role", "INSERT"), ("service_role", "SELECT")]


def test_016_rolls_back_and_applies_again(migrated_db: str, runner_for: Runner) -> None:
    runner = runner_for(migrated_db)

    runner.downgrade("012")

    assert execute(migrated_db, "SELECT to_regclass('cc_possible_revocations')") == [(None,)]
    runner.upgrade()
    assert execute(migrated_db, "SELECT to_regclass('cc_possible_revocations')") != [(None,)]
