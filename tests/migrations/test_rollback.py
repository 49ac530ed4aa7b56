"""006's rollback undoes what 006 changed, and only that; 007 and adopt on databases made
elsewhere."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from switchboard.migrations.checklist import run_checklist
from switchboard.migrations.files import Migration
from switchboard.migrations.runner import MigrationRunner
from tests.builders import column_names, execute, run_psql

Runner = Callable[..., MigrationRunner]


def test_columns_the_database_had_before_006_survive_its_rollback(
    pre006_db: str, runner_for: Runner
) -> None:
    execute(
        pre006_db,
        "ALTER TABLE cc_auth_sessions ADD COLUMN updated_at timestamptz NOT NULL DEFAULT now()",
    )
    execute(pre006_db, "ALTER TABLE cc_messages ADD COLUMN status text")
    execute(pre006_db, "ALTER TABLE cc_cases ADD COLUMN closed_at timestamptz")
    customer = execute(
        pre006_db, "INSERT INTO cc_bank_customers (customer_ref) VALUES ('k') RETURNING id"
    )[0][0]
    execute(
        pre006_db,
        "INSERT INTO cc_cases (bank_customer_id, case_type, closed_at)"
        " VALUES (%s, 'card', '2026-01-01T00:00:00Z')",
        (customer,),
    )
    runner = runner_for(pre006_db)
    runner.upgrade()

    runner.downgrade("005")

    assert "updated_at" in column_names(pre006_db, "cc_auth_sessions")
    assert "status" in column_names(pre006_db, "cc_messages")
    assert execute(pre006_db, "SELECT count(closed_at) FROM cc_cases") == [(1,)]
    assert "summary" not in column_names(pre006_db, "cc_cases")  # 006's own column went


def test_rls_the_database_had_before_006_stays_on_after_its_rollback(
    pre006_db: str, runner_for: Runner
) -> None:
    execute(pre006_db, "ALTER TABLE cc_bank_customers ENABLE ROW LEVEL SECURITY")
    runner = runner_for(pre006_db)
    runner.upgrade()

    runner.downgrade("005")

    rls = dict(
        execute(
            pre006_db,
            "SELECT relname::text, relrowsecurity FROM pg_class"
            " WHERE relname IN ('cc_bank_customers', 'cc_cases')",
        )
    )
    assert rls == {"cc_bank_customers": True, "cc_cases": False}


def test_a_bank_specific_check_comes_back_exactly_after_rollback(
    pre006_db: str, runner_for: Runner
) -> None:
    execute(
        pre006_db,
        "ALTER TABLE cc_cases DROP CONSTRAINT cc_cases_case_type_check,"
        " ADD CONSTRAINT cases_type_known CHECK (case_type IN"
        " ('card', 'mortgage', 'general'))",
    )
    execute(pre006_db, "INSERT INTO cc_cases (case_type) VALUES ('mortgage')")
    runner = runner_for(pre006_db)
    runner.upgrade()
    execute(pre006_db, "INSERT INTO cc_cases (case_type, status) VALUES ('mortgage', 'new')")

    runner.downgrade("005")

    assert execute(
        pre006_db,
        "SELECT conname::text, convalidated FROM pg_constraint"
        " WHERE conrelid = 'cc_cases'::regclass AND contype = 'c'"
        " AND pg_get_constraintdef(oid) LIKE '%case_type%'",
    ) == [("cases_type_known", True)]
    # Legacy rows stay editable (rows written since 006 with new values break the legacy sets).
    execute(pre006_db, "UPDATE cc_cases SET priority = 'high' WHERE status = 'open'")
    with pytest.raises(psycopg.errors.CheckViolation):
        execute(pre006_db, "INSERT INTO cc_cases (case_type) VALUES ('cards')")


def test_a_check_that_is_not_a_value_list_is_kept_as_it_is(
    pre006_db: str, runner_for: Runner
) -> None:
    execute(
        pre006_db,
        "ALTER TABLE cc_conversations ADD CONSTRAINT status_not_blank CHECK (status <> '')",
    )

    runner_for(pre006_db).upgrade()

    checks = execute(
        pre006_db,
        "SELECT conname::text FROM pg_constraint WHERE contype = 'c'"
        " AND conrelid = 'cc_conversations'::regclass ORDER BY 1",
    )
    assert ("status_not_blank",) in checks
    with pytest.raises(psycopg.errors.CheckViolation):
        execute(pre006_db, "INSERT INTO cc_conversations (channel, status) VALUES ('sms', '')")
    execute(pre006_db, "INSERT INTO cc_conversations (channel, status) VALUES ('sms', 'open')")


def test_007_completes_a_login_role_an_operator_created_first(
    empty_db: str, runner_for: Runner, server_url: str
) -> None:
    with psycopg.connect(server_url, autocommit=True) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = 'switchboard_app'"
        ).fetchone()
        if exists:
            admin.execute("ALTER ROLE switchboard_app RESET role")
            admin.execute("REVOKE service_role FROM switchboard_app")
        else:
            admin.execute("CREATE ROLE switchboard_app LOGIN")

    runner_for(empty_db).upgrade()

    with psycopg.connect(server_url) as admin:
        member = admin.execute(
            "SELECT pg_has_role('switchboard_app', 'service_role', 'MEMBER')"
        ).fetchone()
    assert member == (True,)
    settings = execute(
        empty_db,
        "SELECT s.setconfig FROM pg_db_role_setting s"
        " JOIN pg_roles r ON r.oid = s.setrole"
        " WHERE r.rolname = 'switchboard_app' AND s.setdatabase = 0",
    )
    assert settings == [(["role=service_role"],)]


def test_007_leaves_the_service_role_no_way_to_silence_the_audit_log(
    migrated_db: str,
) -> None:
    privileges = execute(
        migrated_db,
        "SELECT privilege_type FROM information_schema"
        ".table_privileges WHERE table_name = 'cc_audit_logs'"
        " AND grantee = 'service_role' ORDER BY 1",
    )

    assert privileges == [("INSERT",), ("SELECT",)]


def test_adopt_accepts_a_schema_without_the_preferences_table_006_would_create(
    empty_db: str, runner_for: Runner, migrations: list[Migration]
) -> None:
    for migration in migrations[:5]:
        assert run_psql(empty_db, migration.apply.path, "-1").returncode == 0
    execute(empty_db, "DROP TABLE cc_preferences")
    runner = runner_for(empty_db)

    runner.adopt("005")
    runner.upgrade()

    assert [r for r in run_checklist(empty_db) if not r.ok] == []
