"""Applies and rolls back migrations in order, one run at a time, and records what it did.

Why not yoyo-migrations, which the design suggested: for a migration that runs outside a
transaction, yoyo answers a failed statement by running statements of the rollback file
paired with the applied ones by position — for 006 that would undo an arbitrary part of the
work — and its lock is a row that a killed process leaves behind. Here a failed statement
stops the run and leaves the guarded, re-runnable SQL to finish the job next time, and the
lock is a session advisory lock that PostgreSQL releases when the process dies.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime

import psycopg
from psycopg import errors as pg_errors
from psycopg.rows import dict_row

from switchboard.db import Conn, connect, relation_exists, scalar
from switchboard.errors import (
    AdoptionRefused,
    DuplicateMessageIds,
    MigrationError,
    MigrationLockTimeout,
    MigrationNotPermitted,
)
from switchboard.migrations.expected import SERVICE_COLUMNS
from switchboard.migrations.files import Migration, SqlScript, Statement, find
from switchboard.migrations.fit import Problem, table_problems
from switchboard.migrations.job_queue import (
    JobQueueSql,
    LedgerRow,
    QueueStep,
    ledger_rows,
    through_from_ledger,
    with_job_queue,
)

LEDGER = "switchboard_migrations"
# One key for every Switchboard migration run against a database.
LOCK_SQL = "hashtextextended('switchboard:migrations', 0)"
# A locking DDL statement that gave up after lock_timeout is tried again this many times.
LOCK_RETRIES = 30
# Names a table had before a later migration renamed it; adopt accepts either.
_RENAMED_TABLES = {"cc_preferences": "cc_comm_preferences"}
# The migration that adds the columns and defaults the service needs (fit.py).
SERVICE_COLUMNS_MIGRATION = "015"
# The migrations that set privileges from scratch: 014 every table's, sequence's and function's,
# 021 what agents may read (whose grants 014 takes back). They run again, in order, after a
# job queue migration of procrastinate's, so that what it creates gets them too.
PRIVILEGES_MIGRATIONS = ("014", "021")

Report = Callable[[str], None]
# What `upgrade` applies: one of our migrations, or one of procrastinate's migration files.
Step = Migration | QueueStep
# Called after each statement with how long it took and how many attempts it needed.
StatementHook = Callable[[SqlScript, Statement, float, int], None]


@dataclass(frozen=True)
class AppliedMigration:
    id: str
    name: str
    checksum: str
    applied_at: datetime
    duration_ms: int
    adopted: bool


@dataclass(frozen=True)
class MigrationState:
    migration: Migration
    applied: AppliedMigration | None

    @property
    def checksum_changed(self) -> bool:
        return (
            self.applied is not None
            and not self.applied.adopted
            and (self.applied.checksum != self.migration.apply.checksum)
        )


class MigrationRunner:
    """Runs migrations over one autocommit connection that it owns for its lifetime."""

    def __init__(
        self,
        url: str,
        migrations: list[Migration],
        *,
        report: Report = lambda _: None,
        lock_wait_seconds: float = 600.0,
        on_statement: StatementHook | None = None,
        job_queue: JobQueueSql | None = None,
    ) -> None:
        self._url = url
        self._migrations = migrations
        self._job_queue = job_queue or JobQueueSql.installed()
        self._report = report
        self._lock_wait_seconds = lock_wait_seconds
        self._on_statement = on_statement

    # -- public use cases -------------------------------------------------------------

    def status(self) -> list[MigrationState]:
        with self._connection() as conn:
            applied = _read_ledger(conn)
        return [MigrationState(m, applied.get(m.id)) for m in self._migrations]

    def owner_if_not_permitted(self) -> str | None:
        """The role that owns the ledger, when the connected role may not act as it (the app
        role): the one to run `switchboard db upgrade`; None when this role may migrate."""
        with self._connection() as conn:
            row = conn.execute(
                "SELECT pg_has_role(c.relowner, 'USAGE'), pg_get_userbyid(c.relowner)"
                " FROM pg_class AS c WHERE c.oid = to_regclass(%s)",
                (LEDGER,),
            ).fetchone()
        return str(row[1]) if row is not None and not row[0] else None

    def job_queue_through(self) -> str | None:
        """The newest of procrastinate's migration files the database's job queue contains,
        None before the migration that makes the queue."""
        with self._connection() as conn:
            applied = _read_ledger(conn)
        for migration in self._migrations:
            if migration.apply.job_queue_at is not None and migration.id in applied:
                return through_from_ledger(migration.id, applied[migration.id].checksum, [*applied])
        return None

    def pending(self, to: str | None = None) -> list[Step]:
        """What `upgrade` would apply now, in order; reads the ledger only."""
        with self._connection() as conn:
            return self._pending(conn, to)

    def upgrade(self, to: str | None = None) -> list[Step]:
        with self._connection() as conn:
            # Up to date: nothing is locked or created, so a role that may not migrate (the
            # app role) may still ask.
            if not self._pending(conn, to):
                return []
            with self._locked(conn):
                todo = self._pending(conn, to)
                for step in todo:
                    if isinstance(step, QueueStep):
                        self._apply_queue_step(conn, step)
                    else:
                        self._apply(conn, step)
        return todo

    def downgrade(self, to: str) -> list[Migration]:
        target = "000" if to.lower() in {"base", "0", "000"} else find(self._migrations, to).id
        with self._connection() as conn, self._locked(conn):
            applied = _read_ledger(conn)
            undo = [m for m in reversed(self._migrations) if m.id in applied and m.id > target]
            for migration in undo:
                self._roll_back(conn, migration)
        return undo

    def plan_downgrade(self, to: str) -> list[Migration]:
        target = "000" if to.lower() in {"base", "0", "000"} else find(self._migrations, to).id
        applied = {s.migration.id for s in self.status() if s.applied}
        return [m for m in reversed(self._migrations) if m.id in applied and m.id > target]

    def adopt(self, at: str) -> list[Migration]:
        """Record migrations up to `at` as applied without running them, once their tables exist."""
        target = find(self._migrations, at).id
        with self._connection() as conn, self._locked(conn):
            applied = _read_ledger(conn)
            beyond = sorted({_migration_id(i) for i in applied if _migration_id(i) > target})
            if beyond:
                raise AdoptionRefused(
                    f"this database already records migrations past {target}: {', '.join(beyond)}",
                    hint="adopt is for a database whose schema was made elsewhere; use upgrade",
                )
            adopting = [m for m in self._migrations if m.id <= target and m.id not in applied]
            # A table a later migration creates when it is missing need not be there yet.
            created_later = {
                table for m in self._migrations if m.id > target for table in m.tables_created()
            }
            missing = [
                table
                for m in adopting
                for table in m.tables_created()
                if not relation_exists(conn, table)
                and not relation_exists(conn, _RENAMED_TABLES.get(table, table))
                and _RENAMED_TABLES.get(table, table) not in created_later
            ]
            if missing:
                raise AdoptionRefused(
                    f"cannot adopt at {target}: tables missing: {', '.join(missing)}",
                    hint="create them (or fix the search_path in DATABASE_URL), then adopt again",
                )
            differences = _service_differences(conn, target)
            if differences:
                listed = "\n".join(f"  - {problem}" for problem in differences)
                raise AdoptionRefused(
                    f"cannot adopt at {target}: the service could not run on this database,"
                    f" and no migration fixes these {len(differences)} difference(s):\n{listed}",
                    hint="fix each as shown, then run `switchboard db adopt` again; nothing was"
                    " recorded (docs/migrations.md: databases we did not create)",
                )
            with conn.transaction():
                for migration in adopting:
                    for row in ledger_rows(migration, self._job_queue):
                        _record(conn, row, duration_ms=0, adopted=True)
                    self._report(f"recorded {migration.label} as applied (adopted)")
        return adopting

    # -- internals --------------------------------------------------------------------

    def _pending(self, conn: Conn, to: str | None) -> list[Step]:
        target = find(self._migrations, to).id if to else self._migrations[-1].id
        applied = _read_ledger(conn)
        todo: list[Step] = []
        for migration in self._migrations:
            if migration.id > target:
                break
            if migration.id not in applied:
                todo.append(migration)
            elif migration.apply.job_queue_at is not None:
                todo.extend(self._queue_steps(migration, applied))
        return todo

    def _queue_steps(
        self, migration: Migration, applied: dict[str, AppliedMigration]
    ) -> list[QueueStep]:
        """procrastinate's migration files after those the queue made at `migration` has."""
        through = through_from_ledger(migration.id, applied[migration.id].checksum, [*applied])
        if through is None:
            raise MigrationError(
                f"cannot tell which procrastinate schema {migration.label} made in this "
                "database: the ledger records neither the files it contains nor the first "
                f"{migration.id}'s checksum",
                hint="record the procrastinate migration file the queue is at (docs/"
                "migrations.md: the job queue's schema), then run the command again",
            )
        return [
            QueueStep(migration.id, script, self._job_queue.version)
            for script in self._job_queue.migrations_after(through)
        ]

    @contextmanager
    def _connection(self) -> Iterator[Conn]:
        conn = connect(self._url, autocommit=True)
        try:
            conn.add_notice_handler(self._on_notice)
            yield conn
        finally:
            conn.close()

    def _on_notice(self, diagnostic: psycopg.errors.Diagnostic) -> None:
        text = diagnostic.message_primary or ""
        # IF NOT EXISTS chatter on a re-run says nothing a person needs.
        if text.endswith(", skipping"):
            return
        self._report(f"  notice: {text}")

    @contextmanager
    def _locked(self, conn: Conn) -> Iterator[None]:
        _check_may_migrate(conn)
        deadline = time.monotonic() + self._lock_wait_seconds
        told = False
        while not scalar(conn, f"SELECT pg_try_advisory_lock({LOCK_SQL})"):
            holder = _lock_holder(conn)
            if time.monotonic() >= deadline:
                raise MigrationLockTimeout(
                    f"another migration run holds the lock: {holder}",
                    hint="wait for it to finish; the lock is released when that process ends",
                )
            if not told:
                self._report(f"waiting for another migration run to finish ({holder})")
                told = True
            time.sleep(0.2)
        try:
            # Created under the lock: two first runs would otherwise race to create it.
            _create_ledger(conn)
            yield
        finally:
            if not conn.closed:
                conn.execute(f"SELECT pg_advisory_unlock({LOCK_SQL})")

    def _apply(self, conn: Conn, migration: Migration) -> None:
        self._report(f"applying {migration.label} ...")
        started = time.monotonic()
        rows = ledger_rows(migration, self._job_queue)

        def record() -> None:
            for row in rows:
                _record(conn, row, duration_ms=_ms_since(started), adopted=False)

        if migration.apply.transactional:
            self._run_in_transaction(
                conn, with_job_queue(migration.apply, self._job_queue), after=record
            )
        else:
            for statement in migration.apply.statements:
                self._run_with_retries(conn, migration.apply, statement)
            record()
        _reset_session(conn)
        self._report(f"applied {migration.label} in {_ms_since(started) / 1000:.2f} s")

    def _apply_queue_step(self, conn: Conn, step: QueueStep) -> None:
        self._report(f"applying {step.label} ...")
        started = time.monotonic()
        statements = [(step.script, s) for s in step.script.statements]
        applied = _read_ledger(conn)
        for again in self._migrations:
            if again.id in PRIVILEGES_MIGRATIONS and again.id in applied:
                statements += [(again.apply, s) for s in again.apply.statements]
        self._run_in_transaction(
            conn,
            statements,
            after=lambda: _record(
                conn, step.ledger_row, duration_ms=_ms_since(started), adopted=False
            ),
        )
        _reset_session(conn)
        self._report(f"applied {step.label} in {_ms_since(started) / 1000:.2f} s")

    def _roll_back(self, conn: Conn, migration: Migration) -> None:
        self._report(f"rolling back {migration.label} ...")
        started = time.monotonic()

        def forget() -> None:
            # With the migration go the job queue's rows recorded under it.
            conn.execute(
                f"DELETE FROM {LEDGER} WHERE id = %s OR starts_with(id, %s)",
                (migration.id, f"{migration.id}/"),
            )

        if migration.rollback.transactional:
            self._run_in_transaction(
                conn, [(migration.rollback, s) for s in migration.rollback.statements], after=forget
            )
        else:
            for statement in migration.rollback.statements:
                self._run_with_retries(conn, migration.rollback, statement)
            forget()
        _reset_session(conn)
        self._report(f"rolled back {migration.label} in {_ms_since(started) / 1000:.2f} s")

    def _run_in_transaction(
        self,
        conn: Conn,
        statements: list[tuple[SqlScript, Statement]],
        *,
        after: Callable[[], None],
    ) -> None:
        for attempt in range(1, LOCK_RETRIES + 1):
            try:
                with conn.transaction():
                    for script, statement in statements:
                        _execute(conn, script, statement)
                    after()
                return
            except _Retryable as exc:
                self._wait_before_retry(exc.script, exc.statement, attempt)
        raise _lock_gave_up(statements[0][0])

    def _run_with_retries(
        self,
        conn: Conn,
        script: SqlScript,
        statement: Statement,
    ) -> None:
        started = time.perf_counter()
        for attempt in range(1, LOCK_RETRIES + 1):
            try:
                _execute(conn, script, statement)
            except _Retryable:
                self._wait_before_retry(script, statement, attempt)
                continue
            if self._on_statement:
                self._on_statement(script, statement, time.perf_counter() - started, attempt)
            return
        raise _lock_gave_up(script)

    def _wait_before_retry(self, script: SqlScript, statement: Statement, attempt: int) -> None:
        self._report(
            f"  {script.path.name} line {statement.line}: lock not granted in time "
            f"(attempt {attempt}/{LOCK_RETRIES}); trying again"
        )
        time.sleep(min(0.1 * attempt, 2.0))


