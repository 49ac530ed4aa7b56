"""`switchboard db verify`: passes on a good database, fails on the right row of a broken one."""

from __future__ import annotations

import uuid

import psycopg
import pytest

from switchboard.migrations.checklist import SERVICE, SPECIFICATION, CheckResult, run_checklist
from switchboard.migrations.expected import INDEXES, TABLES
from tests.builders import TABLES_AFTER_006, execute, schema_snapshot, snapshot


def failures(url: str) -> list[CheckResult]:
    return [r for r in run_checklist(url) if not r.ok]


def test_a_migrated_database_passes_every_check(migrated_db: str) -> None:
    results = run_checklist(migrated_db)

    assert [r for r in results if not r.ok] == []
    checks = {r.check for r in results if r.section == SPECIFICATION}
    assert {r.check for r in results if r.section == SERVICE} == {
        "service can use",
        "service role privileges",
    }
    assert checks == {
        "columns exist",
        "index valid",
        "unique rejects duplicate",
        "audit UPDATE fails",
        "audit DELETE fails",
        "audit TRUNCATE fails",
        "audit triggers fire always",
        "rls enabled",
        "service role reads and writes",
        "new table accessible",
    }
    assert len([r for r in results if r.check == "index valid"]) == len(INDEXES)
    assert len([r for r in results if r.check == "rls enabled"]) == len(TABLES) == 9


def test_verify_leaves_no_trace(migrated_db: str) -> None:
    execute(migrated_db, "INSERT INTO cc_bank_customers (customer_ref) VALUES ('existing')")
    schema, data = schema_snapshot(migrated_db), snapshot(migrated_db, TABLES_AFTER_006)

    run_checklist(migrated_db)

    assert schema_snapshot(migrated_db) == schema
    assert snapshot(migrated_db, TABLES_AFTER_006) == data


def test_a_dropped_index_fails_its_row(migrated_db: str) -> None:
    execute(migrated_db, "DROP INDEX cc_messages_from_address_idx")

    failed = failures(migrated_db)

    assert [(r.check, r.target) for r in failed] == [
        ("index valid", "cc_messages_from_address_idx")
    ]
    assert "no index on cc_messages (from_address)" in failed[0].evidence


def test_an_invalid_index_fails_its_row(migrated_db: str) -> None:
    execute(
        migrated_db,
        "UPDATE pg_index SET indisvalid = false"
        " WHERE indexrelid = 'cc_cases_status_priority_idx'::regclass",
    )

    failed = failures(migrated_db)

    assert [(r.check, r.target) for r in failed] == [
        ("index valid", "cc_cases_status_priority_idx")
    ]
    assert failed[0].evidence.startswith("INVALID")


def test_an_equivalent_index_under_another_name_passes(migrated_db: str) -> None:
    execute(migrated_db, "ALTER INDEX cc_assignments_case_id_idx RENAME TO assignments_by_case")

    result = next(r for r in run_checklist(migrated_db) if r.target == "cc_assignments_case_id_idx")

    assert result.ok
    assert "as assignments_by_case" in result.evidence


def test_a_disabled_audit_trigger_fails_the_audit_rows(migrated_db: str) -> None:
    execute(migrated_db, "ALTER TABLE cc_audit_logs DISABLE TRIGGER cc_audit_logs_immutable")

    failed = {(r.check, r.target) for r in failures(migrated_db)}

    assert failed == {
        ("audit UPDATE fails", "cc_audit_logs as postgres"),
        ("audit DELETE fails", "cc_audit_logs as postgres"),
        ("audit triggers fire always", "cc_audit_logs"),
    }


def test_a_missing_unique_constraint_fails_with_the_duplicate_accepted(migrated_db: str) -> None:
    execute(
        migrated_db,
        "ALTER TABLE cc_identity_links DROP CONSTRAINT cc_identity_links_channel_address_key",
    )

    failed = {r.target: r.evidence for r in failures(migrated_db)}

    assert failed["cc_identity_links (channel, address)"] == (
        "second insert was accepted: the duplicate went in"
    )


def test_rls_switched_off_fails_that_table(migrated_db: str) -> None:
    execute(migrated_db, "ALTER TABLE cc_cases DISABLE ROW LEVEL SECURITY")

    assert [(r.check, r.target) for r in failures(migrated_db)] == [("rls enabled", "cc_cases")]


def test_a_revoked_grant_fails_the_service_role_row(migrated_db: str) -> None:
    execute(migrated_db, "REVOKE INSERT ON cc_assignments FROM service_role")

    failed = failures(migrated_db)

    assert [(r.check, r.target) for r in failed] == [
        ("service role reads and writes", "cc_assignments as service_role"),
        ("service role privileges", "cc_assignments"),  # the service's section says it too
    ]
    assert "permission denied" in failed[0].evidence
    assert failed[1].evidence == "missing INSERT"


