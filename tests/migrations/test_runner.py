"""Applying, rolling back, locking and adopting migrations."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest

from switchboard.errors import AdoptionRefused, MigrationError, MigrationLockTimeout
from switchboard.migrations.checklist import run_checklist
from switchboard.migrations.files import Migration, load_migrations
from switchboard.migrations.job_queue import JobQueueSql, ledger_rows
from switchboard.migrations.runner import MigrationRunner
from tests.builders import (
    column_names,
    execute,
    fill_legacy,
    rows,
    run_psql,
    snapshot,
)
from tests.conftest import MIGRATIONS_DIR

Runner = Callable[..., MigrationRunner]


def test_status_lists_applied_and_pending(
    pre006_db: str, runner_for: Runner, migrations: list[Migration]
) -> None:
    states = runner_for(pre006_db).status()

    assert [(s.migration.id, s.applied is not None) for s in states] == [
        (m.id, m.id <= "005") for m in migrations
    ]
    assert [s.migration.id for s in states][:7] == ["001", "002", "003", "004", "005", "006", "007"]


def test_rollback_to_005_restores_the_legacy_shape_and_keeps_legacy_data(
    pre006_db: str, runner_for: Runner, migrations: list[Migration]
) -> None:
    fill_legacy(pre006_db)
    legacy = snapshot(pre006_db)
    runner = runner_for(pre006_db)
    runner.upgrade()

    undone = runner.downgrade("005")

    assert [m.id for m in undone] == [m.id for m in reversed(migrations) if m.id > "005"]
    assert "provider_msg_id" in column_names(pre006_db, "cc_messages")
    assert "body_text" not in column_names(pre006_db, "cc_messages")
    assert execute(
        pre006_db, "SELECT to_regclass('cc_identity_links'), to_regclass('cc_assignments')"
    ) == [(None, None)]
    assert execute(
        pre006_db,
        "SELECT bool_or(relrowsecurity) FROM pg_class"
        " WHERE relname LIKE 'cc\\_%' AND relkind = 'r'",
    ) == [(False,)]
    after = snapshot(pre006_db)
    for table, old_rows in legacy.items():
        for row_id, old in old_rows.items():
            assert {k: after[table][row_id][k] for k in old} == old, table


def test_rollback_never_removes_the_audit_log_protection(
    migrated_db: str, runner_for: Runner
) -> None:
    execute(
        migrated_db,
        "INSERT INTO cc_audit_logs (actor_type, event_type, case_id, success)"
        " VALUES ('system', 'x', NULL, true)",
    )

    runner_for(migrated_db).downgrade("005")

    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        execute(migrated_db, "UPDATE cc_audit_logs SET actor = 'someone else'")
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
        execute(migrated_db, "DELETE FROM cc_audit_logs")
    # What the audit trail recorded since 006 is still there.
    assert {"success", "case_id", "event_version"} <= set(
        column_names(migrated_db, "cc_audit_logs")
    )


def test_rollback_then_upgrade_again_passes_the_checklist(
    pre006_db: str, runner_for: Runner
) -> None:
    fill_legacy(pre006_db)
    runner = runner_for(pre006_db)
    runner.upgrade()
    execute(pre006_db, "INSERT INTO cc_conversations (channel, status) VALUES ('sms', 'open')")

    runner.downgrade("005")
    runner.upgrade()

    assert [r for r in run_checklist(pre006_db) if not r.ok] == []
    assert execute(pre006_db, "SELECT count(*) FROM cc_conversations WHERE status = 'open'") == [
        (1,)
    ]


def test_rollback_to_base_refuses_to_drop_an_audit_log_with_records(
    migrated_db: str, runner_for: Runner
) -> None:
    execute(
        migrated_db, "INSERT INTO cc_audit_logs (actor_type, event_type) VALUES ('system', 'x')"
    )

    with pytest.raises(Exception, match="refusing to drop cc_audit_logs"):
        runner_for(migrated_db).downgrade("base")

    assert execute(migrated_db, "SELECT count(*) FROM cc_audit_logs") == [(1,)]


def test_two_concurrent_upgrades_do_not_interleave(
    empty_db: str, runner_for: Runner, migrations: list[Migration]
) -> None:
    fill_after_005 = threading.Barrier(2)
    errors: list[BaseException] = []

    def upgrade() -> None:
        try:
            fill_after_005.wait()
            runner_for(empty_db).upgrade()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=upgrade) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    # Each migration recorded once, and the job queue's schema once under 010.
    queue = JobQueueSql.installed()
    assert execute(empty_db, "SELECT id FROM switchboard_migrations ORDER BY id") == [
        (row.id,) for m in migrations for row in ledger_rows(m, queue)
    ]
    assert [r for r in run_checklist(empty_db) if not r.ok] == []


def test_an_upgrade_waits_for_the_lock_and_says_who_holds_it(
    empty_db: str, runner_for: Runner
) -> None:
    with psycopg.connect(empty_db, autocommit=True, application_name="other-run") as holder:
        holder.execute("SELECT pg_advisory_lock(hashtextextended('switchboard:migrations', 0))")

        with pytest.raises(MigrationLockTimeout, match="other-run"):
            runner_for(empty_db, lock_wait_seconds=0.5).upgrade()


@pytest.mark.slow
def test_an_upgrade_killed_midway_completes_when_run_again(
    pre006_db: str, runner_for: Runner
) -> None:
    fill_legacy(pre006_db)
    # An open snapshot makes 006's first CREATE INDEX CONCURRENTLY wait, so the kill below
    # lands in the middle of 006 every time.
    with psycopg.connect(pre006_db) as reader:
        reader.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        reader.execute("SELECT 1")
        with subprocess.Popen(
            [sys.executable, "-m", "switchboard.cli", "db", "upgrade"],
            env={**os.environ, "DATABASE_URL": pre006_db},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        ) as process:
            waiting = wait_for(
                pre006_db,
                "SELECT pid FROM pg_stat_activity"
                " WHERE query LIKE '%CREATE INDEX CONCURRENTLY%'"
                " AND application_name = 'switchboard'"
                " AND wait_event_type = 'Lock'",
            )
            process.send_signal(signal.SIGKILL)
        # The server notices a dead client only when it next talks to it; end its session.
        execute(pre006_db, "SELECT pg_terminate_backend(%s)", (waiting,))
        reader.rollback()
    wait_for(
        pre006_db,
        "SELECT 1 WHERE NOT EXISTS (SELECT FROM pg_stat_activity WHERE pid = %s)",
        (waiting,),
    )
    assert runner_for(pre006_db).status()[5].applied is None
    assert execute(pre006_db, "SELECT count(*) FROM pg_index WHERE NOT indisvalid") == [(1,)]

    runner_for(pre006_db).upgrade()

    assert [r for r in run_checklist(pre006_db) if not r.ok] == []


def wait_for(url: str, query: str, params: tuple[object, ...] = (), seconds: float = 30) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = execute(url, query, params)
        if found:
            return found[0][0]
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for: {query}")


def test_adopt_records_a_schema_made_elsewhere_then_upgrade_runs_006(
    empty_db: str, runner_for: Runner, migrations: list[Migration]
) -> None:
    for migration in migrations[:5]:  # the pre-006 schema, made by hand with psql
        result = run_psql(empty_db, migration.apply.path, "-1")
        assert result.returncode == 0, result.stderr
    fill_legacy(empty_db)
    runner = runner_for(empty_db)

    adopted = runner.adopt("005")
    applied = runner.upgrade()

    assert [m.id for m in adopted] == ["001", "002", "003", "004", "005"]
    assert all(s.applied and s.applied.adopted for s in runner.status()[:5])
    assert [m.id for m in applied] == [m.id for m in migrations if m.id > "005"]
    assert [r for r in run_checklist(empty_db) if not r.ok] == []


def test_adopt_refuses_when_the_tables_are_not_there(empty_db: str, runner_for: Runner) -> None:
    with pytest.raises(AdoptionRefused, match="cc_bank_customers"):
        runner_for(empty_db).adopt("005")

    assert execute(empty_db, "SELECT count(*) FROM switchboard_migrations") == [(0,)]


def test_adopt_refuses_a_database_already_past_that_point(
    migrated_db: str, runner_for: Runner, migrations: list[Migration]
) -> None:
    later = ", ".join(m.id for m in migrations if m.id > "005")
    with pytest.raises(AdoptionRefused, match=later):
        runner_for(migrated_db).adopt("005")


def test_a_failed_statement_names_the_file_and_line(pre006_db: str, runner_for: Runner) -> None:
    execute(pre006_db, "DROP TABLE cc_auth_sessions")

    with pytest.raises(Exception, match=r"006_cc_step1_checklist\.sql, line \d+: 006 needs"):
        runner_for(pre006_db).upgrade()


def test_rows_written_after_006_survive_the_second_run(migrated_db: str) -> None:
    execute(migrated_db, "INSERT INTO cc_bank_customers (customer_ref) VALUES ('late')")
    before = rows(migrated_db, "cc_bank_customers")

    result = run_psql(migrated_db, MIGRATIONS_DIR / "006_cc_step1_checklist.sql")

    assert result.returncode == 0, result.stderr
    assert rows(migrated_db, "cc_bank_customers") == before


def test_a_role_grant_refused_for_want_of_the_admin_option_asks_a_superuser(
    empty_db: str, tmp_path: Path
) -> None:
    # PostgreSQL 16 and later: CREATEROLE no longer lets a non-superuser owner grant a role it
    # lacks the ADMIN option on (007 grants service_role to switchboard_app): the owner of the
    # tables is the one running it, so "run it as the owner" is no help.
    if int(execute(empty_db, "SHOW server_version_num")[0][0]) < 160000:
        pytest.skip("before PostgreSQL 16, CREATEROLE may grant any role that is not superuser")
    suffix = uuid.uuid4().hex[:10]
    owner, granted, member = (f"sbtest_{n}_{suffix}" for n in ("owner", "granted", "member"))
    execute(empty_db, f"CREATE ROLE {granted} NOLOGIN; CREATE ROLE {member} NOLOGIN")
    execute(empty_db, f"CREATE ROLE {owner} LOGIN CREATEROLE")
    execute(empty_db, f"GRANT CREATE ON SCHEMA public TO {owner}")
    try:
        (tmp_path / "001_grant.sql").write_text(f"GRANT {granted} TO {member};\n")
        (tmp_path / "001_grant.rollback.sql").write_text(f"REVOKE {granted} FROM {member};\n")
        as_owner = psycopg.conninfo.make_conninfo(empty_db, user=owner)

        with pytest.raises(MigrationError) as raised:
            MigrationRunner(as_owner, load_migrations(tmp_path)).upgrade()

        assert f'permission denied to grant role "{granted}"' in raised.value.message
        hint = raised.value.hint or ""
        assert "superuser" in hint
        assert f"ADMIN option on {granted}" in hint
        assert "owns the cc_ tables" not in hint
    finally:
        execute(empty_db, f"DROP OWNED BY {owner}")
        execute(empty_db, f"DROP ROLE {owner}; DROP ROLE {member}; DROP ROLE {granted}")
