"""Reads `migrations/NNN_name.sql` (+ `NNN_name.rollback.sql`) into ordered statements."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import sqlparse

from switchboard.errors import ConfigurationError, MigrationError

_FILE_NAME = re.compile(r"^(?P<id>\d{3})_(?P<name>[a-z0-9_]+)\.sql$")
# A migration that must run outside a transaction (CREATE INDEX CONCURRENTLY, VALIDATE
# without holding the ADD's lock) says so in its leading comments.
_NO_TRANSACTION = re.compile(r"^--\s*switchboard:\s*no-transaction\s*$", re.MULTILINE)
# Where a migration runs the job queue's schema, taken from the installed procrastinate
# (job_queue.py): a line of its own.
_JOB_QUEUE_SCHEMA = re.compile(r"^--\s*switchboard:\s*job-queue-schema\s*$", re.MULTILINE)
_CREATE_TABLE = re.compile(
    r"^\s*CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(cc_\w+)\s*\(", re.IGNORECASE | re.MULTILINE
)


@dataclass(frozen=True)
class Statement:
    sql: str
    line: int  # where it starts in its file, for error messages


@dataclass(frozen=True)
class SqlScript:
    path: Path
    statements: tuple[Statement, ...]
    transactional: bool
    checksum: str
    # How many of the statements run before the job queue's schema, in a script that marks it.
    job_queue_at: int | None = None

    @classmethod
    def read(cls, path: Path) -> SqlScript:
        source = path.read_text(encoding="utf-8")
        marks = list(_JOB_QUEUE_SCHEMA.finditer(source))
        if len(marks) > 1:
            raise ConfigurationError(f"{path.name} marks the job queue's schema twice")
        transactional = _NO_TRANSACTION.search(source) is None
        if marks and not transactional:
            raise ConfigurationError(
                f"{path.name} runs outside a transaction; the job queue's schema needs one"
            )
        before = _split(source[: marks[0].start()]) if marks else []
        return cls(
            path=path,
            statements=tuple(_split(source)),
            transactional=transactional,
            checksum=hashlib.sha256(source.encode()).hexdigest(),
            job_queue_at=len(before) if marks else None,
        )


@dataclass(frozen=True)
class Migration:
    id: str  # "006"
    name: str  # "cc_step1_checklist"
    apply: SqlScript
    rollback: SqlScript

    @property
    def label(self) -> str:
        return f"{self.id}_{self.name}"

    def tables_created(self) -> list[str]:
        return [
            match.group(1)
            for statement in self.apply.statements
            for match in _CREATE_TABLE.finditer(statement.sql)
        ]


def load_migrations(directory: Path) -> list[Migration]:
    migrations: list[Migration] = []
    for path in sorted(directory.glob("*.sql")):
        if path.name.endswith(".rollback.sql"):
            continue
        match = _FILE_NAME.match(path.name)
        if match is None:
            raise ConfigurationError(
                f"unexpected file name in {directory}: {path.name}",
                hint="migrations are named NNN_lowercase_words.sql",
            )
        rollback_path = path.with_name(path.name.removesuffix(".sql") + ".rollback.sql")
        if not rollback_path.exists():
            raise ConfigurationError(
                f"{path.name} has no rollback file",
                hint=f"add {rollback_path.name}, even if it only explains why nothing is undone",
            )
        migrations.append(
            Migration(
                id=match["id"],
                name=match["name"],
                apply=SqlScript.read(path),
                rollback=SqlScript.read(rollback_path),
            )
        )
    ids = [m.id for m in migrations]
    if len(set(ids)) != len(ids):
        raise ConfigurationError(f"two migrations share a number in {directory}: {ids}")
    return migrations


def find(migrations: list[Migration], revision: str) -> Migration:
    """The migration a user named: "6", "006" or "006_cc_step1_checklist"."""
    wanted = revision.split("_", 1)[0].zfill(3)
    for migration in migrations:
        if migration.id == wanted:
            return migration
    known = ", ".join(m.id for m in migrations)
    raise MigrationError(f"no migration {revision!r}", hint=f"known revisions: {known}")


def _split(source: str) -> list[Statement]:
    statements: list[Statement] = []
    position = 0
    for raw in sqlparse.split(source):
        sql = raw.strip()
        if not _has_code(sql):
            continue
        start = source.find(sql, position)
        position = start + len(sql)
        leading = len(sql) - len(_strip_leading_comments(sql))
        line = source.count("\n", 0, start + leading) + 1
        statements.append(Statement(sql=sql, line=line))
    return statements


def _strip_leading_comments(sql: str) -> str:
    lines = sql.splitlines(keepends=True)
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("--")):
        lines.pop(0)
    return "".join(lines)


def _has_code(sql: str) -> bool:
    return any(line.strip() and not line.strip().startswith("--") for line in sql.splitlines())
