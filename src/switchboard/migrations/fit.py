"""Whether the service can run on a database's nine tables: SERVICE_COLUMNS and the rest of
expected.py held against the catalog.

Two callers, one rule. `db verify` asks after the migrations, where everything must be there.
`db adopt` asks before 006, where a later migration still renames and adds columns (006) and
adds the service's own columns and defaults (015): there only what no migration fixes is a
problem, and the adoption is refused with each problem and its fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from switchboard.db import Conn
from switchboard.migrations.expected import (
    ANY_ID,
    COLUMNS,
    NEW_TABLES,
    RENAMED_COLUMNS,
    RENAMED_TABLES,
    SERVICE_COLUMNS,
    SERVICE_INSERTS,
    SERVICE_UNIQUE_KEYS,
    SERVICE_VALUES,
    ServiceColumn,
    service_type_ok,
)

# Columns of the tables 006 creates that a later migration adds when they are missing.
_ADDED_AFTER_006 = {"created_at", "updated_at", "reason"}
_OPTIONAL = ServiceColumn("text")
_LITERAL = re.compile(r"'((?:[^']|'')*)'")
# The defaults 015 sets, by the type they fit (see its comments).
_DEFAULT_015_TYPES = {
    "gen_random_uuid()": "uuid",
    "now()": "timestamp with time zone",
    "0": "integer",
}


@dataclass(frozen=True)
class Problem:
    what: str
    fix: str

    def __str__(self) -> str:
        return f"{self.what} (fix: {self.fix})"


@dataclass(frozen=True)
class _Column:
    name: str
    type: str
    not_null: bool
    has_default: bool


def table_problems(conn: Conn, table: str, *, migrations_pending: bool) -> list[Problem] | None:
    """What stops the service on this table; None when the table is not there. With
    `migrations_pending` (adopt, before 006 and 015 ran): only what no migration fixes."""
    actual_table = _actual_table(conn, table) if migrations_pending else table
    if actual_table is None:
        return None
    columns = _columns(conn, actual_table)
    if not columns:
        return None
    problems = _column_problems(table, actual_table, columns, migrations_pending=migrations_pending)
    if migrations_pending and table in NEW_TABLES:
        problems += _new_table_made_elsewhere(table, columns)
    if table in SERVICE_INSERTS:
        problems += _unwritten_required(table, actual_table, columns)
    problems += _narrow_values(conn, table, actual_table)
    problems += _missing_unique_keys(conn, table, actual_table)
    return problems


def _actual_table(conn: Conn, table: str) -> str | None:
    """The table's name in this database: before 006 the old name may still be in use."""
    old = next((o for o, n in RENAMED_TABLES.items() if n == table), None)
    for name in (table, old):
        if name and conn.execute("SELECT to_regclass(%s)", (name,)).fetchone() != (None,):
            return name
    return None


def _columns(conn: Conn, table: str) -> dict[str, _Column]:
    rows = conn.execute(
        "SELECT attname::text, format_type(atttypid, atttypmod), attnotnull,"
        " atthasdef OR attidentity <> '' OR attgenerated <> ''"
        " FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0"
        " AND NOT attisdropped",
        (table,),
    ).fetchall()
    return {str(r[0]): _Column(str(r[0]), str(r[1]), bool(r[2]), bool(r[3])) for r in rows}


def _find(table: str, name: str, columns: dict[str, _Column]) -> _Column | None:
    """The column under its name after 006, or (before 006) its old one."""
    if name in columns:
        return columns[name]
    old = next((o for o, n in RENAMED_COLUMNS.get(table, {}).items() if n == name), None)
    return columns.get(old) if old else None


def _column_problems(
    table: str, actual_table: str, columns: dict[str, _Column], *, migrations_pending: bool
) -> list[Problem]:
    problems: list[Problem] = []
    for name, need in SERVICE_COLUMNS[table].items():
        column = _find(table, name, columns)
        if column is None:
            if not migrations_pending or need.core:
                problems.append(
                    Problem(
                        f"{actual_table}.{name} is missing",
                        f"ALTER TABLE {actual_table} ADD COLUMN {name} {_sql_type(need)}",
                    )
                )
            continue
        where = f"{actual_table}.{column.name}"
        if not service_type_ok(column.type, need):
            problems.append(Problem(f"{where} is {column.type}", _type_fix(where, name, need)))
            continue
        if (
            need.default
            and not column.has_default
            and not (migrations_pending and _DEFAULT_015_TYPES.get(need.default) == column.type)
        ):
            problems.append(
                Problem(
                    f"{where} has no default, and the service inserts rows without it",
                    f"ALTER TABLE {actual_table} ALTER COLUMN {column.name} "
                    + (
                        f"SET DEFAULT {need.default}"
                        if column.type == "uuid" or need.type != ANY_ID
                        else "ADD GENERATED BY DEFAULT AS IDENTITY"
                    ),
                )
            )
    return problems


