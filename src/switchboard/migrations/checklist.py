"""The specification's Testing Checklist, and what the service needs, run against a live
database: two sections, so that a shape the specification allows (a bigint id, a table
without updated_at) is never a failure of the checklist, only, where it is one, of the
service's section.

Every probe runs inside one transaction that is rolled back at the end, so a run leaves no
row, no lock and no setting behind; each probe that is expected to fail runs under its own
savepoint so that the others go on.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from psycopg import sql

from switchboard.db import Conn, connect, relation_exists, scalar
from switchboard.migrations.expected import (
    COLUMNS,
    INDEXES,
    NEW_TABLES,
    RENAMED_COLUMNS,
    RENAMED_TABLES,
    SERVICE_COLUMNS,
    SERVICE_ROLE,
    SERVICE_ROLE_TABLES,
    TABLE_PRIVILEGES,
    TABLES,
    same_type,
)
from switchboard.migrations.fit import table_problems
from switchboard.migrations.probes import (
    INSERTERS,
    UNIQUE_PROBES,
    Parents,
    insert_audit,
    insert_parents,
)
from switchboard.migrations.runner import LEDGER

SPECIFICATION = "specification"
SERVICE = "service"


@dataclass(frozen=True)
class CheckResult:
    check: str  # the checklist item
    target: str  # the table, index or role it looked at
    ok: bool
    evidence: str
    section: str = SPECIFICATION  # or SERVICE: what the service needs beyond the checklist

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_checklist(url: str, pending: Sequence[str] | None = None) -> list[CheckResult]:
    """Every check, in order; `pending` (what the migration runner would apply: our migrations
    and the job queue's files) adds the check that nothing is."""
    with connect(url) as conn:
        try:
            conn.execute("SET LOCAL lock_timeout = '2s'")
            conn.execute("SET LOCAL statement_timeout = '60s'")
            results = [
                *_check_columns(conn),
                *_check_indexes(conn),
                *_check_unique_constraints(conn),
                *_check_audit_immutability(conn),
                *_check_rls(conn),
                *_check_service_role(conn),
                *_check_new_tables(conn),
                *_check_service_needs(conn),
                *_check_service_privileges(conn),
                *_check_nothing_pending(pending),
            ]
        finally:
            conn.rollback()
    return results


# -- 1. All columns exist in each table ---------------------------------------------------


def _check_columns(conn: Conn) -> Iterator[CheckResult]:
    for table, expected in COLUMNS.items():
        actual: dict[str, str] = dict(
            conn.execute(
                "SELECT attname::text, format_type(atttypid, atttypmod) FROM pg_attribute"
                " WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped"
                " ORDER BY attnum",
                (table,),
            ).fetchall()
        )
        if not actual:
            old = next((o for o, n in RENAMED_TABLES.items() if n == table), None)
            why = f"table {table} does not exist"
            if old and relation_exists(conn, old):
                why += f" (still named {old}: apply 006)"
            yield CheckResult("columns exist", table, False, why)
            continue
        problems = (
            [
                f"missing {column} {kind}"
                for column, kind in expected.items()
                if column not in actual
            ]
            + [
                f"{column} is {actual[column]}, expected {kind}"
                for column, kind in expected.items()
                if column in actual and not same_type(actual[column], kind)
            ]
            + [
                f"legacy column {old} still present (renamed to {new} by 006)"
                for old, new in RENAMED_COLUMNS.get(table, {}).items()
                if old in actual
            ]
        )
        extra = len(actual) - len(expected)
        yield CheckResult(
            "columns exist",
            table,
            not problems,
            "; ".join(problems)
            if problems
            else f"all {len(expected)} the specification names present"
            + (f" (+{extra} other)" if extra > 0 else ""),
        )


# -- What the service needs, beyond the checklist --------------------------------------------


def _check_service_needs(conn: Conn) -> Iterator[CheckResult]:
    for table, columns in SERVICE_COLUMNS.items():
        problems = table_problems(conn, table, migrations_pending=False)
        if problems is None:
            yield CheckResult("service can use", table, False, "table does not exist", SERVICE)
            continue
        yield CheckResult(
            "service can use",
            table,
            not problems,
            "; ".join(map(str, problems))
            if problems
            else f"its {len(columns)} columns with the types and defaults the service needs",
            SERVICE,
        )


def _check_service_privileges(conn: Conn) -> Iterator[CheckResult]:
    """What service_role may do with each table, exactly (a grant missing breaks a flow, one
    too many lets the app role rewrite what must only grow), and what the outbound worker
    calls and counts with."""
    if not _role_exists(conn, SERVICE_ROLE):
        return  # the specification's section says so already
    for table, expected in SERVICE_ROLE_TABLES.items():
        if not relation_exists(conn, table):
            continue  # the columns check names a missing table of the specification
        granted = {
            privilege
            for privilege in TABLE_PRIVILEGES
            if scalar(
                conn, "SELECT has_table_privilege(%s, %s, %s)", (SERVICE_ROLE, table, privilege)
            )
        }
        missing, extra = sorted(expected - granted), sorted(granted - expected)
        problems = [f"missing {', '.join(missing)}"] * bool(missing) + [
            f"has {', '.join(extra)} beyond what it needs"
        ] * bool(extra)
        yield CheckResult(
            "service role privileges",
            table,
            not problems,
            "; ".join(problems) or f"{', '.join(sorted(expected)) or 'nothing'}, exactly",
            SERVICE,
        )
    refused = [
        str(name)
        for (name,) in conn.execute(
            _REFUSED_FUNCTIONS_AND_SEQUENCES,
            (SERVICE_ROLE, list(SERVICE_ROLE_TABLES), SERVICE_ROLE),
        ).fetchall()
    ]
    yield CheckResult(
        "service role privileges",
        "functions and sequences",
        not refused,
        f"no EXECUTE or USAGE on {', '.join(refused)}"
        if refused
        else "EXECUTE on the queue's functions, USAGE on every sequence",
        SERVICE,
    )


# The queue's functions the worker calls, and the sequences behind the listed tables' columns
# (owned by them, or named in their defaults), that service_role may not use. CASE: the planner
# may test a row before the relkind that rules it out.
_REFUSED_FUNCTIONS_AND_SEQUENCES = """
SELECT f.oid::regprocedure::text FROM pg_proc AS f
WHERE f.pronamespace = 'public'::regnamespace AND f.proname LIKE 'procrastinate%%'
  AND f.prorettype <> 'trigger'::regtype AND NOT has_function_privilege(%s, f.oid, 'EXECUTE')
UNION
SELECT c.oid::regclass::text
FROM unnest(%s::text[]) AS t (name)
JOIN pg_depend AS d ON d.refobjid = to_regclass(t.name) OR d.objid IN (
    SELECT a.oid FROM pg_attrdef AS a WHERE a.adrelid = to_regclass(t.name))
JOIN pg_class AS c ON c.oid = CASE WHEN d.refobjid = to_regclass(t.name) THEN d.objid
                                   ELSE d.refobjid END
WHERE d.classid IN ('pg_class'::regclass, 'pg_attrdef'::regclass)
  AND d.refclassid = 'pg_class'::regclass
  AND CASE WHEN c.relkind = 'S' THEN NOT has_sequence_privilege(%s, c.oid, 'USAGE') END
ORDER BY 1
"""


def _check_nothing_pending(pending: Sequence[str] | None) -> Iterator[CheckResult]:
    if pending is None:
        return
    yield CheckResult(
        "migrations applied",
        LEDGER,
        not pending,
        f"pending: {', '.join(pending)} (the owner runs `switchboard db upgrade`)"
        if pending
        else "none pending",
        SERVICE,
    )


# -- 2. Indexes are created and functional ------------------------------------------------


def _check_indexes(conn: Conn) -> Iterator[CheckResult]:
    for index in INDEXES:
        rows = conn.execute(
            "SELECT c.relname::text, pg_get_indexdef(i.indexrelid), i.indisvalid, i.indisready,"
            "       i.indislive, i.indisunique, EXISTS (SELECT FROM pg_constraint AS k"
            "       WHERE k.conindid = i.indexrelid AND k.contype = 'u')"
            " FROM pg_index AS i JOIN pg_class AS c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = to_regclass(%s)",
            (index.table,),
        ).fetchall()
        same_keys = [r for r in rows if _index_keys(str(r[1])) == index.keys]
        by_name = [r for r in same_keys if r[0] == index.name] or same_keys
        if not by_name:
            named = [r for r in rows if r[0] == index.name]
            why = (
                f"{index.name} indexes {_index_keys(str(named[0][1]))}, expected {index.keys}"
                if named
                else f"no index on {index.table} {index.keys}"
            )
            yield CheckResult("index valid", index.name, False, why)
            continue
        name, definition, valid, ready, live, unique, is_constraint = by_name[0]
        problems = [
            word
            for word, flag in (("INVALID", valid), ("not ready", ready), ("not live", live))
            if not flag
        ]
        if index.unique and not unique:
            problems.append("not unique")
        if index.constraint and not is_constraint:
            problems.append("a unique index but not a unique constraint")
        note = "" if name == index.name else f" as {name}"
        shape = ("UNIQUE " if unique else "") + str(definition)[
            str(definition).find("USING ") + 6 :
        ]
        yield CheckResult(
            "index valid",
            index.name,
            not problems,
            f"{', '.join(problems)}: {shape}" if problems else f"valid{note}: {shape}",
        )


def _index_keys(definition: str) -> str:
    return definition[definition.find("(", definition.find(" USING ")) :]


# -- 3. Unique constraints work (test duplicate inserts) ----------------------------------


def _check_unique_constraints(conn: Conn) -> Iterator[CheckResult]:
    for target, insert in UNIQUE_PROBES.items():
        with _savepoint(conn):
            try:
                parents = insert_parents(conn)
                insert(conn, parents, "dup")
            except psycopg.Error as exc:
                yield CheckResult(
                    "unique rejects duplicate",
                    target,
                    False,
                    f"could not insert the first probe row: {_why(exc)}",
                )
                continue
            try:
                with _savepoint(conn):
                    insert(conn, parents, "dup")
            except psycopg.errors.UniqueViolation as exc:
                yield CheckResult(
                    "unique rejects duplicate", target, True, f"second insert rejected: {_why(exc)}"
                )
            except psycopg.Error as exc:
                yield CheckResult(
                    "unique rejects duplicate",
                    target,
                    False,
                    f"second insert failed for another reason: {_why(exc)}",
                )
            else:
                yield CheckResult(
                    "unique rejects duplicate",
                    target,
                    False,
                    "second insert was accepted: the duplicate went in",
                )


# -- 4. Audit log immutability works ------------------------------------------------------


def _check_audit_immutability(conn: Conn) -> Iterator[CheckResult]:
    try:
        with _savepoint(conn, keep=True):
            audit_id = insert_audit(conn)
    except psycopg.Error as exc:
        yield CheckResult(
            "audit append-only",
            "cc_audit_logs",
            False,
            f"could not insert a probe audit row: {_why(exc)}",
        )
        return
    attempts = {
        "UPDATE": (
            "UPDATE cc_audit_logs SET error_message = 'tampered' WHERE id = %s",
            (audit_id,),
        ),
        "DELETE": ("DELETE FROM cc_audit_logs WHERE id = %s", (audit_id,)),
        "TRUNCATE": ("TRUNCATE cc_audit_logs", ()),
    }
    user = str(scalar(conn, "SELECT current_user"))
    roles = [user] + (
        [SERVICE_ROLE] if user != SERVICE_ROLE and _role_exists(conn, SERVICE_ROLE) else []
    )
    for operation, (statement, params) in attempts.items():
        for role in roles:
            yield _expect_refusal(
                conn, operation=operation, role=role, user=user, statement=statement, params=params
            )
    yield _check_audit_triggers(conn)


# pg_trigger.tgtype bits
_ROW, _BEFORE, _DELETE, _UPDATE, _TRUNCATE = 1, 2, 8, 16, 32


def _audit_guards(conn: Conn) -> dict[str, list[str]]:
    """For each operation, the BEFORE triggers on the audit log that fire for it always."""
    rows = conn.execute(
        "SELECT tgname::text, tgtype::int, tgenabled::text FROM pg_trigger"
        " WHERE tgrelid = to_regclass('cc_audit_logs') AND NOT tgisinternal ORDER BY 1"
    ).fetchall()
    wanted = {"UPDATE": (_UPDATE, True), "DELETE": (_DELETE, True), "TRUNCATE": (_TRUNCATE, False)}
    return {
        operation: [
            name
            for name, kind, enabled in rows
            if enabled == "A" and kind & _BEFORE and kind & event and bool(kind & _ROW) == per_row
        ]
        for operation, (event, per_row) in wanted.items()
    }


def _check_audit_triggers(conn: Conn) -> CheckResult:
    # Checked from the catalog, so the answer does not depend on who runs verify: a role that
    # lacks the privilege would be refused even with no trigger at all.
    guards = _audit_guards(conn)
    unguarded = [operation for operation, names in guards.items() if not names]
    return CheckResult(
        "audit triggers fire always",
        "cc_audit_logs",
        not unguarded,
        f"no BEFORE trigger enabled ALWAYS blocks {', '.join(unguarded)}"
        if unguarded
        else "; ".join(f"{op}: {', '.join(names)}" for op, names in guards.items()),
    )


def _expect_refusal(
    conn: Conn,
    *,
    operation: str,
    role: str,
    user: str,
    statement: str,
    params: tuple[object, ...],
) -> CheckResult:
    check, target = f"audit {operation} fails", f"cc_audit_logs as {role}"
    if role != user and not scalar(conn, "SELECT pg_has_role(%s, 'MEMBER')", (role,)):
        # SET ROLE would be refused, and that refusal says nothing about the audit log.
        return _refusal_from_catalog(conn, operation=operation, role=role, user=user)
    try:
        with _savepoint(conn):
            if role != user:
                conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
            elif operation == "TRUNCATE":
                # Never queue for the table's strongest lock in front of live writers.
                conn.execute("LOCK TABLE cc_audit_logs IN ACCESS EXCLUSIVE MODE NOWAIT")
            cursor = conn.execute(statement.encode(), params)
            changed = cursor.rowcount
    except psycopg.errors.InsufficientPrivilege as exc:  # the trigger, or a missing grant
        return CheckResult(check, target, True, f"refused: {_why(exc)}")
    except psycopg.errors.LockNotAvailable:
        guards = _audit_guards(conn)["TRUNCATE"]
        return CheckResult(
            check,
            target,
            bool(guards),
            "table busy, not probed; guarded by " + ", ".join(guards)
            if guards
            else "table busy, not probed; and no TRUNCATE trigger is there",
        )
    except psycopg.Error as exc:
        return CheckResult(check, target, False, f"could not test: {_why(exc)}")
    return CheckResult(check, target, False, f"{operation} succeeded ({changed} rows; rolled back)")


def _refusal_from_catalog(conn: Conn, *, operation: str, role: str, user: str) -> CheckResult:
    """What the catalog says of a role this connection may not act as: the role is refused
    when it lacks the privilege, or when a trigger that always fires blocks the operation."""
    held = scalar(conn, "SELECT has_table_privilege(%s, 'cc_audit_logs', %s)", (role, operation))
    guards = _audit_guards(conn)[operation]
    prefix = f"not probed ({user} cannot SET ROLE {role}); "
    if not held:
        evidence = f"{role} lacks the {operation} privilege"
    elif guards:
        evidence = f"{role} holds {operation}; blocked by {', '.join(guards)}"
    else:
        evidence = f"{role} holds {operation} and no trigger blocks it"
    return CheckResult(
        f"audit {operation} fails",
        f"cc_audit_logs as {role}",
        not held or bool(guards),
        prefix + evidence,
    )


# -- 5. RLS is enabled --------------------------------------------------------------------


def _check_rls(conn: Conn) -> Iterator[CheckResult]:
    for table in TABLES:
        row = conn.execute(
            "SELECT c.relrowsecurity, c.relforcerowsecurity,"
            "       (SELECT string_agg(polname::text, ', ') FROM pg_policy WHERE polrelid = c.oid)"
            " FROM pg_class AS c WHERE c.oid = to_regclass(%s)",
            (table,),
        ).fetchone()
        if row is None:
            yield CheckResult("rls enabled", table, False, "table does not exist")
            continue
        enabled, forced, policies = row
        yield CheckResult(
            "rls enabled",
            table,
            bool(enabled),
            f"relrowsecurity={'on' if enabled else 'off'}"
            f"{', forced' if forced else ''}; policies: {policies or 'none'}",
        )


# -- 6. Service role can still access all tables ------------------------------------------


def _check_service_role(conn: Conn) -> Iterator[CheckResult]:
    if not _role_exists(conn, SERVICE_ROLE):
        yield CheckResult(
            "service role reads and writes",
            SERVICE_ROLE,
            False,
            "role service_role does not exist (007 creates it)",
        )
        return
    if not scalar(conn, "SELECT pg_has_role(current_user, %s, 'MEMBER')", (SERVICE_ROLE,)):
        yield CheckResult(
            "service role reads and writes",
            SERVICE_ROLE,
            False,
            "this connection's user cannot SET ROLE service_role; run `switchboard db "
            "verify` as switchboard_app (it acts as service_role), or as a member of "
            "service_role, to run this check",
        )
        return
    with _savepoint(conn):
        try:
            parents = insert_parents(conn)
        except psycopg.Error as exc:
            yield CheckResult(
                "service role reads and writes",
                SERVICE_ROLE,
                False,
                f"could not insert the probe rows it needs: {_why(exc)}",
            )
            return
        for table in TABLES:
            yield _probe_as_service_role(conn, table, parents)


def _probe_as_service_role(conn: Conn, table: str, parents: Parents) -> CheckResult:
    target = f"{table} as {SERVICE_ROLE}"
    if table not in INSERTERS or not relation_exists(conn, table):
        return CheckResult(
            "service role reads and writes", target, False, f"table {table} does not exist"
        )
    try:
        with _savepoint(conn):
            conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(SERVICE_ROLE)))
            conn.execute(sql.SQL("SELECT FROM {} LIMIT 1").format(sql.Identifier(table)))
            row_id = INSERTERS[table](conn, parents, "svc")
            seen = scalar(
                conn,
                sql.SQL("SELECT count(*) FROM {} WHERE id = %s").format(sql.Identifier(table)),
                (row_id,),
            )
    except psycopg.Error as exc:
        return CheckResult("service role reads and writes", target, False, _why(exc))
    if seen != 1:
        return CheckResult(
            "service role reads and writes",
            target,
            False,
            "inserted a row but could not read it back (RLS policy?)",
        )
    return CheckResult(
        "service role reads and writes",
        target,
        True,
        "SELECT and INSERT allowed; probe row read back",
    )


