"""The `switchboard` command as a person runs it: exit codes, output, errors without tracebacks."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psycopg

from switchboard.migrations.files import load_migrations
from switchboard.migrations.job_queue import JobQueueSql
from switchboard.migrations.script import full_script
from tests.builders import execute
from tests.conftest import MIGRATIONS_DIR

MIGRATIONS = load_migrations(MIGRATIONS_DIR)


def switchboard(
    *args: str,
    url: str | None,
    data_dir: Path | None = None,
    stdin: str | None = None,
    extra_env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["COLUMNS"] = "200"
    env |= extra_env or {}
    if url is not None:
        env["DATABASE_URL"] = url
    if data_dir is not None:
        env["SWITCHBOARD_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "switchboard.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        **({"stdin": subprocess.DEVNULL} if stdin is None else {"input": stdin}),
        timeout=120,
        check=False,
    )


def test_upgrade_status_and_verify_json(empty_db: str) -> None:
    upgraded = switchboard("db", "upgrade", url=empty_db)
    status = switchboard("db", "status", url=empty_db)
    verified = switchboard("db", "verify", "--json", url=empty_db)

    assert upgraded.returncode == 0, upgraded.stderr
    assert f"{len(MIGRATIONS)} migration(s) applied" in upgraded.stdout
    assert "applying 006_cc_step1_checklist" in upgraded.stderr
    assert status.returncode == 0
    assert "0 pending" in status.stdout
    assert verified.returncode == 0, verified.stdout
    report = json.loads(verified.stdout)
    assert report["ok"] is True
    for section in ("specification", "service"):
        assert report[section]["ok"] is True
        assert {"check", "target", "ok", "evidence"} <= report[section]["checks"][0].keys()


def test_verify_exits_non_zero_and_names_the_failing_row(migrated_db: str) -> None:
    execute(migrated_db, "DROP INDEX cc_cases_case_type_created_at_idx")

    verified = switchboard("db", "verify", url=migrated_db)

    assert verified.returncode == 1
    failing = [line for line in verified.stdout.splitlines() if "FAIL" in line]
    assert len(failing) == 1
    assert "cc_cases_case_type_created_at_idx" in failing[0]
    assert "1 failed" in verified.stdout


def test_an_unreachable_database_is_a_clear_error_not_a_traceback() -> None:
    result = switchboard("db", "status", url="postgresql://nobody@127.0.0.1:1/nowhere")

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "cannot connect to PostgreSQL" in result.stderr
    assert "hint:" in result.stderr


def test_duplicate_message_ids_are_listed_without_a_traceback(pre006_db: str) -> None:
    execute(pre006_db, "ALTER TABLE cc_messages ADD COLUMN provider text")
    conversation = execute(
        pre006_db, "INSERT INTO cc_conversations (channel) VALUES ('sms') RETURNING id"
    )[0][0]
    execute(
        pre006_db,
        "INSERT INTO cc_messages (conversation_id, direction, provider,"
        " provider_msg_id) VALUES (%s, 'inbound', 'twilio', 'SMX'),"
        " (%s, 'inbound', 'twilio', 'SMX')",
        (conversation, conversation),
    )

    result = switchboard("db", "upgrade", url=pre006_db)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "duplicate_message_ids" in result.stderr
    assert "provider=twilio provider_message_id=SMX (2 rows)" in result.stderr


def test_downgrade_without_a_terminal_asks_for_yes(migrated_db: str) -> None:
    refused = switchboard("db", "downgrade", "--to", "005", url=migrated_db)
    done = switchboard("db", "downgrade", "--to", "005", "--yes", url=migrated_db)

    assert refused.returncode == 1
    assert "pass --yes" in refused.stderr
    assert done.returncode == 0, done.stderr
    assert f"{len(MIGRATIONS) - 5} migration(s) rolled back" in done.stdout


def test_an_unknown_revision_lists_the_known_ones(migrated_db: str) -> None:
    result = switchboard("db", "upgrade", "--to", "042", url=migrated_db)

    assert result.returncode == 1
    assert "no migration '042'" in result.stderr
    assert ", ".join(m.id for m in MIGRATIONS) in result.stderr


def test_db_sql_prints_the_script_and_connects_to_nothing() -> None:
    # A database that does not exist: the command must not need one.
    printed = switchboard("db", "sql", url="postgresql://nobody@127.0.0.1:1/none")

    assert printed.returncode == 0, printed.stderr
    assert printed.stdout == full_script(MIGRATIONS, JobQueueSql.installed())


def test_db_shell_runs_psql_on_the_configured_database(migrated_db: str) -> None:
    database = psycopg.conninfo.conninfo_to_dict(migrated_db)["dbname"]

    piped = switchboard(
        "db",
        "shell",
        "-At",
        url=migrated_db,
        stdin="SELECT count(*) FROM switchboard_migrations WHERE id NOT LIKE '%/%';",
    )
    passed = switchboard(
        "db", "shell", "--", "-At", "-c", "SELECT current_database()", url=migrated_db
    )

    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.strip() == str(len(MIGRATIONS))
    assert passed.returncode == 0, passed.stderr
    assert passed.stdout.strip() == database


def test_db_shell_on_the_embedded_server_needs_nothing_installed(tmp_path: Path) -> None:
    upgraded = switchboard("db", "upgrade", url=None, data_dir=tmp_path)
    shell = switchboard(
        "db",
        "shell",
        "-At",
        url=None,
        data_dir=tmp_path,
        stdin="SELECT count(*) FROM cc_bank_customers;",
    )

    assert upgraded.returncode == 0, upgraded.stderr
    assert shell.returncode == 0, shell.stderr
    assert shell.stdout.strip() == "0"
    assert not (tmp_path / "pgdata" / "postmaster.pid").exists()  # stopped when psql ended


def test_the_embedded_server_keeps_its_data_between_runs(tmp_path: Path) -> None:
    first = switchboard("db", "upgrade", url=None, data_dir=tmp_path)
    second = switchboard("db", "status", url=None, data_dir=tmp_path)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert "0 pending" in second.stdout
    assert (tmp_path / "pgdata" / "PG_VERSION").exists()
    # Stopped cleanly when the command ended: no server left holding the data folder.
    assert not (tmp_path / "pgdata" / "postmaster.pid").exists()


def start_run(data_dir: Path, port: int, *, stdout: int) -> subprocess.Popen[str]:
    """`switchboard run` on the embedded server under `data_dir`, as `make run` starts it."""
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["SWITCHBOARD_DATA_DIR"] = str(data_dir)
    return subprocess.Popen(
        [sys.executable, "-m", "switchboard.cli", "run", "--port", str(port)],
        env=env,
        stdout=stdout,
        stderr=subprocess.DEVNULL,
        text=True,
    )


def test_run_serves_with_demo_data_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    with start_run(tmp_path, port, stdout=subprocess.PIPE) as process:
        assert process.stdout is not None
        lines = []
        for line in process.stdout:
            lines.append(line)
            if line.startswith("serving on"):
                break
        ready = wait_until_ready(f"http://127.0.0.1:{port}/readyz")
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0

    assert ready == {"status": "ready", "migrations": len(MIGRATIONS)}
    assert any("3 cc_bank_customers" in line for line in lines), lines
    # What the tables hold, not what was loaded: a second run reports the same line and more.
    assert any(line.startswith("demo data: in place; the database holds") for line in lines)
    assert not (tmp_path / "pgdata" / "postmaster.pid").exists()
    assert (tmp_path / "dev-secrets.json").stat().st_mode & 0o077 == 0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_ready(url: str, seconds: float = 30) -> object:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            response = httpx.get(url, timeout=1)
            if response.status_code == 200:
                return response.json()
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url} never became ready")


def held_port() -> socket.socket:
    """A port some other process listens on."""
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    return holder


def assert_port_in_use(result: subprocess.CompletedProcess[str], port: int) -> None:
    assert result.returncode == 1
    assert f"error (port_in_use): port {port} on 127.0.0.1 is in use" in result.stderr
    assert "hint: stop it" in result.stderr
    assert "Traceback" not in result.stderr
    assert "Errno" not in result.stderr
    assert "serving on" not in result.stdout


def test_run_on_a_busy_port_stops_before_starting_anything(tmp_path: Path) -> None:
    with held_port() as holder:
        port = holder.getsockname()[1]
        result = switchboard("run", "--port", str(port), url=None, data_dir=tmp_path)

    assert_port_in_use(result, port)
    assert "make run RUN_ARGS='--port 8001'" in result.stderr  # `make run` takes a port too
    assert not (tmp_path / "pgdata").exists()  # no embedded server was started for it


def test_serve_on_a_busy_port_is_one_clear_error(migrated_db: str, tmp_path: Path) -> None:
    with held_port() as holder:
        port = holder.getsockname()[1]
        one = switchboard("serve", "--port", str(port), url=migrated_db, data_dir=tmp_path)
        two = switchboard(
            "serve", "--port", str(port), "--workers", "2", url=migrated_db, data_dir=tmp_path
        )

    assert_port_in_use(one, port)
    assert_port_in_use(two, port)


def test_a_second_run_beside_a_running_one_fails_fast(tmp_path: Path) -> None:
    port = free_port()
    with start_run(tmp_path, port, stdout=subprocess.DEVNULL) as first:
        try:
            wait_until_ready(f"http://127.0.0.1:{port}/readyz")
            started = time.monotonic()
            second = switchboard("run", "--port", str(port), url=None, data_dir=tmp_path)
            took = time.monotonic() - started
            still_ready = wait_until_ready(f"http://127.0.0.1:{port}/readyz", seconds=5)
        finally:
            first.send_signal(signal.SIGTERM)
            first.wait(timeout=30)

    assert_port_in_use(second, port)
    assert took < 10
    assert still_ready == {"status": "ready", "migrations": len(MIGRATIONS)}


def test_an_unparsable_database_url_gets_a_hint_and_is_not_echoed() -> None:
    result = switchboard("db", "status", url="postgresql://app:my secret@db/contact")

    assert result.returncode == 1
    assert "error (configuration_error)" in result.stderr
    assert "DATABASE_URL" in result.stderr
    assert "hint: write it as postgresql://USER:PASSWORD@HOST:5432/DBNAME" in result.stderr
    assert "secret" not in result.stderr
    assert "Traceback" not in result.stderr


def test_production_without_database_url_refuses_to_start_the_embedded_server(
    tmp_path: Path,
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {"SWITCHBOARD_ENV": "production", "SWITCHBOARD_DATA_DIR": str(tmp_path)}

    commands = (["serve", "--port", str(free_port())], ["db", "status"])
    results = [
        subprocess.run(
            [sys.executable, "-m", "switchboard.cli", *command],
            capture_output=True,
            text=True,
            env=env,
            stdin=subprocess.DEVNULL,
            timeout=60,
            check=False,
        )
        for command in commands
    ]

    for result in results:
        assert result.returncode == 1
        assert "error (configuration_error): DATABASE_URL is not set" in result.stderr
        assert "hint: set DATABASE_URL" in result.stderr
    assert not (tmp_path / "pgdata").exists()


def test_serve_refuses_a_database_that_is_behind_when_told_not_to_migrate(
    pre006_db: str, tmp_path: Path
) -> None:
    result = switchboard("serve", "--no-migrate", url=pre006_db, data_dir=tmp_path)

    assert result.returncode == 1
    assert "database_behind" in result.stderr
    assert "006_cc_step1_checklist" in result.stderr
    assert "Traceback" not in result.stderr


def test_production_start_up_names_each_missing_secret_and_its_webhook_answers_503(
    migrated_db: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO", "SENDGRID", "VAPI"))}
    env |= {
        "DATABASE_URL": migrated_db,
        "SWITCHBOARD_ENV": "production",
        "SWITCHBOARD_DATA_DIR": str(tmp_path),
        "VAPI_SECRET": "configured",
    }
    port = free_port()
    with subprocess.Popen(
        [sys.executable, "-m", "switchboard.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stderr is not None
        warnings = []
        as_owner = local_url = False
        for line in process.stderr:
            if "is not set" in line:
                warnings.append(line.split()[1])
            as_owner = as_owner or "may act as the owner of the tables" in line
            local_url = local_url or "SWITCHBOARD_PUBLIC_URL is http://127.0.0.1:8000" in line
            if "Uvicorn running" in line or "Application startup complete" in line:
                break
        wait_until_ready(f"http://127.0.0.1:{port}/healthz")
        readiness = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=5)
        response = httpx.post(
            f"http://127.0.0.1:{port}/webhooks/twilio/messages",
            data={"MessageSid": "SM1"},
            timeout=5,
        )
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)

    assert as_owner  # the tests' databases belong to the server's superuser
    assert local_url  # the default, which no provider can call
    assert warnings == [
        "TWILIO_AUTH_TOKEN",
        "SENDGRID_EVENT_PUBLIC_KEY",
        "SENDGRID_INBOUND_SECRET",
        "SWITCHBOARD_SECRET_KEY",
    ]
    assert response.status_code == 503
    assert response.json()["error"] == "secret_not_configured"
    assert readiness.status_code == 503
    assert readiness.json() == {
        "error": "secret_not_configured",
        "detail": "settings not set: TWILIO_AUTH_TOKEN, SENDGRID_EVENT_PUBLIC_KEY,"
        " SENDGRID_INBOUND_SECRET, SWITCHBOARD_SECRET_KEY",
    }
    assert not (tmp_path / "dev-secrets.json").exists()


def test_run_refuses_production_before_it_migrates_or_loads_demo_customers(
    empty_db: str, tmp_path: Path
) -> None:
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env |= {
        "DATABASE_URL": empty_db,
        "SWITCHBOARD_ENV": "production",
        "SWITCHBOARD_DATA_DIR": str(tmp_path),
    }
    result = subprocess.run(
        [sys.executable, "-m", "switchboard.cli", "run", "--port", str(free_port())],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )

    assert result.returncode == 1
    assert "error (configuration_error)" in result.stderr
    assert "hint: run `switchboard serve` and `switchboard worker`" in result.stderr
    assert "Traceback" not in result.stderr
    assert "demo data" not in result.stdout
    with psycopg.connect(empty_db) as conn:  # neither migrated nor given made-up customers
        assert conn.execute("SELECT to_regclass('cc_bank_customers')").fetchone() == (None,)


def test_the_serving_line_names_the_api_docs_only_where_they_are_served() -> None:
    from switchboard.cli import serving_line  # noqa: PLC0415
    from switchboard.settings import Settings  # noqa: PLC0415

    development = Settings(SWITCHBOARD_ENV="development")
    production = Settings(SWITCHBOARD_ENV="production")

    assert "API docs at /docs" in serving_line(development, "127.0.0.1", 8000)
    assert "/docs" not in serving_line(production, "127.0.0.1", 8000)
    assert serving_line(production, "127.0.0.1", 8000).startswith(
        "serving on http://127.0.0.1:8000"
    )


def test_a_port_out_of_range_is_a_usage_error_not_a_traceback(tmp_path: Path) -> None:
    for command in ("serve", "run"):
        for port in ("99999", "-1", "0"):
            result = switchboard(command, "--port", port, url=None, data_dir=tmp_path)

            assert result.returncode == 2, (command, port, result.stderr)
            assert "Traceback" not in result.stderr
            assert "Invalid value for '--port'" in result.stderr
    assert not (tmp_path / "pgdata").exists()


def test_simulate_checks_where_its_json_goes_before_it_sends_anything(tmp_path: Path) -> None:
    nowhere = tmp_path / "missing-folder" / "summary.json"

    result = switchboard(
        "simulate",
        "--url",
        f"http://127.0.0.1:{free_port()}",
        "--duration",
        "1",
        "--json",
        str(nowhere),
        url=None,
        data_dir=tmp_path,
    )

    assert result.returncode == 1
    assert f"error (configuration_error): cannot write {nowhere}" in result.stderr
    assert "Traceback" not in result.stderr
    assert "sending" not in result.stdout


def test_an_embedded_server_without_its_database_says_to_start_afresh(tmp_path: Path) -> None:
    """What a Ctrl-C during the very first start can leave: initdb stopped before it made
    the `postgres` database. DATABASE_URL is not set, so the hint must not be about it."""
    socket_dir = (tmp_path / "pgdata").resolve()
    dropped = switchboard(
        "db",
        "shell",
        "--",
        "-d",
        f"dbname=template1 user=postgres host={socket_dir}",
        "-c",
        "DROP DATABASE postgres",
        url=None,
        data_dir=tmp_path,
    )
    assert dropped.returncode == 0, dropped.stderr

    result = switchboard("db", "status", url=None, data_dir=tmp_path)

    assert result.returncode == 1
    assert "error (database_unavailable)" in result.stderr
    assert f"remove {tmp_path / 'pgdata'}" in result.stderr
    assert "check DATABASE_URL" not in result.stderr
    assert "Traceback" not in result.stderr
