"""013: an audit record's time is the database's clock at insert, whatever the writer sent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import psycopg
import pytest

from switchboard.migrations.runner import MigrationRunner
from tests.builders import execute

Runner = Callable[..., MigrationRunner]
INSERT_DATED = (
    "INSERT INTO cc_audit_logs (actor_type, actor_id, event_type, success, created_at)"
    " VALUES ('system', 'test', %s, true, '1999-01-01T00:00:00Z') RETURNING created_at"
)


def inserted_at(url: str, *settings: str) -> tuple[datetime, datetime, datetime]:
    """(before, the record's created_at, after), by the database's clock, for a record
    inserted with a created_at of 1999 under these session settings."""
    with psycopg.connect(url, autocommit=True) as conn:
        for setting in settings:
            conn.execute(setting)
        (before,) = conn.execute("SELECT clock_timestamp()").fetchone() or ()
        (stored,) = conn.execute(INSERT_DATED, ("test.dated",)).fetchone() or ()
        (after,) = conn.execute("SELECT clock_timestamp()").fetchone() or ()
    return before, stored, after


@pytest.mark.parametrize(
    "settings",
    [(), ("SET ROLE service_role",), ("SET session_replication_role = replica",)],
    ids=["owner", "service-role", "replica"],
)
def test_a_record_dated_1999_is_stored_as_now(migrated_db: str, settings: tuple[str, ...]) -> None:
    before, stored, after = inserted_at(migrated_db, *settings)

    assert before <= stored <= after
    assert execute(
        migrated_db, "SELECT created_at FROM cc_audit_logs WHERE event_type = 'test.dated'"
    ) == [(stored,)]


def test_records_written_in_one_statement_keep_the_order_they_were_written_in(
    migrated_db: str,
) -> None:
    execute(
        migrated_db,
        "INSERT INTO cc_audit_logs (actor_type, actor_id, event_type, success, created_at)"
        " SELECT 'system', 'test', 'test.' || n, true, '2100-01-01'::timestamptz - n * interval"
        " '1 day' FROM generate_series(1, 50) AS n",
    )

    ordered = execute(migrated_db, "SELECT event_type FROM cc_audit_logs ORDER BY created_at")
    assert ordered == [(f"test.{n}",) for n in range(1, 51)]


def test_013_rolls_back_keeping_the_trigger_and_applies_again(
    migrated_db: str, runner_for: Runner
) -> None:
    runner = runner_for(migrated_db)

    runner.downgrade("012")
    before, stored, after = inserted_at(migrated_db)
    runner.upgrade()

    assert before <= stored <= after
    assert execute(
        migrated_db,
        "SELECT tgenabled FROM pg_trigger WHERE tgname = 'cc_audit_logs_set_created_at'",
    ) == [("A",)]
