"""The job queue's schema comes from the installed procrastinate: a new database gets its
schema.sql at 010 with the version recorded, a database migrated when 010 carried a copy of it
is taken as it is, an upgrade of the package applies its later migration files once each, and
the printed script builds what the runner builds."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from switchboard.db import embedded_tool
from switchboard.errors import MigrationError
from switchboard.migrations.checklist import run_checklist
from switchboard.migrations.files import Migration, find
from switchboard.migrations.job_queue import (
    FIRST_010_CHECKSUM,
    FIRST_010_THROUGH,
    JobQueueSql,
    with_job_queue,
)
from switchboard.migrations.runner import LEDGER, MigrationRunner
from switchboard.migrations.script import full_script
from tests.builders import execute, run_psql
from tests.migrations.test_010_queue import catalog
from tests.migrations.test_014_privileges import privilege_problems

Runner = Callable[..., MigrationRunner]

INSTALLED = JobQueueSql.installed()
NEXT_FILE = "03.99.00_01_add_fake_heartbeat_check.sql"
# A migration file as procrastinate writes them: a new function the worker would call.
NEXT_SQL = """CREATE FUNCTION procrastinate_fake_heartbeat_check_v1(worker_id bigint)
    RETURNS boolean LANGUAGE sql AS $$
    SELECT EXISTS (SELECT FROM procrastinate_workers WHERE id = worker_id) $$;
"""


def queue_rows(url: str) -> list[tuple[str, str]]:
    return execute(url, f"SELECT id, name FROM {LEDGER} WHERE id LIKE '010/%%' ORDER BY id")


def next_package(tmp_path: Path, *, keep_old_files: bool = True) -> JobQueueSql:
    """The installed procrastinate's SQL, one release later: its migration files and one more."""
    directory = tmp_path / "sql"
    (directory / "migrations").mkdir(parents=True)
    shutil.copy(INSTALLED.directory / "schema.sql", directory / "schema.sql")
    if keep_old_files:
        for path in INSTALLED.migration_files():
            shutil.copy(path, directory / "migrations" / path.name)
    (directory / "migrations" / NEXT_FILE).write_text(NEXT_SQL)
    return JobQueueSql(directory, "3.99.0")


def migrate_as_the_first_010_did(url: str, migrations: list[Migration]) -> None:
    """Up to 009 with the runner, then 010 as the first runner applied it: its file held
    procrastinate 3.10.0's schema.sql in place of the mark, and its ledger row that file's
    checksum."""
    assert INSTALLED.version == "3.10.0", "the first 010 carried 3.10.0's schema"
    MigrationRunner(url, migrations).upgrade("009")
    first_010 = find(migrations, "010")
    with psycopg.connect(url) as conn:
        for _, statement in with_job_queue(first_010.apply, INSTALLED):
            conn.execute(statement.sql.encode(), prepare=False)
        conn.execute(
            f"INSERT INTO {LEDGER} (id, name, checksum, duration_ms) VALUES (%s, %s, %s, 0)",
            (first_010.id, first_010.name, FIRST_010_CHECKSUM),
        )


def test_a_new_database_gets_the_installed_schema_and_its_version_recorded(
    migrated_db: str, runner_for: Runner
) -> None:
    through = INSTALLED.migration_files()[-1].name.removesuffix(".sql")

    assert queue_rows(migrated_db) == [
        (f"010/{through}", f"procrastinate {INSTALLED.version} schema.sql")
    ]
    assert runner_for(migrated_db).pending() == []


def test_a_database_migrated_with_the_copied_schema_is_taken_as_it_is(
    empty_db: str, migrated_db: str, runner_for: Runner, migrations: list[Migration]
) -> None:
    migrate_as_the_first_010_did(empty_db, migrations)
    runner = runner_for(empty_db)

    applied = runner.upgrade()

    assert [step.id for step in applied] == [m.id for m in migrations if m.id > "010"]
    assert queue_rows(empty_db) == []  # nothing of the queue was applied again
    assert execute(empty_db, f"SELECT checksum FROM {LEDGER} WHERE id = '010'") == [
        (FIRST_010_CHECKSUM,)
    ]
    assert runner.pending() == []
    assert catalog(empty_db) == catalog(migrated_db)
    assert privilege_problems(empty_db) == []
    assert [r for r in run_checklist(empty_db) if not r.ok] == []


