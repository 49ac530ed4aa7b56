"""Every test gets its own freshly created database on a real PostgreSQL.

The server is the embedded one (started once per test process, in a temporary folder), or
the server DATABASE_URL points at; either way each test creates and drops its own database,
so tests never see each other's rows and a run leaves nothing behind.

Fixtures build and inspect data as the owner of the tables (the URL they are given). The
service under test connects with `service_url(url)`: the same URL, or, with
SWITCHBOARD_TEST_ROLE=switchboard_app, as the login role a deployment serves with (CI runs
the end-to-end tests so), which may do only what migrations granted it.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection, sql

from switchboard.db import embedded_database_url
from switchboard.migrations.files import Migration, load_migrations
from switchboard.migrations.runner import MigrationRunner
from tests.private_postgres import PrivateServer, stop_embedded_server
from tests.providers.servers import SendGridServer, TwilioServer, serving

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
_counter = itertools.count()


def service_url(url: str) -> str:
    """`url` as the service under test connects: as SWITCHBOARD_TEST_ROLE when it is set
    (passwordless, as the test servers trust local connections)."""
    role = os.environ.get("SWITCHBOARD_TEST_ROLE")
    return psycopg.conninfo.make_conninfo(url, user=role) if role else url


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    """An admin connection URL to the server the tests create their databases on.

    The embedded server's folder is not under pytest's base folder: another pytest run on the
    machine prunes old base folders, and PostgreSQL shuts down once its data folder is gone."""
    if os.environ.get("DATABASE_URL"):
        yield os.environ["DATABASE_URL"]
        return
    data_dir = Path(tempfile.mkdtemp(prefix="switchboard-tests-pg-"))
    yield embedded_database_url(data_dir)
    stop_embedded_server(data_dir / "pgdata")
    shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def migrations() -> list[Migration]:
    return load_migrations(MIGRATIONS_DIR)


def _new_database(server_url: str, *, template: str | None = None) -> Iterator[str]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    name = f"sbtest_{os.getpid()}_{worker}_{next(_counter)}"
    create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        create += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(create)
    yield psycopg.conninfo.make_conninfo(server_url, dbname=name)
    with psycopg.connect(server_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture
def empty_db(server_url: str) -> Iterator[str]:
    """A new, empty database; dropped after the test."""
    yield from _new_database(server_url)


@pytest.fixture(scope="session")
def migrated_template(server_url: str, migrations: list[Migration]) -> Iterator[str]:
    """A database every migration was applied to by the runner, once per test process: the
    template each migrated_db is copied from (a copy takes a fraction of a migration's time).
    Tests of migrating itself start from empty_db or pre006_db instead."""
    for url in _new_database(server_url):
        MigrationRunner(url, migrations).upgrade()
        yield str(psycopg.conninfo.conninfo_to_dict(url)["dbname"])


@pytest.fixture
def runner_for(migrations: list[Migration]):  # type: ignore[no-untyped-def]
    def make(url: str, *, lock_wait_seconds: float = 60.0) -> MigrationRunner:
        return MigrationRunner(url, migrations, lock_wait_seconds=lock_wait_seconds)

    return make


@pytest.fixture
def migrated_db(server_url: str, migrated_template: str) -> Iterator[str]:
    """A new database at the latest migration (a copy of the migrated template)."""
    yield from _new_database(server_url, template=migrated_template)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # what the service runs on


@pytest.fixture
async def conn(migrated_db: str) -> AsyncIterator[AsyncConnection[Any]]:
    """An autocommit connection to the test's migrated database, as the service's pool
    hands them out (as SWITCHBOARD_TEST_ROLE, when set)."""
    url = service_url(migrated_db)
    async with await AsyncConnection.connect(url, autocommit=True) as connection:
        yield connection


@pytest.fixture
def pre006_db(empty_db: str, migrations: list[Migration]) -> str:
    """A database at 005: the legacy schema, no rows."""
    MigrationRunner(empty_db, migrations).upgrade("005")
    return empty_db


@pytest.fixture
def private_server(migrations: list[Migration]) -> Iterator[PrivateServer]:
    """A migrated PostgreSQL of the test's own (not the one other tests share), for tests that
    restart or stop it; stopped and deleted after the test. Its folder is not under pytest's
    base folder, which another pytest run starting on the machine makes private again."""
    folder = Path(tempfile.mkdtemp(prefix="switchboard-pg-"))
    server = PrivateServer(folder)
    try:
        MigrationRunner(server.url, migrations).upgrade()
        yield server
    finally:
        server.remove()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def twilio() -> Iterator[TwilioServer]:
    """Twilio's Messages API, as a local server (tests/providers/servers.py)."""
    with serving(TwilioServer()) as server:
        assert isinstance(server, TwilioServer)
        yield server


@pytest.fixture
def sendgrid() -> Iterator[SendGridServer]:
    """SendGrid's v3 Mail Send, as a local server."""
    with serving(SendGridServer()) as server:
        assert isinstance(server, SendGridServer)
        yield server
