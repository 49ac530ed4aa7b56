"""Every migration as one psql script, for a DBA who applies them by hand.

The script does what `switchboard db upgrade` does on an empty database, in the same order and
with the same statements (procrastinate's schema from the installed package where 010 marks
it): it holds the runner's lock throughout, runs each transactional migration between BEGIN
and COMMIT with its ledger rows, and resets the session between migrations, so that the
database it leaves is the one the runner leaves, ledger included, and `db upgrade` carries on
from there.
"""

from __future__ import annotations

from psycopg import sql

from switchboard.migrations.files import Migration
from switchboard.migrations.job_queue import JobQueueSql, LedgerRow, ledger_rows, with_job_queue
from switchboard.migrations.runner import LEDGER, LEDGER_PRIVILEGES, LEDGER_TABLE, LOCK_SQL


def full_script(migrations: list[Migration], queue: JobQueueSql) -> str:
    parts = [
        "-- Switchboard's migrations, for an empty database, with procrastinate "
        f"{queue.version}'s job queue schema.",
        "-- Apply: psql -v ON_ERROR_STOP=1 -f this.sql (not -1: some migrations must run"
        " outside a transaction)",
        "\\set ON_ERROR_STOP on",
        f"SELECT pg_advisory_lock({LOCK_SQL});",
        f"{LEDGER_TABLE};",
        f"{LEDGER_PRIVILEGES};",
    ]
    for migration in migrations:
        parts.append(f"\n-- {migration.label}")
        transactional = migration.apply.transactional
        if transactional:
            parts.append("BEGIN;")
        parts.extend(
            _terminated(statement.sql) for _, statement in with_job_queue(migration.apply, queue)
        )
        parts.extend(_insert(row) for row in ledger_rows(migration, queue))
        if transactional:
            parts.append("COMMIT;")
        # As the runner does between migrations; not DISCARD ALL, which drops the lock.
        parts.extend(["RESET ALL;", "DISCARD TEMP;"])
    parts.append(f"\nSELECT pg_advisory_unlock({LOCK_SQL});")
    return "\n".join(parts) + "\n"


def _terminated(statement: str) -> str:
    # On a line of its own: the statement may end in a comment.
    return statement if statement.endswith(";") else f"{statement}\n;"


def _insert(row: LedgerRow) -> str:
    return (
        sql.SQL("INSERT INTO {} (id, name, checksum, duration_ms) VALUES ({}, {}, {}, 0);")
        .format(
            sql.Identifier(LEDGER),
            sql.Literal(row.id),
            sql.Literal(row.name),
            sql.Literal(row.checksum),
        )
        .as_string(None)
    )