class _Retryable(Exception):
    def __init__(self, script: SqlScript, statement: Statement) -> None:
        self.script = script
        self.statement = statement


def _execute(conn: Conn, script: SqlScript, statement: Statement) -> None:
    try:
        conn.execute(statement.sql.encode(), prepare=False)
    except (pg_errors.LockNotAvailable, pg_errors.DeadlockDetected) as exc:
        raise _Retryable(script, statement) from exc
    except psycopg.Error as exc:
        raise _translate(script, statement, exc) from exc


def _translate(script: SqlScript, statement: Statement, exc: psycopg.Error) -> MigrationError:
    diag = exc.diag
    where = f"{script.path.name}, line {statement.line}"
    primary = diag.message_primary or str(exc).strip()
    detail = f"\n{diag.message_detail}" if diag.message_detail else ""
    hint = diag.message_hint
    if diag.sqlstate == "SB001":
        return DuplicateMessageIds(f"{primary}{detail}", hint=hint)
    message = f"{where}: {primary}{detail}"
    if isinstance(exc, pg_errors.UniqueViolation) or (
        diag.sqlstate == "23505" and "index" in primary
    ):
        hint = hint or "a duplicate row blocks a unique index; remove it and run again"
    granting = re.match(r'permission denied to grant role "(.+)"', primary)
    if isinstance(exc, pg_errors.InsufficientPrivilege) and granting and not hint:
        # PostgreSQL 16+: CREATEROLE alone no longer grants a role; the owner is already here.
        hint = (
            f"only a superuser or a role with the ADMIN option on {granting[1]} may grant it: "
            f"ask a superuser to run the statement at {where} (or to grant this role the "
            f"ADMIN option on {granting[1]}), then run the command again"
        )
    if isinstance(exc, pg_errors.InsufficientPrivilege):
        hint = hint or "run migrations as the role that owns the cc_ tables"
    if not hint:
        hint = (
            f"{script.path.name} ran as one transaction and was rolled back; fix the cause "
            "and run the command again"
            if script.transactional
            else f"every statement of {script.path.name} is guarded: fix the cause and run "
            "the command again to finish it"
        )
    return MigrationError(message, hint=hint)


