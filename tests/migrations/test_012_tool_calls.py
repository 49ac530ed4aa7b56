"""012: the answers kept per tool call, and the reason of a handover."""

from __future__ import annotations

from collections.abc import Callable

import psycopg
import pytest

from switchboard.migrations.runner import MigrationRunner
from tests.builders import column_names, execute

Runner = Callable[..., MigrationRunner]


def test_the_service_role_may_keep_answers_but_never_change_one(migrated_db: str) -> None:
    rights = execute(
        migrated_db,
        "SELECT privilege_type FROM information_schema.role_table_grants"
        " WHERE table_name = 'cc_tool_calls' AND grantee = 'service_role' ORDER BY 1",
    )
    assert rights == [("INSERT",), ("SELECT",)]
    assert execute(
        migrated_db,
        "SELECT relrowsecurity FROM pg_class WHERE relname = 'cc_tool_calls'",
    ) == [(True,)]


def test_one_answer_per_tool_call_of_a_call(migrated_db: str) -> None:
    insert = (
        "INSERT INTO cc_tool_calls (call_id, tool_call_id, tool_name, answer)"
        " VALUES (%s, 'call_1', 'identify_caller', '{}')"
    )
    execute(migrated_db, insert, ("call-a",))
    execute(migrated_db, insert, ("call-b",))  # the same toolCallId in another call

    with pytest.raises(psycopg.errors.UniqueViolation):
        execute(migrated_db, insert, ("call-a",))


def test_012_rolls_back_and_applies_again(migrated_db: str, runner_for: Runner) -> None:
    runner = runner_for(migrated_db)

    runner.downgrade("011")

    assert execute(migrated_db, "SELECT to_regclass('cc_tool_calls')") == [(None,)]
    assert "reason" not in column_names(migrated_db, "cc_assignments")
    runner.upgrade()
    assert "reason" in column_names(migrated_db, "cc_assignments")
