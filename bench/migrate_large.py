"""How long migration 006 takes on a large pre-006 database, and how much it stalls a writer.

What it measures, in one run on one server:

1. A pre-006 database: migrations 001-005, then (by default) 1,000,000 messages, 100,000
   conversations, 200,000 audit records and 50,000 cases, with the customers, one-time-code
   sessions and contact preferences they refer to, in the legacy column names and status
   values, loaded with COPY and then VACUUM ANALYZE'd. A copy of it is taken right away
   (CREATE DATABASE ... TEMPLATE) for step 3.
2. 006 applied with the project's MigrationRunner while another process inserts messages
   without pause, one short autocommit transaction per insert, into the columns that exist
   both before and after 006. Reported: how long 006 took, how many inserts the writer made
   meanwhile, their p99 latency and the longest stall (the slowest single insert).
3. The floor, on the copy. Whatever else 006 does, it must build its indexes, and a build that
   lets writers go on must be CREATE INDEX CONCURRENTLY; so the floor is the time those very
   statements take on the same data with the same writer. Those statements need the columns
   and tables 006 adds, so the copy is taken through 006 once (untimed), the indexes and
   unique constraints 006 built are dropped, the database is VACUUM ANALYZE'd, and the
   CREATE INDEX CONCURRENTLY statements parsed out of the 006 file are timed again, with the
   writer running. The ratio 006 / floor is then what the rest of 006 (preflight, renames,
   new columns and tables, constraint validation, triggers, row level security) and its
   guards cost on top of work that cannot be avoided. Plain CREATE INDEX, with no writer,
   is timed as well: the cost of building without blocking writers, for reference.

Targets: ratio <= 1.5, and the longest stall of the writer during 006 under 1 s.

The server is the one DATABASE_URL points at (a fresh database is created on it and dropped at
the end), otherwise an embedded PostgreSQL in a temporary folder. Run it as
`.venv/bin/python bench/migrate_large.py` (`--help` for the sizes); the figures are printed,
and written as JSON with `--json PATH`. The exit status is 0 whether the targets pass or not:
timings are figures to read, not assertions.
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import multiprocessing
import os
import random
import re
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from multiprocessing.connection import Connection as Pipe
from multiprocessing.synchronize import Event
from pathlib import Path
from typing import Any

import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from bench_support import scratch_database, server
from switchboard.db import Conn
from switchboard.migrations.files import Migration, SqlScript, Statement, find, load_migrations
from switchboard.migrations.runner import MigrationRunner

MIGRATIONS_DIR = Path(__file__).resolve().parents[1] / "migrations"
TARGET_RATIO = 1.5
TARGET_STALL_SECONDS = 1.0
# cc_preferences before 006, cc_comm_preferences after.
COUNTED_TABLES = (
    "cc_bank_customers",
    "cc_conversations",
    "cc_messages",
    "cc_cases",
    "cc_auth_sessions",
    "cc_audit_logs",
    "cc_preferences",
    "cc_comm_preferences",
)

# Every statement of 006 that builds an index without blocking writers.
_INDEX_BUILD = re.compile(
    r"^CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?(?P<name>\w+)"
    r"\s+ON\s+(?:ONLY\s+)?(?P<table>\w+)",
    re.IGNORECASE,
)
_CONCURRENTLY = re.compile(r"\bCONCURRENTLY\s+", re.IGNORECASE)

# Rows are dated over two years from this instant.
_EPOCH = datetime(2024, 1, 1, tzinfo=UTC).timestamp()
_SPAN_SECONDS = 2 * 365 * 86_400
_COPY_BATCH_ROWS = 5_000

# Legacy (pre-006) values, repeated to weigh them the way a real contact center would.
_CHANNELS = ("sms", "sms", "email", "voice", "whatsapp", "chat")
_CONVERSATION_STATUSES = ("active", "active", "closed", "closed", "closed", "closed", "archived")
_DIRECTIONS = ("inbound", "outbound")
_CASE_TYPES = ("card", "card", "payment", "payment", "account", "general", "fraud")
_CASE_STATUSES = ("open", "in_progress", "resolved", "resolved")
_PRIORITIES = ("low", "normal", "normal", "normal", "high", "urgent")
_SESSION_STATUSES = ("pending", "verified", "verified", "failed", "expired")
_ACTORS = ("agent", "agent", "system", "customer")
_ACTIONS = (
    "conversation.viewed",
    "message.sent",
    "message.received",
    "case.opened",
    "case.updated",
    "customer.verified",
)
_PHRASES = (
    "Hi, I can't log in to the app since this morning",
    "My card was declined at the supermarket although there is money on the account",
    "Please cancel the standing order to my landlord",
    "Thanks, that worked!",
    "I don't recognise a payment of 49.99 from yesterday, can you check it?",
    "When will the replacement card arrive? I am travelling next week and need it",
    "ok",
    "Could you send me the statement for March as a PDF to my email address please",
)


# -- sizes and data ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizes:
    customers: int
    conversations: int
    messages: int
    cases: int
    audit: int
    auth_sessions: int
    preferences: int


def _random_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(_EPOCH + int(seconds), UTC).isoformat(" ")


def _spread(rng: random.Random, n: int, count: int) -> str:
    """A time that grows with n (rows arrive in time order), give or take an hour."""
    return _stamp(n * _SPAN_SECONDS / max(count, 1) + rng.randrange(3_600))


def _copy(conn: Conn, table: str, columns: Sequence[str], lines: Iterable[str]) -> None:
    """Stream COPY text-format lines (tab-separated, \\N for NULL) into `table`."""
    statement = sql.SQL("COPY {} ({}) FROM STDIN").format(
        sql.Identifier(table), sql.SQL(", ").join(map(sql.Identifier, columns))
    )
    rows = iter(lines)
    with conn.cursor() as cur, cur.copy(statement) as copy:
        while batch := "".join(itertools.islice(rows, _COPY_BATCH_ROWS)):
            copy.write(batch)


def load_legacy_rows(url: str, sizes: Sizes, seed: int) -> list[str]:
    """Fill a database at 005 with legacy rows; returns the conversation ids."""
    rng = random.Random(seed)
    customers = [_random_uuid(rng) for _ in range(sizes.customers)]
    conversations = [_random_uuid(rng) for _ in range(sizes.conversations)]
    cases = [_random_uuid(rng) for _ in range(sizes.cases)]

    def customer_lines() -> Iterator[str]:
        for n, customer in enumerate(customers):
            yield (
                f"{customer}\tC{n:08d}\tCustomer Zoë Ñúñez {n}\tc{n}@example.com"
                f"\t+44770{n:08d}\t{_spread(rng, n, len(customers))}\n"
            )

    def conversation_lines() -> Iterator[str]:
        for n, conversation in enumerate(conversations):
            yield (
                f"{conversation}\t{rng.choice(customers)}\t{rng.choice(_CHANNELS)}"
                f"\t{rng.choice(_CONVERSATION_STATUSES)}\t{_spread(rng, n, len(conversations))}\n"
            )

    def message_lines() -> Iterator[str]:
        for n in range(sizes.messages):
            provider_msg_id = r"\N" if n % 10 == 9 else f"SM{rng.getrandbits(128):032x}"
            yield (
                f"{rng.choice(conversations)}\t{rng.choice(_DIRECTIONS)}\t{provider_msg_id}"
                f"\t{rng.choice(_PHRASES)} (#{n})\t{_spread(rng, n, sizes.messages)}\n"
            )

    def case_lines() -> Iterator[str]:
        for n, case in enumerate(cases):
            status = rng.choice(_CASE_STATUSES)
            created = n * _SPAN_SECONDS / len(cases)
            resolved_at = _stamp(created + 86_400) if status == "resolved" else r"\N"
            yield (
                f"{case}\t{rng.choice(customers)}\t{rng.choice(_CASE_TYPES)}\t{status}"
                f"\t{rng.choice(_PRIORITIES)}\t{rng.choice(_PHRASES)}\t{resolved_at}"
                f"\t{_stamp(created)}\n"
            )

    def audit_lines() -> Iterator[str]:
        for n in range(sizes.audit):
            conversation = r"\N" if n % 20 == 19 else rng.choice(conversations)
            payload = json.dumps({"n": n, "channel": rng.choice(_CHANNELS)})
            yield (
                f"{conversation}\t{rng.choice(_ACTORS)}\t{rng.choice(_ACTIONS)}\t{payload}"
                f"\t{_spread(rng, n, sizes.audit)}\n"
            )

    def session_lines() -> Iterator[str]:
        for n in range(sizes.auth_sessions):
            created = n * _SPAN_SECONDS / max(sizes.auth_sessions, 1)
            conversation = rng.choice(conversations) if n % 2 else r"\N"
            yield (
                f"{rng.choice(customers)}\t{conversation}\t{rng.choice(_SESSION_STATUSES)}"
                f"\t{_stamp(created + 600)}\t{_stamp(created)}\n"
            )

    def preference_lines() -> Iterator[str]:
        for customer in customers[: sizes.preferences]:
            yield f"{customer}\t{'t' if rng.random() < 0.1 else 'f'}\n"

    tables: list[tuple[str, tuple[str, ...], Iterator[str]]] = [
        ("cc_bank_customers", ("id", "customer_ref", "full_name", "email", "phone", "created_at"),
         customer_lines()),
        ("cc_conversations", ("id", "bank_customer_id", "channel", "status", "created_at"),
         conversation_lines()),
        ("cc_messages", ("conversation_id", "direction", "provider_msg_id", "text", "created_at"),
         message_lines()),
        ("cc_cases", ("id", "bank_customer_id", "case_type", "status", "priority", "description",
                      "resolved_at", "created_at"), case_lines()),
        ("cc_audit_logs", ("conversation_id", "actor", "action", "payload_redacted",
                           "created_at"), audit_lines()),
        ("cc_auth_sessions", ("bank_customer_id", "conversation_id", "status", "expires_at",
                              "created_at"), session_lines()),
        ("cc_preferences", ("bank_customer_id", "do_not_contact"), preference_lines()),
    ]  # fmt: skip
    with psycopg.connect(url, autocommit=True) as conn:
        for table, columns, lines in tables:
            started = time.perf_counter()
            _copy(conn, table, columns, lines)
            say(f"  COPY {table}: {time.perf_counter() - started:.1f} s")
    return conversations


# -- databases -------------------------------------------------------------------------------


def run(url: str, *statements: str | sql.Composed) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement.encode() if isinstance(statement, str) else statement)


def checkpoint(url: str) -> None:
    """Flush dirty pages now, so that a checkpoint does not land in the middle of a timing."""
    # A role without pg_checkpoint: the timings are a little noisier, that is all.
    with suppress(pg_errors.InsufficientPrivilege):
        run(url, "CHECKPOINT")


def scalar(url: str, query: str) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query.encode()).fetchone()
    return None if row is None else row[0]


def row_counts(url: str) -> dict[str, int]:
    counts: dict[str, int] = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for table in COUNTED_TABLES:
            exists = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (table,)).fetchone()
            if exists and exists[0]:
                query = sql.SQL("SELECT count(*) FROM {}").format(sql.Identifier(table))
                counts[table] = int(conn.execute(query).fetchone()[0])  # type: ignore[index]
    return counts


# -- the writer --------------------------------------------------------------------------------


@dataclass(frozen=True)
class WriterSamples:
    samples: list[tuple[float, float]]  # (wall-clock start, seconds) of every insert
    errors: int
    first_error: str | None


def _write_messages(
    url: str, conversation_ids: list[str], ready: Event, stop: Event, results: Pipe
) -> None:
    """The writer process: insert messages until told to stop, timing every insert."""
    rng = random.Random()
    samples: list[tuple[float, float]] = []
    errors = 0
    first_error: str | None = None
    insert = b"INSERT INTO cc_messages (conversation_id, direction) VALUES (%s, %s)"
    with psycopg.connect(url, autocommit=True, application_name="sb_bench_writer") as conn:
        while not stop.is_set():
            started_at = time.time()
            started = time.perf_counter()
            try:
                conn.execute(insert, (rng.choice(conversation_ids), rng.choice(_DIRECTIONS)))
            except psycopg.Error as exc:
                errors += 1
                first_error = first_error or str(exc).strip()
                if conn.closed:
                    break
            samples.append((started_at, time.perf_counter() - started))
            ready.set()
    results.send(WriterSamples(samples, errors, first_error))
    results.close()


@contextmanager
def writer_running(url: str, conversation_ids: list[str]) -> Iterator[Callable[[], WriterSamples]]:
    """Start the writer process; yields the function that stops it and returns its samples."""
    context = multiprocessing.get_context("spawn")
    ready, stop = context.Event(), context.Event()
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(
        target=_write_messages,
        args=(url, conversation_ids[:1_000], ready, stop, sending),
        name="sb-bench-writer",
        daemon=True,
    )
    process.start()
    sending.close()

    def finish() -> WriterSamples:
        stop.set()
        while not receiving.poll(0.2):
            if not process.is_alive():
                raise RuntimeError("the writer process died; see its traceback above")
        samples: WriterSamples = receiving.recv()
        return samples

    try:
        while not ready.wait(0.2):
            if not process.is_alive():
                raise RuntimeError("the writer process died before its first insert")
        yield finish
    finally:
        stop.set()
        process.join(30)
        if process.is_alive():
            process.terminate()
            process.join()


@dataclass(frozen=True)
class WriterReport:
    inserts: int
    errors: int
    first_error: str | None
    longest_stall_s: float
    p99_s: float
    median_s: float
    inserts_per_s: float
    longest_stall_at: float  # wall clock


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


def writer_report(result: WriterSamples, start: float, end: float) -> WriterReport:
    """The inserts that started between `start` and `end` (wall clock)."""
    window = [(at, seconds) for at, seconds in result.samples if start <= at <= end]
    ordered = sorted(seconds for _, seconds in window)
    slowest = max(window, key=lambda sample: sample[1], default=(start, 0.0))
    return WriterReport(
        inserts=len(window),
        errors=result.errors,
        first_error=result.first_error,
        longest_stall_s=slowest[1],
        p99_s=_percentile(ordered, 0.99),
        median_s=_percentile(ordered, 0.5),
        inserts_per_s=len(window) / max(end - start, 1e-9),
        longest_stall_at=slowest[0],
    )


# -- 006, statement by statement ---------------------------------------------------------------


@dataclass(frozen=True)
class StatementTiming:
    line: int
    what: str
    started_at: float  # wall clock
    seconds: float


def describe(statement_sql: str) -> str:
    """One line that says what a statement does (for a DO block, its first line of work)."""
    lines = [line.strip() for line in _code(statement_sql).splitlines() if line.strip()]
    what = lines[0]
    if what.upper().startswith("DO"):
        body = [line for line in lines[1:] if line.upper() not in {"BEGIN", "DECLARE"}]
        body = [line for line in body if not re.match(r"^\w+ [\w.\[\]]+( :=.*)?;$", line)]
        what = f"{what} {body[0]}" if body else what
    return what if len(what) <= 90 else what[:87] + "..."


def _code(statement_sql: str) -> str:
    return "\n".join(
        line for line in statement_sql.splitlines() if not line.lstrip().startswith("--")
    ).strip()


class StatementTimer:
    """Collects, through the runner's statement hook, how long each statement of 006 took and
    which ones gave up on a lock (lock_timeout) and were tried again."""

    def __init__(self) -> None:
        self.timings: list[StatementTiming] = []
        self.lock_retries: list[int] = []  # the line of the statement, once per retry

    def __call__(
        self, script: SqlScript, statement: Statement, seconds: float, attempts: int
    ) -> None:
        del script
        self.lock_retries.extend([statement.line] * (attempts - 1))
        self.timings.append(
            StatementTiming(statement.line, describe(statement.sql), time.time() - seconds, seconds)
        )


# -- the floor ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class IndexBuild:
    name: str
    table: str
    sql: str  # CREATE [UNIQUE] INDEX CONCURRENTLY ..., as 006 has it
    line: int

    @property
    def plain_sql(self) -> str:
        return _CONCURRENTLY.sub("", self.sql, count=1)


def index_builds(migration: Migration) -> list[IndexBuild]:
    builds = []
    for statement in migration.apply.statements:
        code = _code(statement.sql)
        if match := _INDEX_BUILD.match(code):
            builds.append(IndexBuild(match["name"], match["table"], code, statement.line))
    return builds


def drop_built_indexes(url: str, builds: Sequence[IndexBuild]) -> None:
    """Drop what the builds made: a unique constraint 006 made of an index goes with it."""
    with psycopg.connect(url, autocommit=True) as conn:
        for build in builds:
            found = conn.execute(
                "SELECT EXISTS (SELECT FROM pg_constraint"
                " WHERE conrelid = to_regclass(%s) AND conname = %s)",
                (build.table, build.name),
            ).fetchone()
            if found and found[0]:
                conn.execute(
                    sql.SQL("ALTER TABLE {} DROP CONSTRAINT {}").format(
                        sql.Identifier(build.table), sql.Identifier(build.name)
                    )
                )
            else:
                conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(build.name)))


def time_builds(url: str, statements: Sequence[str]) -> list[float]:
    seconds = []
    with psycopg.connect(url, autocommit=True) as conn:
        for statement in statements:
            started = time.perf_counter()
            conn.execute(statement.encode(), prepare=False)
            seconds.append(time.perf_counter() - started)
    return seconds


# -- the benchmark -----------------------------------------------------------------------------


def say(line: str = "") -> None:
    print(line, flush=True)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _retries(lines: Sequence[int]) -> str:
    """How many times a statement gave up on a lock and was tried again, by line."""
    if not lines:
        return "none"
    per_line = ", ".join(f"line {line} x{lines.count(line)}" for line in sorted(set(lines)))
    return f"{len(lines)} ({per_line})"


def bench(sizes: Sizes, seed: int) -> dict[str, Any]:
    migrations = load_migrations(MIGRATIONS_DIR)
    builds = index_builds(find(migrations, "006"))
    name = f"sb_bench_{os.getpid()}"
    figures: dict[str, Any] = {"sizes": asdict(sizes)}

    with server() as (admin_url, where):
        settings = {
            setting: scalar(admin_url, f"SHOW {setting}")
            for setting in ("server_version", "shared_buffers", "maintenance_work_mem",
                            "max_parallel_maintenance_workers", "synchronous_commit")
        }  # fmt: skip
        figures |= {"server": where, "settings": settings}
        say(f"PostgreSQL {settings['server_version']} ({where})")
        say("  " + ", ".join(f"{key} = {value}" for key, value in settings.items()))

        with scratch_database(admin_url, name) as url:
            say(f"building the pre-006 database {name} ...")
            started = time.perf_counter()
            MigrationRunner(url, migrations).upgrade("005")
            conversation_ids = load_legacy_rows(url, sizes, seed)
            run(url, "VACUUM ANALYZE")
            figures["load_s"] = time.perf_counter() - started
            counts = row_counts(url)
            figures["rows_before_006"] = counts
            say(f"  loaded and VACUUM ANALYZE'd in {figures['load_s']:.1f} s:")
            for table, count in counts.items():
                say(f"    {table:<20} {count:>10,}")

            with scratch_database(admin_url, f"{name}_floor", template=name) as floor_url:
                say(f"  copied to {name}_floor for the floor")

                # -- 006, with the writer --------------------------------------------------
                say("applying 006 with the writer running ...")
                checkpoint(url)
                timer = StatementTimer()
                runner = MigrationRunner(
                    url, migrations, report=lambda line: say(f"  {line}"), on_statement=timer
                )
                with writer_running(url, conversation_ids) as stop_writer:
                    start = time.time()
                    started = time.perf_counter()
                    runner.upgrade("006")
                    duration = time.perf_counter() - started
                    end = time.time()
                    writer_006 = writer_report(stop_writer(), start, end)
                figures["rows_after_006"] = row_counts(url)

                # -- the floor, on the copy ------------------------------------------------
                say("floor: taking the copy through 006 (untimed), dropping its indexes ...")
                MigrationRunner(floor_url, migrations).upgrade("006")
                drop_built_indexes(floor_url, builds)
                run(floor_url, "VACUUM ANALYZE")
                checkpoint(floor_url)
                say(f"floor: {len(builds)} CREATE INDEX CONCURRENTLY, with the writer running ...")
                with writer_running(floor_url, conversation_ids) as stop_writer:
                    start = time.time()
                    floor_cic = time_builds(floor_url, [build.sql for build in builds])
                    end = time.time()
                    writer_floor = writer_report(stop_writer(), start, end)
                say(f"floor: {len(builds)} plain CREATE INDEX, no writer ...")
                drop_built_indexes(floor_url, builds)
                run(floor_url, "VACUUM ANALYZE")
                checkpoint(floor_url)
                floor_plain = time_builds(floor_url, [build.plain_sql for build in builds])

    index_lines = {build.line for build in builds}
    in_006 = {t.line: t.seconds for t in timer.timings if t.line in index_lines}
    ratio = duration / sum(floor_cic)
    figures |= {
        "migration_006_s": duration,
        "migration_006_index_builds_s": sum(in_006.values()),
        "migration_006_other_s": duration - sum(in_006.values()),
        "floor_cic_with_writer_s": sum(floor_cic),
        "floor_plain_create_index_s": sum(floor_plain),
        "ratio_006_to_cic_floor": ratio,
        "lock_retries_006": timer.lock_retries,
        "writer_during_006": asdict(writer_006),
        "writer_during_floor_cic": asdict(writer_floor),
        "targets": {
            "ratio_max": TARGET_RATIO,
            "ratio_pass": ratio <= TARGET_RATIO,
            "longest_stall_max_s": TARGET_STALL_SECONDS,
            "longest_stall_pass": writer_006.longest_stall_s < TARGET_STALL_SECONDS,
        },
        "statements_006": [asdict(t) for t in timer.timings],
        "index_builds": [
            {
                "index": build.name,
                "line": build.line,
                "in_006_s": in_006.get(build.line),
                "floor_cic_s": cic,
                "floor_plain_s": plain,
            }
            for build, cic, plain in zip(builds, floor_cic, floor_plain, strict=True)
        ],
    }
    print_summary(figures, timer.timings, writer_006)
    return figures


def print_summary(
    figures: dict[str, Any], timings: Sequence[StatementTiming], writer_006: WriterReport
) -> None:
    targets = figures["targets"]
    writer_floor = figures["writer_during_floor_cic"]
    say()
    say("rows after 006 (cc_messages includes the writer's inserts):")
    for table, count in figures["rows_after_006"].items():
        say(f"  {table:<20} {count:>10,}")
    say()
    say("slowest statements of 006:")
    for timing in sorted(timings, key=lambda t: t.seconds, reverse=True)[:12]:
        say(f"  {timing.seconds:8.2f} s  line {timing.line:>4}  {timing.what}")
    say()
    say("index builds:            in 006   floor CIC   floor plain")
    for build in figures["index_builds"]:
        in_006 = "-" if build["in_006_s"] is None else f"{build['in_006_s']:.2f}"
        say(
            f"  {build['index'][:44]:<44} {in_006:>6} s {build['floor_cic_s']:>8.2f} s"
            f" {build['floor_plain_s']:>9.2f} s"
        )
    stall_end = writer_006.longest_stall_at + writer_006.longest_stall_s
    during = [
        t
        for t in timings
        if t.started_at < stall_end and t.started_at + t.seconds > writer_006.longest_stall_at
    ]
    before = ", ".join(
        f"{table.removeprefix('cc_')} {count:,}"
        for table, count in figures["rows_before_006"].items()
    )
    ratio = figures["ratio_006_to_cic_floor"]
    lines = [
        ("PostgreSQL", f"{figures['settings']['server_version']}; rows before 006: {before}"),
        (
            "006 duration",
            f"{figures['migration_006_s']:.2f} s (index builds "
            f"{figures['migration_006_index_builds_s']:.2f} s, "
            f"everything else {figures['migration_006_other_s']:.2f} s)",
        ),
        ("floor: CIC, same writer", f"{figures['floor_cic_with_writer_s']:.2f} s"),
        ("floor: plain CREATE INDEX", f"{figures['floor_plain_create_index_s']:.2f} s, no writer"),
        (
            "ratio 006 / CIC floor",
            f"{ratio:.2f}  target <= {TARGET_RATIO}: {_verdict(targets['ratio_pass'])}",
        ),
        (
            "writer during 006",
            f"{writer_006.inserts:,} inserts ({writer_006.inserts_per_s:,.0f}/s), "
            f"{writer_006.errors} errors",
        ),
        (
            "  longest stall",
            f"{_ms(writer_006.longest_stall_s)}  target < {TARGET_STALL_SECONDS:g} s: "
            f"{_verdict(targets['longest_stall_pass'])}",
        ),
        ("  p99 / median", f"{_ms(writer_006.p99_s)} / {_ms(writer_006.median_s)}"),
        ("lock retries in 006", _retries(figures["lock_retries_006"])),
        *((f"  stalled during line {t.line}", t.what) for t in during),
        *([("  first writer error", writer_006.first_error)] if writer_006.first_error else []),
        (
            "writer during the CIC floor",
            f"{writer_floor['inserts']:,} inserts, longest stall "
            f"{_ms(writer_floor['longest_stall_s'])}, p99 {_ms(writer_floor['p99_s'])}",
        ),
    ]
    say()
    say("=" * 78)
    for label, value in lines:
        say(f"{label:<30} {value}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--conversations", type=int, default=100_000)
    parser.add_argument("--audit", type=int, default=200_000, help="audit log records")
    parser.add_argument("--cases", type=int, default=50_000)
    parser.add_argument("--customers", type=int, default=20_000)
    parser.add_argument("--auth-sessions", type=int, default=5_000)
    parser.add_argument("--preferences", type=int, default=5_000)
    parser.add_argument("--seed", type=int, default=6, help="for the generated rows")
    parser.add_argument("--json", type=Path, metavar="PATH", help="also write the figures here")
    args = parser.parse_args(argv)
    if min(args.customers, args.conversations) < 1:
        parser.error("--customers and --conversations must be at least 1")
    if args.preferences > args.customers:
        parser.error("--preferences cannot exceed --customers (one row per customer)")
    sizes = Sizes(
        customers=args.customers,
        conversations=args.conversations,
        messages=args.messages,
        cases=args.cases,
        audit=args.audit,
        auth_sessions=args.auth_sessions,
        preferences=args.preferences,
    )
    figures = bench(sizes, args.seed)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        say(f"figures written to {args.json}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
