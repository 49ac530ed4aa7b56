"""The job queue's schema, taken from the installed procrastinate rather than copied into ours.

Migration 010 marks where procrastinate's `sql/schema.sql` goes; the runner runs it there and
records, in the ledger, which of procrastinate's own migration files that schema already
contains. On an upgrade of the package, the migration files after that one are the queue's
pending steps, in their file-name order (procrastinate names them by version), each once.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import procrastinate

from switchboard.errors import MigrationError
from switchboard.migrations.files import Migration, SqlScript, Statement

# The versions the runner knows how to place (pyproject.toml allows the same range): from 3.10,
# whose schema the first 010 carried, to the next major version, which may squash its
# migration files and so leave an existing database's position nowhere.
SUPPORTED_MAJOR = 3
OLDEST_SUPPORTED = (3, 10)

# Before the schema came from the package, 010 carried a copy of procrastinate 3.10.0's
# schema.sql in the file itself, and the ledger holds that file's checksum (with no job queue
# row). Such a database has the queue as 3.10.0's schema.sql makes it, which contains 3.10.0's
# migration files up to this one.
FIRST_010_CHECKSUM = "21efc8deb2782e2ecafc2b65239020fc6505fbe58dc8e4687a71c7e5114bce15"
FIRST_010_THROUGH = "03.04.00_50_post_add_retry_failed_job_procedure.sql"


@dataclass(frozen=True)
class JobQueueSql:
    """procrastinate's SQL: `schema.sql` (a new database) and `migrations/*.sql` (upgrades)."""

    directory: Path
    version: str

    @classmethod
    def installed(cls) -> JobQueueSql:
        found = version("procrastinate")
        major, minor = (int(part) for part in found.split(".")[:2])
        if major != SUPPORTED_MAJOR or (major, minor) < OLDEST_SUPPORTED:
            raise MigrationError(
                f"procrastinate {found} is installed; the migration runner places the job "
                f"queue's migrations of {'.'.join(map(str, OLDEST_SUPPORTED))} up to the next "
                "major version only",
                hint="install the version pyproject.toml asks for (`make setup`)",
            )
        return cls(Path(procrastinate.__file__).parent / "sql", found)

    def schema(self) -> SqlScript:
        return SqlScript.read(self.directory / "schema.sql")

    def migration_files(self) -> list[Path]:
        return sorted((self.directory / "migrations").glob("*.sql"))

    def schema_through(self) -> str:
        """The newest migration file that schema.sql already contains."""
        files = self.migration_files()
        if not files:
            raise MigrationError(
                f"no migration files in {self.directory / 'migrations'}",
                hint="the job queue's position could not be recorded; reinstall procrastinate",
            )
        return files[-1].name

    def migrations_after(self, through: str) -> list[SqlScript]:
        """The migration files a database whose queue contains those up to `through` lacks."""
        names = [path.name for path in self.migration_files()]
        if through not in names:
            raise MigrationError(
                f"the job queue of this database is at procrastinate's {through}, which "
                f"procrastinate {self.version} does not ship: its migrations cannot be placed",
                hint="install the procrastinate version the database was migrated with (or one "
                "that still ships that file), then run the command again",
            )
        return [SqlScript.read(path) for path in self.migration_files() if path.name > through]


@dataclass(frozen=True)
class LedgerRow:
    id: str
    name: str
    checksum: str


@dataclass(frozen=True)
class QueueStep:
    """One of procrastinate's migration files, pending under the migration that made the queue."""

    migration_id: str
    script: SqlScript
    version: str

    @property
    def id(self) -> str:
        return ledger_id(self.migration_id, self.script.path.name)

    @property
    def label(self) -> str:
        return f"{self.id} (procrastinate {self.version})"

    @property
    def ledger_row(self) -> LedgerRow:
        return LedgerRow(
            self.id, f"procrastinate {self.version} {self.script.path.name}", self.script.checksum
        )


def ledger_id(migration_id: str, file_name: str) -> str:
    """A queue row in the ledger sorts after its migration (010) and before the next one."""
    return f"{migration_id}/{file_name.removesuffix('.sql')}"


def ledger_rows(migration: Migration, queue: JobQueueSql) -> list[LedgerRow]:
    """What applying `migration` records: its own row, and for the migration that runs the
    job queue's schema, a row naming the newest of procrastinate's files that schema contains."""
    rows = [LedgerRow(migration.id, migration.name, migration.apply.checksum)]
    if migration.apply.job_queue_at is not None:
        rows.append(
            LedgerRow(
                ledger_id(migration.id, queue.schema_through()),
                f"procrastinate {queue.version} schema.sql",
                queue.schema().checksum,
            )
        )
    return rows


def with_job_queue(script: SqlScript, queue: JobQueueSql) -> list[tuple[SqlScript, Statement]]:
    """The script's statements, with procrastinate's schema.sql where the script marks it."""
    own = [(script, statement) for statement in script.statements]
    if script.job_queue_at is None:
        return own
    schema = queue.schema()
    at = script.job_queue_at
    return [*own[:at], *((schema, statement) for statement in schema.statements), *own[at:]]


def through_from_ledger(migration_id: str, checksum: str, ids: list[str]) -> str | None:
    """The newest of procrastinate's migration files the queue recorded under `migration_id`
    contains; None when the ledger is neither this runner's nor the first 010's."""
    prefix = f"{migration_id}/"
    recorded = sorted(i.removeprefix(prefix) for i in ids if i.startswith(prefix))
    if recorded:
        return f"{recorded[-1]}.sql"
    if checksum == FIRST_010_CHECKSUM:
        return FIRST_010_THROUGH
    return None
