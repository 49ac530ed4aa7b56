"""006 on pre-006 databases that got there some other way ("if exists"), and its preflight."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from switchboard.errors import DuplicateMessageIds, MigrationError
from switchboard.migrations.checklist import run_checklist
from switchboard.migrations.runner import MigrationRunner
from tests.builders import (
    RENAMES,
    column_names,
    execute,
    fill_legacy,
    rows,
    schema_snapshot,
    snapshot,
)

Runner = Callable[..., MigrationRunner]


def test_columns_and_table_that_already_have_their_new_names(
    pre006_db: str, runner_for: Runner
) -> None:
    fill_legacy(pre006_db)
    for table, old, new in RENAMES:
        execute(pre006_db, f"ALTER TABLE {table} RENAME COLUMN {old} TO {new}")
    execute(pre006_db, "ALTER TABLE cc_preferences RENAME TO cc_comm_preferences")
    before = snapshot(pre006_db, ("cc_messages", "cc_audit_logs", "cc_comm_preferences"))

    runner_for(pre006_db).upgrade()

    after = snapshot(pre006_db, ("cc_messages", "cc_audit_logs", "cc_comm_preferences"))
    for table, old_rows in before.items():
        for row_id, old in old_rows.items():
            assert {k: after[table][row_id][k] for k in old} == old
    assert [r for r in run_checklist(pre006_db) if not r.ok] == []


def test_both_names_present_the_values_are_merged_and_the_old_name_dropped(
    pre006_db: str, runner_for: Runner
) -> None:
    fill_legacy(pre006_db)
    execute(pre006_db, "ALTER TABLE cc_messages ADD COLUMN provider_message_id text")
    # Some rows already moved to the new name (old emptied), some written to both, equal.
    execute(
        pre006_db,
        "UPDATE cc_messages SET provider_message_id = provider_msg_id,"
        " provider_msg_id = NULL WHERE direction = 'inbound'",
    )
    execute(
        pre006_db,
        "UPDATE cc_messages SET provider_message_id = provider_msg_id WHERE direction = 'outbound'",
    )
    execute(pre006_db, "ALTER TABLE cc_audit_logs ADD COLUMN actor_type text")
    before = rows(pre006_db, "cc_messages")
    audit_before = rows(pre006_db, "cc_audit_logs")

    runner_for(pre006_db).upgrade()

    after = rows(pre006_db, "cc_messages")
    assert "provider_msg_id" not in column_names(pre006_db, "cc_messages")
    for row_id, old in before.items():
        expected = old["provider_message_id"] or old["provider_msg_id"]
        assert after[row_id]["provider_message_id"] == expected
    audit_after = rows(pre006_db, "cc_audit_logs")
    assert {i: r["actor_type"] for i, r in audit_after.items()} == {
        i: r["actor"] for i, r in audit_before.items()
    }


def test_both_names_holding_different_values_stop_006_before_any_change(
    pre006_db: str, runner_for: Runner
) -> None:
    fill_legacy(pre006_db)
    execute(pre006_db, "ALTER TABLE cc_messages ADD COLUMN body_text text")
    execute(
        pre006_db,
        "UPDATE cc_messages SET body_text = 'something else'"
        " WHERE id = (SELECT min(id::text)::uuid FROM cc_messages)",
    )
    schema = schema_snapshot(pre006_db)

    with pytest.raises(MigrationError, match="both text and body_text"):
        runner_for(pre006_db).upgrade()

    assert schema_snapshot(pre006_db) == schema


def test_both_preference_tables_are_merged_with_their_extra_columns(
    pre006_db: str, runner_for: Runner
) -> None:
    fill_legacy(pre006_db, customers=4)
    execute(pre006_db, "ALTER TABLE cc_preferences ADD COLUMN legacy_note text")
    execute(pre006_db, "UPDATE cc_preferences SET legacy_note = 'kept'")
    execute(pre006_db, "CREATE TABLE cc_comm_preferences (LIKE cc_preferences INCLUDING ALL)")
    execute(pre006_db, "ALTER TABLE cc_comm_preferences DROP COLUMN legacy_note")
    # Half the rows were already copied across by whoever started the rename.
    execute(
        pre006_db,
        "INSERT INTO cc_comm_preferences (id, bank_customer_id, do_not_contact,"
        " created_at, updated_at) SELECT id, bank_customer_id, do_not_contact,"
        " created_at, updated_at FROM cc_preferences WHERE do_not_contact",
    )
    before = rows(pre006_db, "cc_preferences")

    runner_for(pre006_db).upgrade()

    assert execute(pre006_db, "SELECT to_regclass('cc_preferences')") == [(None,)]
    after = rows(pre006_db, "cc_comm_preferences")
    assert after.keys() == before.keys()
    for row_id, old in before.items():
        assert {k: after[row_id][k] for k in old} == old


def test_missing_optional_legacy_columns_and_table_are_created(
    pre006_db: str, runner_for: Runner
) -> None:
    for table, column in (
        ("cc_messages", "provider_msg_id"),
        ("cc_messages", "text"),
        ("cc_audit_logs", "payload_redacted"),
        ("cc_cases", "description"),
        ("cc_cases", "resolved_at"),
    ):
        execute(pre006_db, f"ALTER TABLE {table} DROP COLUMN {column}")
    execute(pre006_db, "DROP TABLE cc_preferences")

    runner_for(pre006_db).upgrade()

    assert [r for r in run_checklist(pre006_db) if not r.ok] == []


def test_unknown_extra_columns_and_tables_survive_untouched(
    pre006_db: str, runner_for: Runner
) -> None:
    fill_legacy(pre006_db)
    execute(pre006_db, "ALTER TABLE cc_messages ADD COLUMN channel_hint varchar(20)")
    execute(pre006_db, "UPDATE cc_messages SET channel_hint = 'legacy-' || direction")
    execute(pre006_db, "ALTER TABLE cc_cases ADD COLUMN branch_code int DEFAULT 42")
    execute(pre006_db, "CREATE TABLE cc_notes (id serial PRIMARY KEY, body text)")
    execute(pre006_db, "INSERT INTO cc_notes (body) VALUES ('keep me')")
    hints = execute(pre006_db, "SELECT id, channel_hint FROM cc_messages ORDER BY id")

    runner_for(pre006_db).upgrade()

    assert execute(pre006_db, "SELECT id, channel_hint FROM cc_messages ORDER BY id") == hints
    assert execute(pre006_db, "SELECT DISTINCT branch_code FROM cc_cases") == [(42,)]
    assert execute(pre006_db, "SELECT body FROM cc_notes") == [("keep me",)]


def test_duplicate_message_ids_stop_006_listing_them_with_the_database_unchanged(
    pre006_db: str, runner_for: Runner
) -> None:
    fill_legacy(pre006_db)
    # A database half-way there: provider already added, and two deliveries stored twice.
    execute(pre006_db, "ALTER TABLE cc_messages ADD COLUMN provider text")
    execute(pre006_db, "UPDATE cc_messages SET provider = 'twilio'")
    execute(
        pre006_db,
        "UPDATE cc_messages SET provider_msg_id = 'SMDUPLICATE1'"
        " WHERE id IN (SELECT id FROM cc_messages ORDER BY id LIMIT 3)",
    )
    execute(
        pre006_db,
        "UPDATE cc_messages SET provider_msg_id = 'SMDUPLICATE2'"
        " WHERE id IN (SELECT id FROM cc_messages ORDER BY id DESC LIMIT 2)",
    )
    schema, data = schema_snapshot(pre006_db), snapshot(pre006_db)

    with pytest.raises(DuplicateMessageIds) as raised:
        runner_for(pre006_db).upgrade()

    message = str(raised.value)
    assert "2 duplicated (provider, provider_message_id) pairs" in message
    assert "provider=twilio provider_message_id=SMDUPLICATE1 (3 rows)" in message
    assert "provider=twilio provider_message_id=SMDUPLICATE2 (2 rows)" in message
    assert schema_snapshot(pre006_db) == schema
    assert snapshot(pre006_db) == data
    assert runner_for(pre006_db).status()[5].applied is None


def test_an_invalid_index_left_by_an_interrupted_run_is_rebuilt(
    pre006_db: str, runner_for: Runner
) -> None:
    fill_legacy(pre006_db)
    # What a killed CREATE INDEX CONCURRENTLY leaves: an INVALID index under 006's name.
    with pytest.raises(Exception, match="could not create unique index"):
        execute(
            pre006_db,
            "CREATE UNIQUE INDEX CONCURRENTLY cc_messages_from_address_idx"
            " ON cc_messages (direction)",
        )
    assert execute(
        pre006_db,
        "SELECT indisvalid FROM pg_index"
        " WHERE indexrelid = 'cc_messages_from_address_idx'::regclass",
    ) == [(False,)]

    runner_for(pre006_db).upgrade()

    assert [r for r in run_checklist(pre006_db) if not r.ok] == []


def test_old_and_new_columns_of_types_that_cannot_be_copied_stop_006_before_any_change(
    pre006_db: str, runner_for: Runner
) -> None:
    execute(pre006_db, "ALTER TABLE cc_audit_logs ALTER COLUMN payload_redacted TYPE text")
    execute(pre006_db, "ALTER TABLE cc_audit_logs ADD COLUMN input_redacted jsonb")
    schema = schema_snapshot(pre006_db)

    with pytest.raises(MigrationError, match=r"payload_redacted \(text\) and input_redacted"):
        runner_for(pre006_db).upgrade()

    assert schema_snapshot(pre006_db) == schema


def test_old_json_and_new_jsonb_holding_the_same_value_are_merged(
    pre006_db: str, runner_for: Runner
) -> None:
    execute(pre006_db, "ALTER TABLE cc_audit_logs ALTER COLUMN payload_redacted TYPE json")
    execute(pre006_db, "ALTER TABLE cc_audit_logs ADD COLUMN input_redacted jsonb")
    execute(
        pre006_db,
        "INSERT INTO cc_audit_logs (actor, action, payload_redacted, input_redacted)"
        " VALUES ('agent', 'x', '{\"k\": 1}', '{\"k\": 1}'),"
        " ('agent', 'y', '{\"k\": 2}', NULL)",
    )

    runner_for(pre006_db).upgrade()

    assert execute(pre006_db, "SELECT input_redacted->>'k' FROM cc_audit_logs ORDER BY 1") == [
        ("1",),
        ("2",),
    ]


def test_a_status_column_of_an_enum_type_stops_006_with_a_clear_message(
    pre006_db: str, runner_for: Runner
) -> None:
    execute(pre006_db, "CREATE TYPE conv_status AS ENUM ('active', 'closed', 'archived')")
    execute(pre006_db, "ALTER TABLE cc_conversations DROP CONSTRAINT cc_conversations_status_check")
    execute(
        pre006_db,
        "ALTER TABLE cc_conversations ALTER COLUMN status DROP DEFAULT,"
        " ALTER COLUMN status TYPE conv_status USING status::conv_status",
    )
    schema = schema_snapshot(pre006_db)

    with pytest.raises(MigrationError, match=r"cc_conversations\.status is of type conv_status"):
        runner_for(pre006_db).upgrade()

    assert schema_snapshot(pre006_db) == schema


def test_a_check_listing_several_columns_stops_006_with_a_clear_message(
    pre006_db: str, runner_for: Runner
) -> None:
    execute(
        pre006_db,
        "ALTER TABLE cc_cases DROP CONSTRAINT cc_cases_status_check,"
        " DROP CONSTRAINT cc_cases_case_type_check,"
        " ADD CONSTRAINT cases_valid CHECK (status IN ('open', 'resolved')"
        " AND case_type IN ('card', 'fraud'))",
    )

    with pytest.raises(MigrationError, match="cases_valid"):
        runner_for(pre006_db).upgrade()