def _new_table_made_elsewhere(table: str, columns: dict[str, _Column]) -> list[Problem]:
    """006 creates this table when it is missing and leaves one that is there as it is: the
    columns the specification and the service need must then be there already (but for those
    015 and 012 add)."""
    wanted = [
        name
        for name in [*COLUMNS[table], *SERVICE_COLUMNS[table]]
        if name not in _ADDED_AFTER_006 and not SERVICE_COLUMNS[table].get(name, _OPTIONAL).core
    ]
    return [
        Problem(
            f"{table}.{name} is missing (006 leaves a {table} made elsewhere as it is)",
            f"ALTER TABLE {table} ADD COLUMN {name} "
            + _sql_type(SERVICE_COLUMNS[table].get(name, ServiceColumn("text"))),
        )
        for name in dict.fromkeys(wanted)
        if name not in columns
    ]


def _sql_type(need: ServiceColumn) -> str:
    return "uuid" if need.type == ANY_ID else need.type


def _type_fix(where: str, name: str, need: ServiceColumn) -> str:
    if name == "id" or (name.endswith("_id") and need.type == "uuid"):
        return (
            f"the service passes these ids as uuids, and tables later migrations add reference them"
            f" with uuid columns: convert {where} (and the columns that reference it) to uuid"
        )
    return (
        f"convert {where} to {_sql_type(need)}: ALTER TABLE … ALTER COLUMN … TYPE {_sql_type(need)}"
    )


def _unwritten_required(
    table: str, actual_table: str, columns: dict[str, _Column]
) -> list[Problem]:
    written = set(SERVICE_COLUMNS[table]) | set(RENAMED_COLUMNS.get(table, {}))
    return [
        Problem(
            f"{actual_table}.{column.name} is NOT NULL without a default, and the service"
            " never writes it",
            f"ALTER TABLE {actual_table} ALTER COLUMN {column.name} DROP NOT NULL"
            " (or SET DEFAULT a value)",
        )
        for column in columns.values()
        if column.not_null and not column.has_default and column.name not in written
    ]


def _narrow_values(conn: Conn, table: str, actual_table: str) -> list[Problem]:
    problems: list[Problem] = []
    for (values_table, column), values in SERVICE_VALUES.items():
        if values_table != table:
            continue
        checks = conn.execute(
            "SELECT c.conname::text, pg_get_constraintdef(c.oid) FROM pg_constraint AS c"
            " JOIN pg_attribute AS a ON a.attrelid = c.conrelid AND a.attname = %s"
            " WHERE c.conrelid = to_regclass(%s) AND c.contype = 'c'"
            " AND a.attnum = ANY (c.conkey) AND pg_get_constraintdef(c.oid) ~ ' = ANY \\('",
            (column, actual_table),
        ).fetchall()
        for name, definition in checks:
            allowed = {v.replace("''", "'") for v in _LITERAL.findall(str(definition))}
            refused = [v for v in values if v not in allowed]
            if refused:
                listed = ", ".join(f"'{v}'" for v in sorted(allowed | set(values)))
                problems.append(
                    Problem(
                        f"CHECK {name} on {actual_table}.{column} refuses"
                        f" {', '.join(refused)}, which the service writes",
                        f"ALTER TABLE {actual_table} DROP CONSTRAINT {name}, ADD CONSTRAINT"
                        f" {name} CHECK ({column} IN ({listed})) NOT VALID",
                    )
                )
    return problems


def _missing_unique_keys(conn: Conn, table: str, actual_table: str) -> list[Problem]:
    keys = SERVICE_UNIQUE_KEYS.get(table)
    if keys is None:
        return []
    found = conn.execute(
        "SELECT EXISTS (SELECT FROM pg_index AS i WHERE i.indrelid = to_regclass(%s)"
        " AND i.indisunique AND i.indisvalid AND i.indpred IS NULL AND i.indexprs IS NULL"
        " AND (SELECT array_agg(a.attname::text ORDER BY k.n) FROM unnest(i.indkey)"
        "      WITH ORDINALITY AS k (attnum, n) JOIN pg_attribute AS a"
        "      ON a.attrelid = i.indrelid AND a.attnum = k.attnum) = %s)",
        (actual_table, list(keys)),
    ).fetchone()
    if found and found[0]:
        return []
    columns = ", ".join(keys)
    return [
        Problem(
            f"{actual_table} has no unique index on ({columns}), which the service upserts on",
            f"CREATE UNIQUE INDEX CONCURRENTLY {actual_table}_{'_'.join(keys)}_key"
            f" ON {actual_table} ({columns}) (after removing duplicate rows)",
        )
    ]
