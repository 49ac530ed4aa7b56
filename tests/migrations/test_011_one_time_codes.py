"""011: the code session columns and indexes, added without a rewrite, run twice safely, and
rolled back to 009's shape."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from switchboard.migrations.runner import MigrationRunner
from tests.builders import (
    column_names,
    execute,
    fill_legacy,
    relfilenodes,
    run_psql,
    schema_snapshot,
)
from tests.conftest import MIGRATIONS_DIR

Runner = Callable[..., MigrationRunner]
ADDED = ["code_hmac", "destination_hmac", "check_attempts", "verified_at"]
INDEXES = [
    "cc_auth_sessions_conversation_id_created_at_idx",
    "cc_auth_sessions_destination_hmac_created_at_idx",
]


def indexes(url: str) -> list[str]:
    rows = execute(
        url,
        "SELECT indexrelid::regclass::text FROM pg_index"
        " WHERE indrelid = 'cc_auth_sessions'::regclass AND indisvalid ORDER BY 1",
    )
    return [name for (name,) in rows]


def test_011_adds_the_columns_to_existing_sessions_without_a_rewrite(
    pre006_db: str, runner_for: Runner
) -> None:
    fill_legacy(pre006_db)
    runner = runner_for(pre006_db)
    runner.upgrade("010")
    before = relfilenodes(pre006_db)

    runner.upgrade("011")

    assert column_names(pre006_db, "cc_auth_sessions")[-4:] == ADDED
    assert relfilenodes(pre006_db) == before
    assert execute(
        pre006_db,
        "SELECT DISTINCT check_attempts, code_hmac, destination_hmac, verified_at"
        " FROM cc_auth_sessions",
    ) == [(0, None, None, None)]
    assert set(INDEXES) <= set(indexes(pre006_db))


def test_running_011_again_by_hand_changes_nothing(migrated_db: str) -> None:
    before = schema_snapshot(migrated_db)

    result = run_psql(migrated_db, MIGRATIONS_DIR / "011_one_time_codes.sql")

    assert result.returncode == 0, result.stderr
    assert schema_snapshot(migrated_db) == before


def test_011_rolls_back_to_the_shape_of_010_and_applies_again(
    migrated_db: str, runner_for: Runner
) -> None:
    runner = runner_for(migrated_db)

    runner.downgrade("010")
    after_rollback = column_names(migrated_db, "cc_auth_sessions")
    remaining = indexes(migrated_db)
    runner.upgrade()

    assert not set(ADDED) & set(after_rollback)
    assert not set(INDEXES) & set(remaining)
    assert column_names(migrated_db, "cc_auth_sessions")[-4:] == ADDED


def test_a_negative_check_count_is_refused(migrated_db: str) -> None:
    with pytest.raises(psycopg.errors.CheckViolation):
        execute(
            migrated_db,
            "INSERT INTO cc_auth_sessions (expires_at, check_attempts) VALUES (now(), -1)",
        )
