"""006 keeps every legacy row and value, rewrites no table, and changes nothing when re-run."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from switchboard.migrations.checklist import run_checklist
from switchboard.migrations.runner import LEDGER, MigrationRunner
from tests.builders import (
    RENAMES,
    TABLES_AFTER_006,
    execute,
    fill_legacy,
    relfilenodes,
    rows,
    run_psql,
    schema_snapshot,
    snapshot,
)
from tests.conftest import MIGRATIONS_DIR

Runner = Callable[..., MigrationRunner]
SPEC_FILE = MIGRATIONS_DIR / "006_cc_step1_checklist.sql"


def test_upgrade_from_an_empty_database_passes_the_whole_checklist(
    empty_db: str, runner_for: Runner
) -> None:
    applied = runner_for(empty_db).upgrade()

    assert [m.id for m in applied] == [
        "001",
        "002",
        "003",
        "004",
        "005",
        "006",
        "007",
        "008",
        "009",
        "010",
        "011",
        "012",
        "016",
    ]
    failed = [r for r in run_checklist(empty_db) if not r.ok]
    assert failed == []


def test_006_keeps_every_legacy_row_and_value_under_the_new_names(
    pre006_db: str, runner_for: Runner
) -> None:
    fill_legacy(pre006_db)
    before = snapshot(pre006_db)

    runner_for(pre006_db).upgrade("006")

    renamed = {(table, old): new for table, old, new in RENAMES}
    for table, old_rows in before.items():
        new_table = "cc_comm_preferences" if table == "cc_preferences" else table
        new_rows = rows(pre006_db, new_table)
        assert new_rows.keys() == old_rows.keys(), table
        for row_id, old in old_rows.items():
            for column, value in old.items():
                new_column = renamed.get((table, column), column)
                assert new_rows[row_id][new_column] == value, (table, row_id, column)


def test_006_rewrites_no_table(pre006_db: str, runner_for: Runner) -> None:
    fill_legacy(pre006_db)
    before = relfilenodes(pre006_db)

    runner_for(pre006_db).upgrade("006")

    after = relfilenodes(pre006_db)
    after["cc_preferences"] = after.pop("cc_comm_preferences")
    assert {t: after[t] for t in before} == before


def test_a_second_run_of_006_changes_nothing(migrated_db: str, runner_for: Runner) -> None:
    fill_legacy_after_006(migrated_db)
    schema, data = schema_snapshot(migrated_db), snapshot_after(migrated_db)

    result = run_psql(migrated_db, SPEC_FILE)
    assert result.returncode == 0, result.stderr
    execute(migrated_db, f"DELETE FROM {LEDGER} WHERE id = '006'")
    runner_for(migrated_db).upgrade()

    assert schema_snapshot(migrated_db) == schema
    assert snapshot_after(migrated_db) == data


def test_006_applies_with_plain_psql(pre006_db: str, runner_for: Runner) -> None:
    fill_legacy(pre006_db)
    count_before = execute(pre006_db, "SELECT count(*) FROM cc_messages")

    result = run_psql(pre006_db, SPEC_FILE)

    assert result.returncode == 0, result.stderr
    assert execute(pre006_db, "SELECT count(*) FROM cc_messages") == count_before
    runner_for(pre006_db).upgrade()  # 006 again (a no-op), then 007
    assert [r for r in run_checklist(pre006_db) if not r.ok] == []


def test_widened_constraints_allow_new_and_legacy_values(migrated_db: str) -> None:
    customer = execute(
        migrated_db, "INSERT INTO cc_bank_customers (customer_ref) VALUES ('w') RETURNING id"
    )[0][0]
    for status in ("open", "pending", "active", "closed", "archived"):
        execute(
            migrated_db,
            "INSERT INTO cc_conversations (bank_customer_id, channel, status)"
            " VALUES (%s, 'sms', %s)",
            (customer, status),
        )
    for case_type in (
        "fraud",
        "cards",
        "payments",
        "loans",
        "disputes",
        "complaints",
        "general",
        "card",
        "payment",
        "account",
    ):
        execute(
            migrated_db,
            "INSERT INTO cc_cases (bank_customer_id, case_type, status) VALUES (%s, %s, 'new')",
            (customer, case_type),
        )
    with pytest.raises(psycopg.errors.CheckViolation):
        execute(
            migrated_db, "INSERT INTO cc_conversations (channel, status) VALUES ('sms', 'bogus')"
        )
    with pytest.raises(psycopg.errors.CheckViolation):
        execute(migrated_db, "INSERT INTO cc_cases (case_type, status) VALUES ('lottery', 'new')")


def test_values_present_in_the_data_stay_allowed_when_no_constraint_listed_them(
    pre006_db: str, runner_for: Runner
) -> None:
    execute(pre006_db, "ALTER TABLE cc_conversations DROP CONSTRAINT cc_conversations_status_check")
    execute(pre006_db, "INSERT INTO cc_conversations (channel, status) VALUES ('sms', 'escalated')")

    runner_for(pre006_db).upgrade("006")

    validated = execute(
        pre006_db,
        "SELECT convalidated FROM pg_constraint WHERE conname = 'cc_conversations_status_check'",
    )
    assert validated == [(True,)]
    execute(pre006_db, "INSERT INTO cc_conversations (channel, status) VALUES ('sms', 'escalated')")


def test_new_check_constraints_end_validated(migrated_db: str) -> None:
    not_valid = execute(
        migrated_db,
        "SELECT conname FROM pg_constraint"
        " WHERE conrelid::regclass::text LIKE 'cc\\_%'"
        " AND NOT convalidated",
    )
    assert not_valid == []


def fill_legacy_after_006(url: str) -> None:
    customer = execute(
        url, "INSERT INTO cc_bank_customers (customer_ref) VALUES ('r') RETURNING id"
    )[0][0]
    conversation = execute(
        url,
        "INSERT INTO cc_conversations (bank_customer_id, channel, status,"
        " provider) VALUES (%s, 'sms', 'open', 'twilio') RETURNING id",
        (customer,),
    )[0][0]
    execute(
        url,
        "INSERT INTO cc_messages (conversation_id, direction, provider,"
        " provider_message_id, body_text, status)"
        " VALUES (%s, 'inbound', 'twilio', 'SM1', 'hi', 'received')",
        (conversation,),
    )
    execute(
        url,
        "INSERT INTO cc_audit_logs (conversation_id, actor_type, event_type, success)"
        " VALUES (%s, 'provider', 'message.received', true)",
        (conversation,),
    )


def snapshot_after(url: str) -> dict[str, dict[str, object]]:
    return snapshot(url, TABLES_AFTER_006)