def _service_differences(conn: Conn, target: str) -> list[Problem]:
    """What the service needs of the tables and no migration after `target` adds."""
    # Past 015 nothing adds the service's columns and defaults any more.
    pending = target < SERVICE_COLUMNS_MIGRATION
    return [
        problem
        for table in SERVICE_COLUMNS
        for problem in table_problems(conn, table, migrations_pending=pending) or []
    ]


def _lock_gave_up(script: SqlScript) -> MigrationError:
    return MigrationError(
        f"{script.path.name}: could not get a table lock after {LOCK_RETRIES} attempts",
        hint="a long transaction is holding the table; end it (pg_stat_activity) and run again",
    )


def _read_ledger(conn: Conn) -> dict[str, AppliedMigration]:
    if not relation_exists(conn, LEDGER):
        return {}
    try:
        with conn.cursor(row_factory=dict_row) as cur:
            rows = cur.execute(
                f"SELECT id, name, checksum, applied_at, duration_ms, adopted FROM {LEDGER}"
            ).fetchall()
    except pg_errors.InsufficientPrivilege as exc:
        if _service_role_not_taken(conn):
            raise MigrationNotPermitted(
                f"{_who(conn)} does not act as service_role, so it may read no table: its "
                "login setting `role = service_role` is gone",
                hint="the app role takes service_role's rights at login; a superuser (or the "
                "role that manages it) runs: ALTER ROLE switchboard_app SET role = "
                "'service_role'; then start again",
            ) from exc
        raise MigrationNotPermitted(
            f"{_who(conn)} may not read the migration ledger ({LEDGER})",
            hint="the database predates the app role's read access to it: run `switchboard db "
            "upgrade` once with DATABASE_URL connecting as the role that owns the tables, "
            "then start again",
        ) from exc
    return {str(row["id"]): AppliedMigration(**row) for row in rows}


