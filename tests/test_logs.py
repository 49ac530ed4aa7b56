"""The log lines: JSON or text by environment, each with the id of the request it was written
for, set up once by configure_logging."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from switchboard.app import create_app_from_env
from switchboard.logs import JsonLines, configure_logging, log_handler
from switchboard.request_ids import REQUEST_ID
from switchboard.settings import Settings
from tests.conftest import MIGRATIONS_DIR
from tests.outbound.test_worker_command import environment, queue_otp, switchboard


def settings(**values: object) -> Settings:
    return Settings(SWITCHBOARD_MIGRATIONS_DIR=MIGRATIONS_DIR, **values)  # type: ignore[arg-type]


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    """The root logger, given back as it was."""
    logger = logging.getLogger()
    handlers, level = list(logger.handlers), logger.level
    looked_up = [getattr(logging, name) for name in _LOOKED_UP]
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)
    for name, value in zip(_LOOKED_UP, looked_up, strict=True):
        setattr(logging, name, value)


# What configure_logging stops each record from looking up.
_LOOKED_UP = ("_srcfile", "logThreads", "logProcesses", "logMultiprocessing")


def test_production_logs_json_with_access_lines_and_development_text_without() -> None:
    production = settings(SWITCHBOARD_ENV="production")
    development = settings(SWITCHBOARD_ENV="development")

    assert (production.log_format_used, production.access_log_on) == ("json", True)
    assert (development.log_format_used, development.access_log_on) == ("text", False)


def test_the_format_and_access_log_settings_override_the_environments_defaults() -> None:
    quiet = settings(
        SWITCHBOARD_ENV="production", SWITCHBOARD_LOG_FORMAT="text", SWITCHBOARD_ACCESS_LOG="false"
    )
    loud = settings(SWITCHBOARD_LOG_FORMAT="json", SWITCHBOARD_ACCESS_LOG="true")

    assert (quiet.log_format_used, quiet.access_log_on) == ("text", False)
    assert (loud.log_format_used, loud.access_log_on) == ("json", True)
    with pytest.raises(ValueError, match="SWITCHBOARD_LOG_FORMAT"):
        settings(SWITCHBOARD_LOG_FORMAT="xml")


def test_a_json_line_is_one_object_with_the_request_id(root: logging.Logger) -> None:
    out = io.StringIO()
    root.addHandler(log_handler("json", out))
    log = logging.getLogger("switchboard.test")

    token = REQUEST_ID.set("req-42")
    try:
        log.warning("refused %s", "this one")
    finally:
        REQUEST_ID.reset(token)
    log.warning("outside any request")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        log.exception("failed")

    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [
        (line["logger"], line["level"], line["message"], line["request_id"]) for line in lines
    ] == [
        ("switchboard.test", "WARNING", "refused this one", "req-42"),
        ("switchboard.test", "WARNING", "outside any request", None),
        ("switchboard.test", "ERROR", "failed", None),
    ]
    assert lines[0]["time"].endswith("+00:00")
    assert "RuntimeError: boom" in lines[2]["exception"]


def test_a_json_lines_time_is_the_records_in_utc_to_the_millisecond() -> None:
    formatter = JsonLines()
    for created in (1_765_123_456.0, 1_765_123_456.9996, 1_765_123_457.0421, 1_765_123_457.5):
        record = logging.LogRecord("switchboard.test", logging.INFO, "", 0, "m", None, None)
        record.created, record.msecs = created, (created - int(created)) * 1000

        shown = datetime.fromisoformat(json.loads(formatter.format(record))["time"])

        assert shown.tzinfo == UTC
        assert shown.microsecond % 1000 == 0
        assert 0 <= created - shown.timestamp() < 0.001


def test_a_text_line_names_the_request(root: logging.Logger) -> None:
    out = io.StringIO()
    root.addHandler(log_handler("text", out))

    token = REQUEST_ID.set("req-7")
    try:
        logging.getLogger("switchboard.test").warning("hello")
    finally:
        REQUEST_ID.reset(token)
    logging.getLogger("switchboard.test").warning("bye")

    first, second = out.getvalue().splitlines()
    assert first.endswith("WARNING switchboard.test [req-7] hello")
    assert second.endswith("WARNING switchboard.test [-] bye")


def test_configuring_twice_leaves_one_handler_of_ours(root: logging.Logger) -> None:
    before = list(root.handlers)

    configure_logging(settings(SWITCHBOARD_LOG_FORMAT="text"))
    configure_logging(settings(SWITCHBOARD_LOG_FORMAT="json"))

    added = [h for h in root.handlers if h not in before]
    assert [type(h.formatter) for h in added] == [JsonLines]
    assert root.level == logging.INFO


def test_each_worker_process_of_serve_sets_its_logging_up(
    root: logging.Logger, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name, value in {
        "DATABASE_URL": "postgresql://switchboard@127.0.0.1:1/none",  # not connected to here
        "SWITCHBOARD_DATA_DIR": str(tmp_path),
        "SWITCHBOARD_MIGRATIONS_DIR": str(MIGRATIONS_DIR),
        "SWITCHBOARD_LOG_FORMAT": "json",
    }.items():
        monkeypatch.setenv(name, value)
    before = list(root.handlers)

    create_app_from_env()

    assert [type(h.formatter) for h in root.handlers if h not in before] == [JsonLines]


def test_the_worker_command_logs_json_lines_when_told(migrated_db: str, tmp_path: Path) -> None:
    queue_otp(migrated_db, tmp_path)
    env = environment(tmp_path, migrated_db, SWITCHBOARD_LOG_FORMAT="json")

    result = switchboard("worker", "--burst", env=env)

    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stderr.splitlines()]
    assert {line["request_id"] for line in lines} == {None}  # no request is being served
    assert any(
        line["logger"].startswith("procrastinate")
        and "ended with status: Success" in line["message"]
        for line in lines
    )
