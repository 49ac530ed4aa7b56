"""010: the queue's schema is exactly what the installed procrastinate creates itself, and its
rollback never drops a send still waiting."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from procrastinate import App, SyncPsycopgConnector
from psycopg import sql

from switchboard.errors import MigrationError
from switchboard.migrations.runner import MigrationRunner
from tests.builders import execute

Runner = Callable[..., MigrationRunner]

# Everything procrastinate's schema consists of, by kind, described by the catalog itself.
CATALOG = {
    "columns": "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,"
    " a.attidentity, pg_get_expr(d.adbin, d.adrelid) FROM pg_attribute AS a"
    " JOIN pg_class AS c ON c.oid = a.attrelid"
    " LEFT JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
    " WHERE c.relname LIKE 'procrastinate%' AND c.relkind IN ('r', 'c', 'S')"
    " AND a.attnum > 0 AND NOT a.attisdropped ORDER BY 1, 2",
    "relations": "SELECT relname, relkind FROM pg_class"
    " WHERE relname LIKE 'procrastinate%' OR relname LIKE 'idx_procrastinate%' ORDER BY 1",
    "constraints": "SELECT conrelid::regclass::text, conname, pg_get_constraintdef(oid)"
    " FROM pg_constraint WHERE conrelid::regclass::text LIKE 'procrastinate%' ORDER BY 1, 2",
    "indexes": "SELECT indexrelid::regclass::text, pg_get_indexdef(indexrelid) FROM pg_index"
    " WHERE indrelid::regclass::text LIKE 'procrastinate%' ORDER BY 1",
    "triggers": "SELECT tgrelid::regclass::text, tgname, pg_get_triggerdef(oid) FROM pg_trigger"
    " WHERE tgrelid::regclass::text LIKE 'procrastinate%' AND NOT tgisinternal ORDER BY 1, 2",
    "functions": "SELECT proname, pg_get_function_identity_arguments(oid),"
    " pg_get_functiondef(oid) FROM pg_proc WHERE proname LIKE 'procrastinate%' ORDER BY 1, 2",
    "enums": "SELECT t.typname, e.enumsortorder, e.enumlabel FROM pg_enum AS e"
    " JOIN pg_type AS t ON t.oid = e.enumtypid WHERE t.typname LIKE 'procrastinate%'"
    " ORDER BY 1, 2",
    "types": "SELECT typname, typtype FROM pg_type WHERE typname LIKE 'procrastinate%'"
    " OR typname LIKE '\\_procrastinate%' ORDER BY 1",
}


def catalog(url: str) -> dict[str, list[tuple[Any, ...]]]:
    return {kind: execute(url, query) for kind, query in CATALOG.items()}


@pytest.fixture
def other_db(server_url: str) -> Iterator[str]:
    name = f"sbtest_{os.getpid()}_{os.environ.get('PYTEST_XDIST_WORKER', 'main')}_procrastinate"
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield psycopg.conninfo.make_conninfo(server_url, dbname=name)
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def test_010_creates_exactly_the_schema_the_installed_procrastinate_creates(
    migrated_db: str, other_db: str
) -> None:
    app = App(connector=SyncPsycopgConnector(conninfo=other_db))
    with app.open():
        app.schema_manager.apply_schema()

    ours, theirs = catalog(migrated_db), catalog(other_db)

    assert all(theirs.values())  # the queries see procrastinate's objects at all
    for kind in CATALOG:
        assert ours[kind] == theirs[kind], (
            f"{kind} differ from procrastinate's own schema: a procrastinate upgrade needs a "
            "migration carrying its schema change"
        )


def test_the_queue_tables_are_closed_to_browser_roles(migrated_db: str) -> None:
    rows = execute(
        migrated_db,
        "SELECT relname::text, relrowsecurity,"
        " has_table_privilege('anon', oid, 'SELECT'),"
        " has_table_privilege('service_role', oid, 'INSERT')"
        " FROM pg_class WHERE relname IN ('procrastinate_jobs', 'cc_sandbox_outbox') ORDER BY 1",
    )

    assert rows == [
        ("cc_sandbox_outbox", True, False, True),
        ("procrastinate_jobs", True, False, True),
    ]


def test_rollback_refuses_while_a_send_waits_then_undoes_010_entirely(
    migrated_db: str, runner_for: Runner
) -> None:
    before = catalog(migrated_db)
    execute(
        migrated_db,
        "SELECT procrastinate_defer_jobs_v1(ARRAY[ROW('outbound', 'switchboard.outbound."
        "send_message', 0, NULL, NULL, '{}'::jsonb, NULL)]::procrastinate_job_to_defer_v1[])",
    )
    runner = runner_for(migrated_db)

    with pytest.raises(MigrationError, match="1 job"):
        runner.downgrade("009")
    execute(migrated_db, "DELETE FROM procrastinate_jobs")
    runner.downgrade("009")

    assert {kind: rows for kind, rows in catalog(migrated_db).items() if rows} == {}
    assert execute(migrated_db, "SELECT to_regclass('cc_sandbox_outbox')") == [(None,)]
    runner.upgrade()
    assert catalog(migrated_db) == before


def test_010_refuses_a_database_that_already_has_a_procrastinate_schema(
    empty_db: str, runner_for: Runner
) -> None:
    runner = runner_for(empty_db)
    runner.upgrade("009")
    execute(empty_db, "CREATE TABLE procrastinate_jobs (id bigint)")

    with pytest.raises(MigrationError, match="procrastinate schema already exists"):
        runner.upgrade()
