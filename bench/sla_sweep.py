"""The SLA sweep's scan for customers' messages its clocks have not heeded, on 100,000 live
conversations.

Set-up (embedded PostgreSQL in a temporary folder, or a new database on DATABASE_URL's server):
every migration; `--clocks` conversations (100,000 by default), each with a running
resolution clock and a first-response clock an agent met (so each is owed a next response if
its customer writes), and two inbound messages from before the reply, hours ago; `--recent` of
them (50) with a customer message a minute ago, which the sweep must find.

Measured, with EXPLAIN (ANALYZE, BUFFERS), three runs each, the fastest kept: the sweep's query
(sla/repository.py, customer_messages_unheeded) as every sweep runs it (the last hour's
messages) and as a worker's first sweep runs it (every message: the scan every sweep made
before 027). Printed: execution time, shared buffers read or hit, the rows found, and the
plan's top lines. Run it as `.venv/bin/python bench/sla_sweep.py`.
"""

from __future__ import annotations

import argparse
import re
from datetime import timedelta
from pathlib import Path

import psycopg

from bench_support import scratch_database, server, settle
from switchboard.migrations.files import load_migrations
from switchboard.migrations.runner import MigrationRunner
from switchboard.sla.repository import _UNHEEDED
from switchboard.sla.service import HEED_WITHIN, SWEEP_BATCH

MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"

DATA = """
INSERT INTO cc_conversations (id, channel)
SELECT md5('c' || n)::uuid, 'sms' FROM generate_series(1, %(clocks)s) AS n;
INSERT INTO cc_messages (conversation_id, direction, provider, provider_message_id,
                         from_address, to_address, body_text, created_at)
SELECT md5('c' || n)::uuid, 'inbound', 'twilio', 'SM' || n || '-' || k, '+15550001',
       '+15550002', 'text', now() - interval '5 hours' - k * interval '1 minute'
FROM generate_series(1, %(clocks)s) AS n, generate_series(1, 2) AS k;
INSERT INTO cc_sla_clocks (conversation_id, metric, unit, target, calendar_name, queue_name,
                           policy_name, priority, state, started_at, running_since, due_at)
SELECT md5('c' || n)::uuid, 'resolution', 'business_time', interval '36 hours',
       'round_the_clock', 'fraud', 'standard', 'normal', 'running',
       now() - interval '6 hours', now() - interval '6 hours', now() + interval '30 hours'
FROM generate_series(1, %(clocks)s) AS n;
INSERT INTO cc_sla_clocks (conversation_id, metric, unit, target, calendar_name, queue_name,
                           policy_name, priority, state, started_at, fulfilled_at)
SELECT md5('c' || n)::uuid, 'first_response', 'business_time', interval '1 hour',
       'round_the_clock', 'fraud', 'standard', 'normal', 'fulfilled',
       now() - interval '6 hours', now() - interval '4 hours'
FROM generate_series(1, %(clocks)s) AS n;
INSERT INTO cc_messages (conversation_id, direction, provider, provider_message_id,
                         from_address, to_address, body_text, created_at)
SELECT md5('c' || n)::uuid, 'inbound', 'twilio', 'SM-recent-' || n, '+15550001',
       '+15550002', 'again', now() - interval '1 minute'
FROM generate_series(1, %(recent)s) AS n;
ANALYZE;
"""


def explain(url: str, within: timedelta | None) -> tuple[float, str, list[str]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "EXPLAIN (ANALYZE, BUFFERS) " + _UNHEEDED, {"within": within, "limit": SWEEP_BATCH}
        ).fetchall()
    plan = [row[0] for row in rows]
    took = float(re.findall(r"Execution Time: ([0-9.]+) ms", plan[-1])[0])
    buffers = next((line.strip() for line in plan if "Buffers:" in line), "")
    return took, buffers, plan


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clocks", type=int, default=100_000)
    parser.add_argument("--recent", type=int, default=50)
    args = parser.parse_args()
    with server() as (admin_url, where), scratch_database(admin_url, "sb_bench_sla_sweep") as url:
        print(f"server: {where}")
        MigrationRunner(url, load_migrations(MIGRATIONS)).upgrade()
        with psycopg.connect(url, autocommit=True) as conn:
            for statement in DATA.split(";"):
                if statement.strip():
                    sizes = {"clocks": args.clocks, "recent": args.recent}
                    conn.execute(statement, sizes if "%(" in statement else None)
        settle(url)
        for name, within in (("every sweep (last hour)", HEED_WITHIN), ("first sweep (all)", None)):
            runs = [explain(url, within) for _ in range(3)]
            took, buffers, plan = min(runs, key=lambda run: run[0])
            found = next((line for line in plan if line.startswith("Limit")), plan[0])
            print(f"\n{name}: {took:.2f} ms; {buffers}")
            print("  " + found.strip())
            for line in plan[1:8]:
                print("  " + line)


if __name__ == "__main__":
    main()
