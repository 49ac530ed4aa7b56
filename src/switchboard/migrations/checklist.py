"""The specification's Testing Checklist, run against a live database.

Every probe runs inside one transaction that is rolled back at the end, so a run leaves no
row, no lock and no setting behind; each probe that is expected to fail runs under its own
savepoint so that the others go on.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from typing import Any

import psycopg
from psycopg import sql

from switchboard.db import Conn, connect
from switchboard.migrations.expected import (
    COLUMNS,
    INDEXES,
    NEW_TABLES,
    RENAMED_COLUMNS,
    RENAMED_TABLES,
    SERVICE_ROLE,
    TABLES,
    same_type,
)


@dataclass(frozen=True)
class CheckResult:
    check: str  # the checklist item
    target: str  # the table, index or role it looked at
    ok: bool
    evidence: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class _ProbeFailed(Exception):
    pass


def run_checklist(url: str) -> list[CheckResult]:
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
            if old and _relation_exists(conn, old):
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
            else f"all {len(expected)} present with the expected types"
            + (f" (+{extra} other)" if extra > 0 else ""),
        )


# -- 2. Indexes are created and functional ------------------------------------------------


def _check_indexes(conn: Conn) -> Iterator[CheckResult]:
    for index in INDEXES:
        rows = conn.execute(
            "SELECT c.relname::text, pg_get_indexdef(i.indexrelid), i.indisvalid, i.indisready,"
            "       i.indislive, i.indisunique"
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
        name, definition, valid, ready, live, unique = by_name[0]
        problems = [
            word
            for word, flag in (("INVALID", valid), ("not ready", ready), ("not live", live))
            if not flag
        ]
        if index.unique and not unique:
            problems.append("not unique")
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
    probes: dict[str, Callable[[Conn, _Parents], None]] = {
        "cc_messages (provider, provider_message_id)": lambda c, p: _insert_message(c, p, "dup"),
        "cc_identity_links (channel, address)": lambda c, p: _insert_identity_link(c, p, "dup"),
        "cc_auth_sessions (provider, provider_request_id)": (
            lambda c, p: _insert_auth_session(c, p, "dup")
        ),
    }
    for target, insert in probes.items():
        with _savepoint(conn):
            try:
                parents = _insert_parents(conn)
                insert(conn, parents)
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
                    insert(conn, parents)
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
            audit_id = _insert_audit(conn)
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
    user = str(_scalar(conn, "SELECT current_user"))
    roles = [user] + ([SERVICE_ROLE] if _role_exists(conn, SERVICE_ROLE) else [])
    for operation, (statement, params) in attempts.items():
        for role in roles:
            yield _expect_refusal(
                conn, operation=operation, role=role, user=user, statement=statement, params=params
            )
    triggers = conn.execute(
        "SELECT tgname::text, tgenabled::text FROM pg_trigger"
        " WHERE tgrelid = to_regclass('cc_audit_logs') AND NOT tgisinternal ORDER BY 1"
    ).fetchall()
    weak = [name for name, enabled in triggers if enabled != "A"]
    yield CheckResult(
        "audit triggers fire always",
        "cc_audit_logs",
        bool(triggers) and not weak,
        ", ".join(
            f"{n} ({'ALWAYS' if e == 'A' else 'ORIGIN' if e == 'O' else e})" for n, e in triggers
        )
        or "no triggers",
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
    target = f"cc_audit_logs as {role}"
    try:
        with _savepoint(conn):
            if role != user:
                conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(role)))
            cursor = conn.execute(statement.encode(), params)
            changed = cursor.rowcount
    except psycopg.Error as exc:
        return CheckResult(f"audit {operation} fails", target, True, f"refused: {_why(exc)}")
    return CheckResult(
        f"audit {operation} fails",
        target,
        False,
        f"{operation} succeeded ({changed} rows; rolled back)",
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
    if not _scalar(conn, "SELECT pg_has_role(current_user, %s, 'MEMBER')", (SERVICE_ROLE,)):
        yield CheckResult(
            "service role reads and writes",
            SERVICE_ROLE,
            False,
            "this connection's user cannot SET ROLE service_role; connect as a "
            "member (the migration owner) to run this check",
        )
        return
    with _savepoint(conn):
        try:
            parents = _insert_parents(conn)
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


def _probe_as_service_role(conn: Conn, table: str, parents: _Parents) -> CheckResult:
    target = f"{table} as {SERVICE_ROLE}"
    if table not in _INSERTERS or not _relation_exists(conn, table):
        return CheckResult(
            "service role reads and writes", target, False, f"table {table} does not exist"
        )
    try:
        with _savepoint(conn):
            conn.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(SERVICE_ROLE)))
            conn.execute(sql.SQL("SELECT FROM {} LIMIT 1").format(sql.Identifier(table)))
            _INSERTERS[table](conn, parents, "svc")
            seen = _scalar(
                conn,
                sql.SQL("SELECT count(*) FROM {} WHERE id = %s").format(sql.Identifier(table)),
                (parents.last_id,),
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
    user = str(_scalar(conn, "SELECT current_user"))
    for table in NEW_TABLES:
        try:
            with _savepoint(conn):
                parents = _insert_parents(conn)
                _INSERTERS[table](conn, parents, "new")
                count = _scalar(
                    conn,
                    sql.SQL("SELECT count(*) FROM {} WHERE id = %s").format(sql.Identifier(table)),
                    (parents.last_id,),
                )
        except psycopg.Error as exc:
            yield CheckResult("new table accessible", table, False, _why(exc))
            continue
        yield CheckResult(
            "new table accessible", table, count == 1, f"as {user}: INSERT and SELECT work"
        )


# -- probe rows ---------------------------------------------------------------------------


@dataclass
class _Parents:
    customer_id: uuid.UUID
    conversation_id: uuid.UUID
    case_id: uuid.UUID
    last_id: uuid.UUID | None = None


_PROBE = "switchboard-verify"


def _insert_parents(conn: Conn) -> _Parents:
    parents = _Parents(uuid.uuid4(), uuid.uuid4(), uuid.uuid4())
    _insert_customer(conn, parents, "")
    _insert_conversation(conn, parents, "")
    _insert_case(conn, parents, "")
    return parents


def _insert_customer(conn: Conn, p: _Parents, tag: str) -> None:
    row_id = p.customer_id if not tag else uuid.uuid4()
    conn.execute(
        "INSERT INTO cc_bank_customers (id, customer_ref) VALUES (%s, %s)",
        (row_id, f"{_PROBE}-{row_id}"),
    )
    p.last_id = row_id


def _insert_conversation(conn: Conn, p: _Parents, tag: str) -> None:
    row_id = p.conversation_id if not tag else uuid.uuid4()
    conn.execute(
        "INSERT INTO cc_conversations (id, bank_customer_id, channel, status)"
        " VALUES (%s, %s, 'sms', 'open')",
        (row_id, p.customer_id),
    )
    p.last_id = row_id


def _insert_case(conn: Conn, p: _Parents, tag: str) -> None:
    row_id = p.case_id if not tag else uuid.uuid4()
    conn.execute(
        "INSERT INTO cc_cases (id, bank_customer_id, case_type, status, priority, summary)"
        " VALUES (%s, %s, 'general', 'new', 'normal', %s)",
        (row_id, p.customer_id, _PROBE),
    )
    p.last_id = row_id


def _insert_message(conn: Conn, p: _Parents, tag: str) -> None:
    p.last_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO cc_messages (id, conversation_id, direction, provider,"
        " provider_message_id, status) VALUES (%s, %s, 'inbound', 'other', %s, 'received')",
        (p.last_id, p.conversation_id, f"{_PROBE}-{p.conversation_id}-{tag}"),
    )


def _insert_identity_link(conn: Conn, p: _Parents, tag: str) -> None:
    p.last_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO cc_identity_links (id, bank_customer_id, channel, address)"
        " VALUES (%s, %s, 'email', %s)",
        (p.last_id, p.customer_id, f"{tag}-{p.customer_id}@verify.invalid"),
    )


def _insert_auth_session(conn: Conn, p: _Parents, tag: str) -> None:
    p.last_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO cc_auth_sessions (id, bank_customer_id, conversation_id, status,"
        " expires_at, provider, provider_request_id)"
        " VALUES (%s, %s, %s, 'created', now() + interval '10 minutes', 'other', %s)",
        (p.last_id, p.customer_id, p.conversation_id, f"{_PROBE}-{p.customer_id}-{tag}"),
    )


def _insert_audit(conn: Conn) -> uuid.UUID:
    row_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO cc_audit_logs (id, actor_type, actor_id, event_type, event_version,"
        " success) VALUES (%s, 'system', %s, 'verify.probe', 1, true)",
        (row_id, _PROBE),
    )
    return row_id


def _insert_preferences(conn: Conn, p: _Parents, tag: str) -> None:
    p.last_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO cc_comm_preferences (id, bank_customer_id, do_not_contact)"
        " VALUES (%s, %s, false)",
        (p.last_id, p.customer_id),
    )


def _insert_assignment(conn: Conn, p: _Parents, tag: str) -> None:
    p.last_id = uuid.uuid4()
    conn.execute(
        "INSERT INTO cc_assignments (id, conversation_id, case_id, queue_name)"
        " VALUES (%s, %s, %s, %s)",
        (p.last_id, p.conversation_id, p.case_id, _PROBE),
    )


def _insert_audit_probe(conn: Conn, p: _Parents, tag: str) -> None:
    p.last_id = _insert_audit(conn)


_INSERTERS: dict[str, Callable[[Conn, _Parents, str], None]] = {
    "cc_bank_customers": _insert_customer,
    "cc_conversations": _insert_conversation,
    "cc_messages": _insert_message,
    "cc_cases": _insert_case,
    "cc_auth_sessions": _insert_auth_session,
    "cc_audit_logs": _insert_audit_probe,
    "cc_identity_links": _insert_identity_link,
    "cc_comm_preferences": _insert_preferences,
    "cc_assignments": _insert_assignment,
}


# -- helpers ------------------------------------------------------------------------------


@contextmanager
def _savepoint(conn: Conn, *, keep: bool = False) -> Iterator[None]:
    """A savepoint that is rolled back on leaving (or kept, for rows later probes use)."""
    with conn.transaction(force_rollback=not keep):
        yield


def _scalar(conn: Conn, query: str | sql.Composed, params: tuple[object, ...] = ()) -> object:
    statement: bytes | sql.Composed = query.encode() if isinstance(query, str) else query
    row = conn.execute(statement, params or None).fetchone()
    return None if row is None else row[0]


def _relation_exists(conn: Conn, name: str) -> bool:
    return bool(_scalar(conn, "SELECT to_regclass(%s) IS NOT NULL", (name,)))


def _role_exists(conn: Conn, role: str) -> bool:
    return bool(_scalar(conn, "SELECT EXISTS (SELECT FROM pg_roles WHERE rolname = %s)", (role,)))


def _why(exc: psycopg.Error) -> str:
    message = exc.diag.message_primary or str(exc).strip()
    return f"{message} [{exc.diag.sqlstate}]"
