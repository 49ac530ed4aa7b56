"""The two-role deployment: the owner of the tables migrates, switchboard_app serves.

Every command here runs as switchboard_app on a database the owner migrated (README, "Two
roles"), whatever SWITCHBOARD_TEST_ROLE says.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from switchboard.errors import MigrationNotPermitted
from switchboard.migrations.files import Migration
from switchboard.migrations.runner import LEDGER, MigrationRunner
from tests.builders import execute
from tests.outbound.test_worker_command import environment, queue_otp, switchboard
from tests.test_cli import free_port, wait_until_ready

APP_ROLE = "switchboard_app"


def as_app(url: str) -> str:
    return psycopg.conninfo.make_conninfo(url, user=APP_ROLE)


def owner_of_the_tables(url: str) -> str:
    query = "SELECT pg_get_userbyid(relowner) FROM pg_class WHERE oid = to_regclass(%s)"
    return str(execute(url, query, (LEDGER,))[0][0])


def test_the_app_role_reads_the_status_and_finds_nothing_to_migrate(
    migrated_db: str, tmp_path: Path
) -> None:
    env = environment(tmp_path, as_app(migrated_db))

    status = switchboard("db", "status", env=env)
    upgraded = switchboard("db", "upgrade", env=env)

    assert status.returncode == 0, status.stderr
    assert "0 pending" in status.stdout
    assert upgraded.returncode == 0, upgraded.stderr
    assert "already up to date" in upgraded.stdout


def test_the_app_role_works_the_queue(migrated_db: str, tmp_path: Path) -> None:
    message_id = queue_otp(migrated_db, tmp_path)

    result = switchboard("worker", "--burst", env=environment(tmp_path, as_app(migrated_db)))

    assert result.returncode == 0, result.stderr
    assert execute(
        migrated_db, "SELECT status, provider FROM cc_messages WHERE id = %s", (message_id,)
    ) == [("sent", "sandbox")]


def test_the_app_role_serves_with_and_without_no_migrate(
    migrated_db: str, migrations: list[Migration], tmp_path: Path
) -> None:
    for flags in ([], ["--no-migrate"]):
        port = free_port()
        with subprocess.Popen(
            [sys.executable, "-m", "switchboard.cli", "serve", "--port", str(port), *flags],
            env=environment(tmp_path, as_app(migrated_db)),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        ) as process:
            try:
                ready = wait_until_ready(f"http://127.0.0.1:{port}/readyz")
            finally:
                process.send_signal(signal.SIGTERM)
                _, errors = process.communicate(timeout=30)

        assert ready == {"status": "ready", "migrations": len(migrations)}, errors
        assert process.returncode == 0, errors


def test_the_app_role_refuses_to_migrate_and_names_the_owners_upgrade(
    migrated_db: str, migrations: list[Migration], tmp_path: Path
) -> None:
    execute(migrated_db, f"DELETE FROM {LEDGER} WHERE id = %s", (migrations[-1].id,))
    recorded = execute(migrated_db, f"SELECT id FROM {LEDGER} ORDER BY id")

    result = switchboard("serve", env=environment(tmp_path, as_app(migrated_db)))

    said = " ".join(result.stderr.split())  # as wrapped for the terminal
    assert result.returncode == 1
    assert "Traceback" not in said
    assert "migration_not_permitted" in said
    assert f"role {APP_ROLE} (as service_role) may not migrate" in said
    owner = owner_of_the_tables(migrated_db)
    assert f"run `switchboard db upgrade` with DATABASE_URL connecting as {owner}" in said
    assert execute(migrated_db, f"SELECT id FROM {LEDGER} ORDER BY id") == recorded


def test_a_database_from_before_the_app_role_could_read_the_ledger_says_who_must_upgrade(
    empty_db: str, runner_for: Callable[..., MigrationRunner], tmp_path: Path
) -> None:
    runner_for(empty_db).upgrade("012")
    # As the runner left its ledger before it granted anything on it.
    execute(empty_db, f"REVOKE ALL ON {LEDGER} FROM service_role")

    result = switchboard("db", "status", env=environment(tmp_path, as_app(empty_db)))

    said = " ".join(result.stderr.split())  # as wrapped for the terminal
    assert result.returncode == 1
    assert "Traceback" not in said
    assert "migration_not_permitted" in said
    assert f"may not read the migration ledger ({LEDGER})" in said
    assert "switchboard db upgrade" in said


def test_the_app_role_does_not_start_migrating_an_empty_database(
    empty_db: str, migrations: list[Migration], migrated_template: str
) -> None:
    # migrated_template: the server has the roles 007 creates.
    runner = MigrationRunner(as_app(empty_db), migrations)

    with pytest.raises(MigrationNotPermitted, match="may not create tables in schema public"):
        runner.upgrade()

    assert execute(empty_db, "SELECT to_regclass(%s)", (LEDGER,)) == [(None,)]


def test_the_app_role_told_not_to_migrate_is_sent_to_the_owner_not_to_itself(
    migrated_db: str, migrations: list[Migration], tmp_path: Path
) -> None:
    execute(migrated_db, f"DELETE FROM {LEDGER} WHERE id = %s", (migrations[-1].id,))

    result = switchboard("serve", "--no-migrate", env=environment(tmp_path, as_app(migrated_db)))

    said = " ".join(result.stderr.split())  # as wrapped for the terminal
    assert result.returncode == 1
    assert "database_behind" in said
    owner = owner_of_the_tables(migrated_db)
    assert f"run `switchboard db upgrade` with DATABASE_URL connecting as {owner}" in said
    assert "start without --no-migrate" not in said  # as the app role, that fails too


def test_a_grant_the_worker_needs_missing_is_a_database_error_not_a_traceback(
    migrated_db: str, tmp_path: Path
) -> None:
    # A grant lost (a DBA's REVOKE, a restore without privileges): procrastinate wraps the
    # database's answer in its own exception.
    execute(
        migrated_db,
        "REVOKE EXECUTE ON FUNCTION procrastinate_fetch_job_v2(character varying[], bigint)"
        " FROM service_role",
    )

    result = switchboard("worker", "--burst", env=environment(tmp_path, as_app(migrated_db)))

    said = " ".join(result.stderr.split())  # as wrapped for the terminal
    assert result.returncode == 1
    assert "Traceback" not in said
    assert "error (database_error): permission denied for function procrastinate_fetch_job_v2" in (
        said
    )


def test_the_app_role_without_its_login_role_setting_is_told_so(
    migrated_db: str, tmp_path: Path
) -> None:
    # As if `ALTER ROLE switchboard_app RESET role` had run (the app role may run it on itself):
    # the session then acts as switchboard_app, which holds no privilege of its own.
    url = psycopg.conninfo.make_conninfo(as_app(migrated_db), options="-c role=switchboard_app")

    result = switchboard("db", "status", env=environment(tmp_path, url))

    said = " ".join(result.stderr.split())  # as wrapped for the terminal
    assert result.returncode == 1
    assert "Traceback" not in said
    assert "does not act as service_role" in said
    assert "ALTER ROLE switchboard_app SET role = 'service_role'" in said