def _service_role_not_taken(conn: Conn) -> bool:
    """A member of service_role that cannot use its rights without SET ROLE (switchboard_app,
    NOINHERIT) and has not taken it: its `role` setting at login is missing."""
    return bool(
        scalar(
            conn,
            # CASE: pg_has_role raises on a role that does not exist.
            "SELECT CASE WHEN current_user = session_user"
            " AND EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role')"
            " THEN pg_has_role(session_user, 'service_role', 'MEMBER')"
            " AND NOT pg_has_role(session_user, 'service_role', 'USAGE') ELSE false END",
        )
    )


# Whatever default privileges the schema has (Supabase grants every new table to anon,
# authenticated and service_role), the ledger is readable by service_role, which the app role
# acts as, and by no one else. On a database without these roles yet, 014 sets the same.
LEDGER_PRIVILEGES = f"""
DO $$
DECLARE
    grantee text;
BEGIN
    REVOKE ALL ON TABLE {LEDGER} FROM PUBLIC;
    FOREACH grantee IN ARRAY ARRAY['anon', 'authenticated', 'service_role', 'switchboard_app']
    LOOP
        IF EXISTS (SELECT FROM pg_roles WHERE rolname = grantee) THEN
            EXECUTE format('REVOKE ALL ON TABLE {LEDGER} FROM %I', grantee);
        END IF;
    END LOOP;
    IF EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role') THEN
        GRANT SELECT ON TABLE {LEDGER} TO service_role;
    END IF;
END
$$"""


