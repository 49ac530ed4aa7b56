"""What migration 026's live notifications cost the write path: inserting messages with the
trigger on cc_messages enabled (and a connection listening on cc_live, draining, as each
service process holds one) against the same inserts with it disabled, in the same run, on the
same database, through pgbench (prepared statements, a C client).

Two workloads: a text alone (one row a transaction, as a webhook at a quiet time writes it) at
1, 2 and 4 clients, and a group of 64 (one statement, as the inbound texts' group commit writes
them at its peak) at 2 clients (its two writers). The two settings alternate, round by round,
so that a machine busy with something else weighs on both alike; the medians are printed.
Then the trigger's own time in a warm session (EXPLAIN ANALYZE, 30 statements a size): what a
statement pays before its commit. A notifying commit also takes PostgreSQL's notify queue lock
until it has committed, which the pgbench figures include: concurrent notifying commits are
written one after the other.

Run as `.venv/bin/python bench/live_notify.py` (DATABASE_URL's server, else an embedded one);
`--json PATH` writes the figures. Timings are figures to read: the exit status is 0.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Any

import psycopg

from bench_support import scratch_database, server, settle
from ingest import pgbench_binary
from switchboard.migrations.files import load_migrations
from switchboard.migrations.runner import MigrationRunner

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
TRIGGER = "cc_messages_live_insert"
INSERT = (
    "INSERT INTO cc_messages (conversation_id, direction, provider, provider_message_id,"
    " body_text) SELECT '{conversation}', 'inbound', 'twilio', gen_random_uuid()::text,"
    " 'where is my card?' FROM generate_series(1, {rows});"
)
# (rows a statement, clients)
LOADS = ((1, 1), (1, 2), (1, 4), (64, 2))


def tps(url: str, script: Path, clients: int, seconds: int) -> float:
    result = subprocess.run(
        [pgbench_binary(), "--no-vacuum", "--protocol=prepared", f"--file={script}",
         f"--client={clients}", f"--jobs={clients}", f"--time={seconds}", url],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    for line in result.stdout.splitlines():
        if line.startswith("tps = "):
            return float(line.split()[2])
    raise RuntimeError(f"pgbench failed:\n{result.stdout}\n{result.stderr}")


class Draining:
    """A connection listening on cc_live and reading every notification, in a thread."""

    def __init__(self, url: str) -> None:
        self._conn = psycopg.connect(url, autocommit=True)
        self._conn.execute("LISTEN cc_live")
        self._stop = threading.Event()
        self.received = 0
        self._thread = threading.Thread(target=self._drain, daemon=True)
        self._thread.start()

    def _drain(self) -> None:
        while not self._stop.is_set():
            for _ in self._conn.notifies(timeout=0.2):
                self.received += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._conn.close()


def trigger_ms(url: str, conversation: str, rows: int) -> float:
    """The median time of the trigger in one warm session (its plans cached), 30 statements."""
    times = []
    with psycopg.connect(url) as conn:
        for _ in range(30):
            plan = conn.execute(
                "EXPLAIN (ANALYZE, FORMAT JSON) "
                + INSERT.format(conversation=conversation, rows=rows)
            ).fetchone()
            assert plan is not None
            [trigger] = [t for t in plan[0][0]["Triggers"] if t["Trigger Name"] == TRIGGER]
            times.append(trigger["Time"])
        conn.rollback()
    return statistics.median(times)


def _key(rows: int, clients: int, enabled: bool) -> str:
    return f"{rows}x{clients} {'on' if enabled else 'off'}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="alternations (default 5)")
    parser.add_argument("--seconds", type=int, default=5, help="each pgbench run (default 5)")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    with server() as (admin, described), scratch_database(admin, "sb_bench_live") as url:
        MigrationRunner(url, load_migrations(MIGRATIONS)).upgrade()
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute(
                "INSERT INTO cc_conversations (channel) VALUES ('sms') RETURNING id"
            ).fetchone()
        assert row is not None
        conversation = str(row[0])
        figures: dict[str, Any] = {"server": described, "rounds": args.rounds, "tps": {}}
        with tempfile.TemporaryDirectory() as folder:
            scripts = {}
            for rows, _ in LOADS:
                scripts[rows] = Path(folder) / f"insert_{rows}.sql"
                scripts[rows].write_text(INSERT.format(conversation=conversation, rows=rows))
            runs: dict[str, list[float]] = {}
            for _ in range(args.rounds):
                for enabled in (False, True):
                    with psycopg.connect(url, autocommit=True) as conn:
                        state = "ENABLE" if enabled else "DISABLE"
                        conn.execute(f"ALTER TABLE cc_messages {state} TRIGGER {TRIGGER}")
                    settle(url)
                    draining = Draining(url) if enabled else None
                    try:
                        for rows, clients in LOADS:
                            runs.setdefault(_key(rows, clients, enabled), []).append(
                                tps(url, scripts[rows], clients, args.seconds)
                            )
                    finally:
                        if draining is not None:
                            draining.close()
        print(f"server: {described}; {args.rounds} rounds of {args.seconds} s, medians")
        for rows, clients in LOADS:
            off = statistics.median(runs[_key(rows, clients, False)])
            on = statistics.median(runs[_key(rows, clients, True)])
            figures["tps"][f"{rows}x{clients}"] = {"off": off, "on": on}
            print(
                f"  {rows:>2} row(s) a statement, {clients} client(s): {off:8.0f} tps without,"
                f" {on:8.0f} with ({on / off:.2f}); rows/s {off * rows:.0f} -> {on * rows:.0f}"
            )
        for rows in (1, 64):
            ms = trigger_ms(url, conversation, rows)
            figures[f"trigger_ms_{rows}"] = ms
            print(f"  the trigger's own time, {rows:>2} row(s): {ms:.3f} ms (median, warm)")
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