def test_a_legacy_column_left_behind_fails_the_columns_row(migrated_db: str) -> None:
    execute(migrated_db, "ALTER TABLE cc_messages ADD COLUMN provider_msg_id text")

    failed = failures(migrated_db)

    assert [(r.check, r.target) for r in failed] == [("columns exist", "cc_messages")]
    assert "legacy column provider_msg_id still present" in failed[0].evidence


@pytest.mark.parametrize("to", ["005", "006"])
def test_a_database_before_007_or_006_fails_with_reasons(
    empty_db: str, runner_for: object, to: str
) -> None:
    runner_for(empty_db).upgrade(to)  # type: ignore[operator]

    failed = failures(empty_db)

    assert failed
    if to == "005":
        assert any(r.evidence == "table cc_identity_links does not exist" for r in failed)
        assert any("still named cc_preferences" in r.evidence for r in failed)


def test_a_missing_truncate_trigger_fails_even_while_the_table_is_busy(migrated_db: str) -> None:
    execute(migrated_db, "DROP TRIGGER cc_audit_logs_no_truncate ON cc_audit_logs")
    with psycopg.connect(migrated_db) as reader:
        reader.execute("SELECT count(*) FROM cc_audit_logs")  # holds ACCESS SHARE until rollback

        failed = {(r.check, r.target): r.evidence for r in failures(migrated_db)}

    assert failed[("audit TRUNCATE fails", "cc_audit_logs as postgres")] == (
        "table busy, not probed; and no TRUNCATE trigger is there"
    )
    assert ("audit triggers fire always", "cc_audit_logs") in failed


def test_a_dropped_immutability_trigger_fails_whoever_runs_verify(migrated_db: str) -> None:
    execute(migrated_db, "DROP TRIGGER cc_audit_logs_immutable ON cc_audit_logs")
    as_app = psycopg.conninfo.make_conninfo(migrated_db, user="switchboard_app")

    failed = [(r.check, r.evidence) for r in failures(as_app)]

    assert (
        "audit triggers fire always",
        "no BEFORE trigger enabled ALWAYS blocks UPDATE, DELETE",
    ) in failed


def test_verify_fills_what_a_banks_own_customer_table_requires(
    pre006_db: str, runner_for: object
) -> None:
    execute(pre006_db, "ALTER TABLE cc_bank_customers RENAME COLUMN customer_ref TO external_ref")
    execute(
        pre006_db,
        "ALTER TABLE cc_bank_customers ADD COLUMN kyc_level int NOT NULL,"
        " ADD COLUMN segment text NOT NULL CHECK (segment IN ('retail', 'private'))",
    )
    runner_for(pre006_db).upgrade()  # type: ignore[operator]

    assert failures(pre006_db) == []


def test_the_service_role_rows_are_not_passed_on_a_refused_set_role(migrated_db: str) -> None:
    # An owner that is not a member of service_role (plain PostgreSQL, not Supabase) cannot
    # SET ROLE service_role: that refusal is no evidence that the audit log refuses the role.
    role = f"sbtest_nonmember_{uuid.uuid4().hex[:12]}"
    execute(migrated_db, f"CREATE ROLE {role} LOGIN BYPASSRLS")
    try:
        execute(migrated_db, f"GRANT SELECT, INSERT ON cc_audit_logs TO {role}")
        execute(migrated_db, "GRANT UPDATE, DELETE ON cc_audit_logs TO service_role")
        execute(migrated_db, "ALTER TABLE cc_audit_logs DISABLE TRIGGER cc_audit_logs_immutable")
        as_role = psycopg.conninfo.make_conninfo(migrated_db, user=role)

        rows = {(r.check, r.target): r for r in run_checklist(as_role)}

        for operation in ("UPDATE", "DELETE"):
            row = rows[(f"audit {operation} fails", "cc_audit_logs as service_role")]
            assert not row.ok, row
            assert "set role" not in row.evidence
            assert f"service_role holds {operation}" in row.evidence
        truncate = rows[("audit TRUNCATE fails", "cc_audit_logs as service_role")]
        assert truncate.ok, truncate
        assert "not probed" in truncate.evidence
        service = rows[("service role reads and writes", "service_role")]
        assert "switchboard_app" in service.evidence
    finally:
        execute(migrated_db, f"DROP OWNED BY {role}")
        execute(migrated_db, f"DROP ROLE {role}")