LEDGER_TABLE = (
    f"CREATE TABLE IF NOT EXISTS {LEDGER} ("
    " id text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now(),"
    " duration_ms integer NOT NULL, adopted boolean NOT NULL DEFAULT false)"
)


def _create_ledger(conn: Conn) -> None:
    if relation_exists(conn, LEDGER):
        return
    with conn.transaction():
        conn.execute(LEDGER_TABLE)
        conn.execute(LEDGER_PRIVILEGES.encode())


def _check_may_migrate(conn: Conn) -> None:
    """Refuse, before taking the lock, a role that cannot act as the owner of the ledger (the
    app role), or that could not create it."""
    row = conn.execute(
        "SELECT pg_has_role(c.relowner, 'USAGE'), pg_get_userbyid(c.relowner) FROM pg_class AS c"
        " WHERE c.oid = to_regclass(%s)",
        (LEDGER,),
    ).fetchone()
    if row is not None and not row[0]:
        raise MigrationNotPermitted(
            f"{_who(conn)} may not migrate this database: its tables belong to {row[1]}",
            hint=f"the owner migrates, the app role serves: run `switchboard db upgrade` with "
            f"DATABASE_URL connecting as {row[1]}, then start this command again",
        )
    if row is None and not scalar(conn, "SELECT has_schema_privilege(current_schema(), 'CREATE')"):
        schema = scalar(conn, "SELECT current_schema()")
        raise MigrationNotPermitted(
            f"{_who(conn)} may not create tables in schema {schema}, so it may not migrate "
            "this database",
            hint="run `switchboard db upgrade` with DATABASE_URL connecting as the role that "
            "owns the database's tables, then start this command again",
        )