def test_a_010_recorded_with_an_unknown_file_is_refused_rather_than_guessed(
    empty_db: str, runner_for: Runner, migrations: list[Migration]
) -> None:
    migrate_as_the_first_010_did(empty_db, migrations)
    execute(empty_db, f"UPDATE {LEDGER} SET checksum = 'made elsewhere' WHERE id = '010'")

    with pytest.raises(MigrationError, match="cannot tell which procrastinate schema"):
        runner_for(empty_db).upgrade()


@pytest.mark.parametrize("made", ["by this runner", "by the first 010"])
def test_an_upgrade_of_the_package_applies_its_later_migration_files_once(
    made: str, migrated_db: str, empty_db: str, tmp_path: Path, migrations: list[Migration]
) -> None:
    url = migrated_db
    if made == "by the first 010":
        migrate_as_the_first_010_did(empty_db, migrations)
        MigrationRunner(empty_db, migrations).upgrade()
        url = empty_db
    runner = MigrationRunner(url, migrations, job_queue=next_package(tmp_path))

    applied = runner.upgrade()
    again = runner.upgrade()

    next_id = f"010/{NEXT_FILE.removesuffix('.sql')}"
    assert [step.id for step in applied] == [next_id]
    assert again == []
    assert queue_rows(url)[-1] == (next_id, f"procrastinate 3.99.0 {NEXT_FILE}")
    assert execute(url, "SELECT procrastinate_fake_heartbeat_check_v1(0)") == [(False,)]
    # What the file created has the privileges 014 gives the queue's functions, and no more.
    assert privilege_problems(url) == []


def test_a_package_that_no_longer_ships_the_recorded_file_is_refused(
    migrated_db: str, tmp_path: Path, migrations: list[Migration]
) -> None:
    squashed = next_package(tmp_path, keep_old_files=False)

    with pytest.raises(MigrationError, match="cannot be placed"):
        MigrationRunner(migrated_db, migrations, job_queue=squashed).upgrade()

    assert execute(migrated_db, "SELECT to_regproc('procrastinate_fake_heartbeat_check_v1')") == [
        (None,)
    ]


def test_the_first_010_held_the_schema_the_recognised_version_ships() -> None:
    # FIRST_010_THROUGH names what the first 010's copy contained: 3.10.0's newest file.
    assert INSTALLED.migration_files()[-1].name == FIRST_010_THROUGH


def test_the_printed_script_applied_with_psql_builds_what_the_runner_builds(
    empty_db: str, migrated_db: str, migrations: list[Migration], tmp_path: Path
) -> None:
    script = tmp_path / "all.sql"
    script.write_text(full_script(migrations, INSTALLED))

    result = run_psql(empty_db, script)

    assert result.returncode == 0, result.stderr
    assert schema_dump(empty_db) == schema_dump(migrated_db)
    assert execute(empty_db, f"SELECT id, name, checksum FROM {LEDGER} ORDER BY id") == execute(
        migrated_db, f"SELECT id, name, checksum FROM {LEDGER} ORDER BY id"
    )
    assert MigrationRunner(empty_db, migrations).pending() == []


def schema_dump(url: str) -> list[str]:
    dumped = subprocess.run(
        [str(embedded_tool("pg_dump")), "--schema-only", "--no-owner", "-d", url],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    # \restrict lines carry a key of their own on each run; some servers stamp each column
    # they create with an attribute option of their own (pg_attver), new in every database.
    return [
        line
        for line in dumped.splitlines()
        if not line.startswith(("\\restrict", "\\unres")) and not _STAMP.fullmatch(line)
    ]


_STAMP = re.compile(r"ALTER TABLE ONLY \S+ ALTER COLUMN \S+ SET \(pg_attver=\d+\);")