# -- 7. New tables are accessible ---------------------------------------------------------


def _check_new_tables(conn: Conn) -> Iterator[CheckResult]:
    user = str(scalar(conn, "SELECT current_user"))
    for table in NEW_TABLES:
        try:
            with _savepoint(conn):
                row_id = INSERTERS[table](conn, insert_parents(conn), "new")
                count = scalar(
                    conn,
                    sql.SQL("SELECT count(*) FROM {} WHERE id = %s").format(sql.Identifier(table)),
                    (row_id,),
                )
        except psycopg.Error as exc:
            yield CheckResult("new table accessible", table, False, _why(exc))
            continue
        yield CheckResult(
            "new table accessible", table, count == 1, f"as {user}: INSERT and SELECT work"
        )


# -- helpers ------------------------------------------------------------------------------


@contextmanager
def _savepoint(conn: Conn, *, keep: bool = False) -> Iterator[None]:
    """A savepoint that is rolled back on leaving (or kept, for rows later probes use)."""
    with conn.transaction(force_rollback=not keep):
        yield


def _role_exists(conn: Conn, role: str) -> bool:
    return bool(scalar(conn, "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = %s)", (role,)))


def _why(exc: psycopg.Error) -> str:
    message = exc.diag.message_primary or str(exc).strip()
    return f"{message} [{exc.diag.sqlstate}]"
