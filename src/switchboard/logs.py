"""How the service logs: set up once at start-up (configure_logging) by the commands that
serve or work, one JSON object a line or readable text, each line with the id of the request
being served (docs/operations.md)."""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import TextIO

from switchboard.request_ids import REQUEST_ID
from switchboard.settings import LogFormat, Settings

# What an access line adds to the usual fields (request_layer.py).
ACCESS_FIELDS = ("route", "method", "status", "duration_ms")


class WithRequestId(logging.Filter):
    """Stamps each record with the id of the request being served (None outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = REQUEST_ID.get()
        return True


class JsonLines(logging.Formatter):
    """One JSON object a line: time (UTC, ISO 8601), level, logger, message, request_id, the
    access fields where the line has them, and exception (the traceback) where it has one."""

    def __init__(self) -> None:
        super().__init__()
        self._second = -1
        self._second_text = ""

    def _time(self, record: logging.LogRecord) -> str:
        """UTC, ISO 8601 with milliseconds (logging's own, record.msecs); the part up to the
        second written once a second, which most lines of a busy second share."""
        second = int(record.created)
        if second != self._second:
            self._second_text = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = second
        return f"{self._second_text}.{int(record.msecs):03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": self._time(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for name in ACCESS_FIELDS:
            if name in record.__dict__:
                line[name] = record.__dict__[name]
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        return json.dumps(line, default=str)


class ReadableLines(logging.Formatter):
    """time level logger [request id, - outside a request] message"""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-7s %(name)s [%(request)s] %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        record.request = getattr(record, "request_id", None) or "-"
        return super().format(record)


def formatter(log_format: LogFormat) -> logging.Formatter:
    return JsonLines() if log_format == "json" else ReadableLines()


class _Handler(logging.StreamHandler[TextIO]):
    """The handler configure_logging installs, so that a second call replaces it."""


def log_handler(log_format: LogFormat, stream: TextIO) -> logging.Handler:
    """A handler writing to `stream` in `log_format`, each record with its request id."""
    handler = _Handler(stream)
    handler.setFormatter(formatter(log_format))
    handler.addFilter(WithRequestId())
    return handler


def configure_logging(settings: Settings) -> None:
    """Send every logger's records at INFO and above to stderr in the settings' format.
    Called by the commands that serve or work, and by each of serve's worker processes.

    No line of ours shows where it was logged from, nor the thread or the process; so the
    records are made without looking them up (the logging HOWTO's "Optimization"): finding
    the caller walks the stack, for every line, and with an access line a request that is
    the logging's largest cost."""
    logging._srcfile = None
    logging.logThreads = False
    logging.logProcesses = False
    logging.logMultiprocessing = False
    root = logging.getLogger()
    for handler in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(handler)
    root.addHandler(log_handler(settings.log_format_used, sys.stderr))
    root.setLevel(logging.INFO)