def _who(conn: Conn) -> str:
    session, current = conn.execute("SELECT session_user, current_user").fetchone() or ("", "")
    return f"role {session}" if session == current else f"role {session} (as {current})"


def _record(conn: Conn, row: LedgerRow, *, duration_ms: int, adopted: bool) -> None:
    conn.execute(
        f"INSERT INTO {LEDGER} (id, name, checksum, duration_ms, adopted)"
        " VALUES (%s, %s, %s, %s, %s)",
        (row.id, row.name, row.checksum, duration_ms, adopted),
    )


def _migration_id(ledger_id: str) -> str:
    """The migration a ledger row belongs to: a job queue row ("010/…") to the one it is under."""
    return ledger_id.split("/", 1)[0]


def _reset_session(conn: Conn) -> None:
    # A migration's SET lock_timeout and pg_temp helpers must not leak into the next one.
    # (Not DISCARD ALL: it would also release the advisory lock.)
    conn.execute("RESET ALL")
    conn.execute("DISCARD TEMP")


def _lock_holder(conn: Conn) -> str:
    # The bigint key is split across classid (high half) and objid (low half).
    row = conn.execute(
        "SELECT l.pid, a.application_name, a.client_addr::text, a.backend_start"
        " FROM pg_locks AS l LEFT JOIN pg_stat_activity AS a ON a.pid = l.pid"
        " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1"
        " AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"
        f" AND ((l.classid::bigint << 32) | l.objid::bigint) = {LOCK_SQL}"
        " AND l.pid <> pg_backend_pid() LIMIT 1"
    ).fetchone()
    if row is None:
        return "holder unknown"
    pid, app, addr, since = row
    # Another user's session shows NULLs here unless we may see it (pg_read_all_stats).
    client = f"{app or 'a client'} from {addr or 'a local socket'}"
    started = f", since {since:%H:%M:%S}" if since else ""
    return f"pid {pid}, {client}{started}"


def _ms_since(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
