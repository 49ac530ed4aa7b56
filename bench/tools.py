"""The assistant's tools under load: a caller's full path, tool by tool, against the time of
the same SQL alone.

What it measures, in one run on one server:

1. The service as it runs in production, minus the providers: `switchboard serve` and
   `switchboard worker` in subprocesses on a fresh database (embedded PostgreSQL, or a new
   database on DATABASE_URL's server), with generated development secrets, built-in one-time
   codes, and the live outbound provider pointed at a local server that speaks Twilio's
   Messages API (it answers 201 with a sid, like Twilio) and hands each code to the simulated
   caller it was sent to.
2. Simulated calls arriving at a steady rate, each from its own customer's number (the send
   limit is 5 codes per destination per hour), each making four tool calls in turn, as a
   caller's assistant would: identify_caller, start_verification, check_verification with the
   code the "phone" received, create_case. Tool calls per second = 4 x calls per second
   (default 200/s). Reported per tool: p50 and p99 of the time from sending the request to
   the whole answer (the server's time, on loopback), errors, and the tool calls per second
   achieved; separately, how long codes took to arrive (the worker's part, not a tool's).
3. The same SQL alone, in the same transactions: one path is traced in-process through the
   same service functions the route calls, on an autocommit connection as the pool's, and
   committed as the service commits it (every statement and its parameters, and the BEGIN,
   SAVEPOINT, RELEASE and COMMIT psycopg sends around them, tool by tool). Once the load has
   ended and the worker has stopped, the path is replayed 300 times on one connection, each
   time as a new call of a customer of its own (fresh call, tool call and generated ids, so
   nothing the trace wrote is met again), each tool's transaction committed. Reported per
   tool: statements and round trips, p50 and p99 of the whole transaction's time, and p99 of
   its COMMIT alone (the WAL flush).
4. The database's own waits: during the timed phase pg_stat_activity is sampled every 10 ms.
   Reported: the longest wait on a WAL flush and on a lock, and, of the samples of the
   service's backends inside a transaction, the share waiting on a WAL flush, on a lock,
   running a statement, or idle in the transaction (waiting for the service's next
   statement). With the COMMIT's share of the SQL alone's p99, that says how much of a p99
   the database itself explains, and how much the service.

Target: each tool's p99 within 3x the p99 of its own SQL alone (measured in the same run), no
errors, at 200 tool calls per second. Run it as `.venv/bin/python bench/tools.py` (`--help`
for the options); `--json PATH` writes the figures. The exit status is 0 whether the target
passes or not: timings are figures to read.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import os
import re
import secrets
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import uvicorn
import uvloop
from psycopg import AsyncConnection, AsyncCursor
from psycopg.types.json import Jsonb
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from bench_support import KeepAlive, LongWaits, scratch_database, server, settle
from ingest import _wait_until_ready as wait_until_ready
from ingest import free_port, scalar
from switchboard.dev_secrets import load_or_create, with_dev_secrets
from switchboard.metrics import Metrics
from switchboard.outbound.config import outbound_for
from switchboard.settings import SECRET_SETTINGS, Settings
from switchboard.tools import service as tools
from switchboard.tools.context import tool_services
from switchboard.tools.models import CallContext, ToolCall

TARGET_RATIO = 3.0  # each tool's p99 against the p99 of its own SQL alone
API_POOL = "switchboard-api"  # the service's connections' application_name
TOOLS = ("identify_caller", "start_verification", "check_verification", "create_case")
OUR_NUMBER = "+447700900999"
ACCOUNT_SID = "AC" + "d" * 32
ASSISTANT_ID = "bench-assistant"
CODE = re.compile(r"\b(\d{6})\b")
REPLAYS = 300


# -- Twilio's Messages API, as far as the worker needs it --------------------------------------


class Phones:
    """The simulated callers' phones: each code the worker sends lands with its caller."""

    def __init__(self) -> None:
        self.waiting: dict[str, asyncio.Future[str]] = {}
        self.sent = 0

    def expect(self, number: str) -> asyncio.Future[str]:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.waiting[number] = future
        return future

    async def messages(self, request: Request) -> JSONResponse:
        form = await request.form()
        to, body = str(form.get("To", "")), str(form.get("Body", ""))
        self.sent += 1
        found = CODE.search(body)
        future = self.waiting.pop(to, None)
        if future is not None and found and not future.done():
            future.set_result(found.group(1))
        sid = "SM" + secrets.token_hex(16)
        return JSONResponse({"sid": sid, "status": "queued", "to": to, "body": body}, 201)

    def app(self) -> Starlette:
        path = "/2010-04-01/Accounts/{sid}/Messages.json"
        return Starlette(routes=[Route(path, self.messages, methods=["POST"])])


# -- the database, the service and its worker ---------------------------------------------------


def add_customers(url: str, count: int) -> list[str]:
    """`count` customers, each with a phone number of their own linked (07900 range)."""
    numbers = [f"+447900{n:06d}" for n in range(count)]
    with psycopg.connect(url, autocommit=True) as conn:
        ids = [uuid.uuid4() for _ in numbers]
        with conn.cursor().copy("COPY cc_bank_customers (id, customer_ref) FROM STDIN") as copy:
            for customer_id in ids:
                copy.write_row((customer_id, f"B-{customer_id}"))
        with conn.cursor().copy(
            "COPY cc_identity_links (bank_customer_id, channel, address) FROM STDIN"
        ) as copy:
            for customer_id, number in zip(ids, numbers, strict=True):
                copy.write_row((customer_id, "phone", number))
        conn.execute("ANALYZE cc_bank_customers, cc_identity_links")
    return numbers


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process and its live children have used (Linux /proc):
    `serve --workers N` works in child processes."""
    ticks = 0
    parents = {pid}
    for stat in sorted(Path("/proc").glob("[0-9]*/stat"), key=lambda p: int(p.parent.name)):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        this = int(stat.parent.name)
        if this in parents or int(fields[1]) in parents:
            parents.add(this)
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class Running:
    api_pid: int
    worker_pid: int
    public_url: str
    vapi_secret: str
    env: dict[str, str]
    stop_worker: Callable[[], None]


@contextmanager
def service_and_worker(database_url: str, twilio_url: str, workers: int) -> Iterator[Running]:
    with tempfile.TemporaryDirectory(prefix="sb_bench_tools_") as data_dir:
        secrets_file = load_or_create(Path(data_dir))
        port = free_port()
        public_url = f"http://127.0.0.1:{port}"
        env = {k: v for k, v in os.environ.items() if k not in SECRET_SETTINGS}
        env.pop("SWITCHBOARD_ENV", None)
        env |= {
            "DATABASE_URL": database_url,
            "SWITCHBOARD_DATA_DIR": data_dir,
            "SWITCHBOARD_PUBLIC_URL": public_url,
            "OUTBOUND_PROVIDER": "live",
            "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
            "TWILIO_FROM_NUMBER": OUR_NUMBER,
            "TWILIO_API_BASE_URL": twilio_url,
            "SENDGRID_API_KEY": "SG.bench-only",
            "SENDGRID_FROM_EMAIL": "bench@bank.example",
            "OTP_METHOD": "builtin",
        }
        cli = [sys.executable, "-m", "switchboard.cli"]
        api_log = Path(data_dir) / "serve.log"
        worker_log = Path(data_dir) / "worker.log"
        with (
            api_log.open("w") as api_out,
            worker_log.open("w") as worker_out,
            subprocess.Popen(
                [*cli, "serve", "--port", str(port), "--workers", str(workers)],
                env=env, cwd=data_dir, stdout=api_out, stderr=subprocess.STDOUT,
            ) as api,
        ):  # fmt: skip
            wait_until_ready(f"{public_url}/readyz", api, api_log)
            worker = subprocess.Popen(
                [*cli, "worker", "--no-migrate"],
                env=env, cwd=data_dir, stdout=worker_out, stderr=subprocess.STDOUT,
            )  # fmt: skip

            def stop_worker() -> None:
                worker.send_signal(signal.SIGTERM)
                worker.wait(30)

            try:
                yield Running(
                    api.pid, worker.pid, public_url, secrets_file.vapi_secret, env, stop_worker
                )
            finally:
                for process in (worker, api):
                    process.send_signal(signal.SIGTERM)
                for process in (worker, api):
                    process.wait(30)


# -- the load ------------------------------------------------------------------------------------


@dataclass
class Timings:
    by_tool: dict[str, list[float]] = field(default_factory=lambda: {t: [] for t in TOOLS})
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(TOOLS, 0))
    first_error: str | None = None
    code_waits: list[float] = field(default_factory=list)
    paths_done: int = 0

    def failed(self, tool: str, what: str) -> None:
        self.errors[tool] += 1
        self.first_error = self.first_error or f"{tool}: {what}"


def tool_calls_message(call_id: str, number: str, name: str, arguments: dict[str, Any]) -> bytes:
    call = {
        "id": f"call_{uuid.uuid4().hex[:24]}",
        "type": "function",
        "function": {"name": name, "arguments": json.dumps(arguments)},
    }
    message = {
        "type": "tool-calls",
        "timestamp": int(time.time() * 1000),
        "call": {
            "id": call_id,
            "type": "inboundPhoneCall",
            "assistantId": ASSISTANT_ID,
            "customer": {"number": number},
        },
        "phoneNumber": {"number": OUR_NUMBER},
        "toolCallList": [call],
        "toolWithToolCallList": [{"type": "function", "toolCall": call}],
    }
    return json.dumps({"message": message}).encode()


class Connections:
    """Keep-alive connections to the service, one per call in progress, reused by the next."""

    def __init__(self, running: Running) -> None:
        self._host, port = running.public_url.removeprefix("http://").split(":")
        self._port = int(port)
        self._head = (
            f"POST /webhooks/vapi HTTP/1.1\r\nHost: {self._host}:{self._port}\r\n"
            f"Content-Type: application/json\r\nX-Vapi-Secret: {running.vapi_secret}\r\n"
        ).encode()
        self._idle: list[KeepAlive] = []

    def take(self) -> KeepAlive:
        return self._idle.pop() if self._idle else KeepAlive(self._host, self._port)

    def give_back(self, connection: KeepAlive) -> None:
        self._idle.append(connection)

    def request(self, body: bytes) -> bytes:
        return self._head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body


async def one_path(connections: Connections, phones: Phones, number: str, timings: Timings) -> None:
    call_id = str(uuid.uuid4())
    connection = connections.take()

    async def use(name: str, **arguments: Any) -> dict[str, Any] | None:
        request = connections.request(tool_calls_message(call_id, number, name, arguments))
        started = time.perf_counter()
        try:
            status, body = await connection.send(request)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            timings.failed(name, repr(exc))
            return None
        timings.by_tool[name].append(time.perf_counter() - started)
        answer = json.loads(body)["results"][0] if status == 200 else None
        if answer is None or "error" in answer:
            timings.failed(name, body[:200].decode(errors="replace"))
            return None
        result: dict[str, Any] = json.loads(answer["result"])
        return result

    try:
        await _path(use, phones, number, timings)
    finally:
        connections.give_back(connection)


async def _path(
    use: Callable[..., Awaitable[dict[str, Any] | None]],
    phones: Phones,
    number: str,
    timings: Timings,
) -> None:
    if await use("identify_caller") is None:
        return
    code = phones.expect(number)
    if await use("start_verification", channel="sms") is None:
        return
    waited = time.perf_counter()
    try:
        typed = await asyncio.wait_for(code, 30)
    except TimeoutError:
        timings.failed("check_verification", "no code arrived within 30 s")
        return
    timings.code_waits.append(time.perf_counter() - waited)
    checked = await use("check_verification", code=typed)
    if checked is None or not checked.get("verified"):
        return
    summary = "Card declined abroad; customer asks for it to be unblocked"
    if await use("create_case", case_type="cards", summary=summary) is not None:
        timings.paths_done += 1


async def steady_load(
    running: Running, phones: Phones, numbers: Sequence[str], rate: float, seconds: float
) -> tuple[Timings, float]:
    """Calls start every 4/rate seconds whatever the answers; returns the timings and the
    wall time the tool calls took."""
    timings = Timings()
    connections = Connections(running)
    interval = len(TOOLS) / rate
    count = int(seconds / interval)
    start = time.perf_counter()
    paths = []
    for n in range(count):
        delay = start + n * interval - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        paths.append(asyncio.create_task(one_path(connections, phones, numbers[n], timings)))
    await asyncio.gather(*paths)
    return timings, time.perf_counter() - start


# -- the same SQL alone --------------------------------------------------------------------------


Traced = tuple[Any, Any, list[Any]]  # a statement, its parameters, the rows it returned


class TracingCursor(AsyncCursor[Any]):
    """Records each statement, its parameters and the rows it returned (read, then rewound,
    so the service reads them as if nobody had)."""

    log: list[Traced] | None = None

    async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        result = await super().execute(query, params, **kwargs)
        if TracingCursor.log is not None:
            rows: list[Any] = []
            if self.description is not None:
                rows = list(await self.fetchall())
                if rows:
                    await self.scroll(0, mode="absolute")
            TracingCursor.log.append((query, params, rows))
        return result


class TracingConnection(AsyncConnection[Any]):
    """Records the transaction commands (BEGIN, SAVEPOINT, RELEASE, COMMIT) psycopg sends
    for `transaction()` blocks, in order with the statements: they are round trips too, and
    COMMIT is where the WAL is flushed."""

    def _exec_command(self, command: Any, *args: Any, **kwargs: Any) -> Any:
        if TracingCursor.log is not None:
            TracingCursor.log.append((command, None, []))
        return super()._exec_command(command, *args, **kwargs)


def _ids_in(rows: list[Any]) -> list[uuid.UUID]:
    """The uuids in the rows, whatever the row factory made of them (tuples, dataclasses)."""

    def values(row: Any) -> Iterable[Any]:
        if dataclasses.is_dataclass(row):
            return (getattr(row, f.name) for f in dataclasses.fields(row))
        return row.values() if isinstance(row, dict) else row

    return [value for row in rows for value in values(row) if isinstance(value, uuid.UUID)]


def _uuids_in(value: Any) -> Iterator[uuid.UUID]:
    if isinstance(value, uuid.UUID):
        yield value
    elif isinstance(value, Jsonb):
        yield from _uuids_in(value.obj)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _uuids_in(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _uuids_in(item)


@dataclass(frozen=True)
class Trace:
    """One path's statements by tool, and what made them this path's own: its call and tool
    call ids, its caller's number, and the ids the service made (not read from a row). The
    destination's HMAC is kept: only locks and counts read it."""

    statements: dict[str, list[Traced]]
    call_ids: list[str]  # the call's and its tool calls'
    number: str
    made_ids: list[uuid.UUID]

    @classmethod
    def of(cls, statements: dict[str, list[Traced]], call_ids: list[str], number: str) -> Trace:
        read: set[uuid.UUID] = set()
        made: list[uuid.UUID] = []
        for recorded in statements.values():
            for _, params, rows in recorded:
                made += [id_ for id_ in _uuids_in(params) if id_ not in read and id_ not in made]
                read.update(_ids_in(rows))
        return cls(statements, call_ids, number, made)


def _renamed(value: Any, ids: dict[uuid.UUID, uuid.UUID], texts: dict[str, str]) -> Any:
    """The parameters with this path's ids (and number) swapped for the replay's."""
    if isinstance(value, uuid.UUID):
        return ids.get(value, value)
    if isinstance(value, str):
        return _swapped(value, texts)
    if isinstance(value, Jsonb):
        return Jsonb(_renamed(value.obj, ids, texts), value.dumps)
    if isinstance(value, dict):
        return {key: _renamed(item, ids, texts) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_renamed(item, ids, texts) for item in value)
    return value


def _swapped(text: str, texts: dict[str, str]) -> str:
    if not any(old in text for old in texts):
        return text  # the same object: an enum stays an enum
    for old, new in texts.items():
        text = text.replace(old, new)
    return text


async def trace_one_path(url: str, env: dict[str, str], number: str) -> Trace:
    """Each tool's statements and transaction commands, recorded while the service functions
    run one path on a connection like the pool's (autocommit, each tool its own transaction),
    committed as the service commits it."""
    os.environ.update({k: v for k, v in env.items() if k not in ("DATABASE_URL",)})
    settings = with_dev_secrets(Settings.from_env())
    phone_code: dict[str, str] = {}
    statements: dict[str, list[Traced]] = {}
    context = CallContext(str(uuid.uuid4()), ASSISTANT_ID, number, OUR_NUMBER)
    tool_call_ids = [f"call_{uuid.uuid4().hex[:24]}" for _ in TOOLS]
    with outbound_for(settings) as outbound:
        async with (
            tool_services(settings, outbound, Metrics()) as services,
            await TracingConnection.connect(
                url, autocommit=True, cursor_factory=TracingCursor
            ) as conn,
        ):

            async def send_and_keep(conn: AsyncConnection[Any], actor: Any, **kw: Any) -> bool:
                phone_code[kw["to_address"]] = CODE.search(kw["text"]).group(1)  # type: ignore[union-attr]
                return await services.send_code(conn, actor, **kw)

            traced = dataclasses.replace(services, send_code=send_and_keep, verify=None)
            arguments = {
                "identify_caller": {},
                "start_verification": {"channel": "sms"},
                "check_verification": {"code": "<code>"},
                "create_case": {"case_type": "cards", "summary": "Card declined abroad"},
            }
            for name, tool_call_id in zip(TOOLS, tool_call_ids, strict=True):
                args = {k: phone_code.get(number, v) if v == "<code>" else v
                        for k, v in arguments[name].items()}  # fmt: skip
                TracingCursor.log = statements.setdefault(name, [])
                call = ToolCall(tool_call_id, name, args)
                answer = await tools.answer_tool_call(conn, context, call, traced)
                TracingCursor.log = None
                if answer.error is not None:
                    raise RuntimeError(f"tracing {name}: {answer.error}")
    return Trace.of(statements, [context.call_id, *tool_call_ids], number)


@dataclass
class Alone:
    """Each tool's own statements, replayed: the whole transaction, and its COMMIT alone."""

    whole: dict[str, list[float]]
    commit: dict[str, list[float]]


async def replay(url: str, trace: Trace, numbers: Sequence[str]) -> Alone:
    """The path's statements and transaction commands in order, on one autocommit connection
    as the pool's, each tool's transaction committed as the service commits it; once for
    each of `numbers`, a customer of its own, as a new call (fresh call, tool call and
    generated ids: nothing the trace wrote is met again). Ids the database generates are
    taken from each replay's own rows."""
    alone = Alone({name: [] for name in trace.statements}, {name: [] for name in trace.statements})
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        for number in numbers:
            ids = {made: uuid.uuid4() for made in trace.made_ids}
            texts = {old: str(uuid.uuid4()) for old in trace.call_ids} | {trace.number: number}
            texts |= {str(old): str(new) for old, new in ids.items()}
            for name, recorded in trace.statements.items():
                started = committing = time.perf_counter()
                for query, params, traced_rows in recorded:
                    committing = time.perf_counter()
                    cursor = await conn.execute(
                        query, _renamed(params, ids, texts), prepare=None if params else False
                    )
                    if cursor.description is not None:
                        rows = await cursor.fetchall()
                        ids |= dict(zip(_ids_in(traced_rows), _ids_in(rows), strict=False))
                ended = time.perf_counter()
                alone.whole[name].append(ended - started)
                alone.commit[name].append(ended - committing)  # the last command: COMMIT
    return alone


# -- figures --------------------------------------------------------------------------------------


def percentile(values: Sequence[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:6.1f} ms"


def say(line: str = "") -> None:
    print(line, flush=True)


async def bench(rate: float, seconds: float, warmup: float, workers: int) -> dict[str, Any]:
    phones = Phones()
    twilio_port = free_port()
    fake = uvicorn.Server(
        uvicorn.Config(phones.app(), host="127.0.0.1", port=twilio_port, log_level="warning")
    )
    serving = asyncio.create_task(fake.serve())
    figures: dict[str, Any] = {
        "rate": rate,
        "seconds": seconds,
        "workers": workers,
        "cpus": os.cpu_count(),
    }
    try:
        with server() as (admin_url, where):
            version = scalar(admin_url, "SHOW server_version")
            say(f"PostgreSQL {version} ({where}), {os.cpu_count()} CPUs")
            with scratch_database(admin_url, f"sb_bench_tools_{os.getpid()}") as url:
                needed = int((seconds + warmup) * rate / len(TOOLS)) + 2
                with service_and_worker(url, f"http://127.0.0.1:{twilio_port}", workers) as running:
                    numbers = add_customers(url, needed + 1 + REPLAYS)
                    numbers, traced, replayed = (
                        numbers[:needed],
                        numbers[needed],
                        numbers[needed + 1 :],
                    )
                    settle(url)
                    say(f"serve + worker on {running.public_url}; {needed} customers")
                    if warmup:
                        warm = int(warmup * rate / len(TOOLS))
                        await steady_load(running, phones, numbers[:warm], rate, warmup)
                        numbers = numbers[warm:]
                        settle(url)
                    before = [cpu_seconds(running.api_pid), cpu_seconds(running.worker_pid)]
                    client_before = time.process_time()
                    with LongWaits(url, application=API_POOL) as waits:
                        timings, elapsed = await steady_load(
                            running, phones, numbers, rate, seconds
                        )
                    used = [
                        cpu_seconds(running.api_pid) - before[0],
                        cpu_seconds(running.worker_pid) - before[1],
                        time.process_time() - client_before,
                    ]
                    # Nothing else runs while the SQL is replayed: the worker would send the
                    # replays' codes, on this process's loop (the phones).
                    running.stop_worker()
                    trace = await trace_one_path(url, running.env, traced)
                    settle(url)
                    alone = await replay(url, trace, replayed)
                figures |= {"server": where, "version": version}
    finally:
        fake.should_exit = True
        await serving
    calls = sum(len(v) for v in timings.by_tool.values())
    figures["achieved_tool_calls_per_second"] = calls / elapsed
    figures["cpu_ms_per_tool_call"] = {
        who: seconds * 1000 / max(calls, 1)
        for who, seconds in zip(("service", "worker", "client"), used, strict=True)
    }
    figures["paths_completed"] = timings.paths_done
    figures["code_wait_p50_s"] = percentile(timings.code_waits, 0.5)
    figures["code_wait_p99_s"] = percentile(timings.code_waits, 0.99)
    figures["first_error"] = timings.first_error
    figures["long_waits"] = waits.summary()
    figures["in_transaction"] = waits.in_transaction()
    figures["tools"] = {}
    for name in TOOLS:
        recorded = trace.statements[name]
        tool = figures["tools"][name] = {
            "calls": len(timings.by_tool[name]),
            "errors": timings.errors[name],
            "p50_s": percentile(timings.by_tool[name], 0.5),
            "p99_s": percentile(timings.by_tool[name], 0.99),
            "sql_statements": sum(1 for _, params, _ in recorded if params is not None),
            "sql_round_trips": len(recorded),
            "sql_alone_p50_s": percentile(alone.whole[name], 0.5),
            "sql_alone_p99_s": percentile(alone.whole[name], 0.99),
            "commit_p50_s": percentile(alone.commit[name], 0.5),
            "commit_p99_s": percentile(alone.commit[name], 0.99),
        }
        tool["ratio_p99"] = tool["p99_s"] / tool["sql_alone_p99_s"]
    figures["pass"] = all(
        t["ratio_p99"] <= TARGET_RATIO and t["errors"] == 0 for t in figures["tools"].values()
    )
    return figures


def report(figures: dict[str, Any]) -> None:
    say(
        f"{figures['achieved_tool_calls_per_second']:.1f} tool calls/s (asked "
        f"{figures['rate']:g}/s) for {figures['seconds']:g} s; {figures['paths_completed']} "
        f"callers went the whole path; codes arrived in p50 {ms(figures['code_wait_p50_s'])}, "
        f"p99 {ms(figures['code_wait_p99_s'])}"
    )
    cpu = figures["cpu_ms_per_tool_call"]
    say("  CPU per tool call: " + ", ".join(f"{who} {ms:.2f} ms" for who, ms in cpu.items()))
    say(f"  {'tool':<20} {'calls':>6} {'errors':>6} {'p50':>9} {'p99':>9}"
        f"  SQL alone: {'stmts':>5} {'trips':>5} {'p50':>9} {'p99':>9} {'commit p99':>10}"
        f"  {'p99 ratio':>9}")  # fmt: skip
    for name, t in figures["tools"].items():
        say(
            f"  {name:<20} {t['calls']:>6} {t['errors']:>6} {ms(t['p50_s']):>9}"
            f" {ms(t['p99_s']):>9}  {'':>10} {t['sql_statements']:>5} {t['sql_round_trips']:>5}"
            f" {ms(t['sql_alone_p50_s']):>9} {ms(t['sql_alone_p99_s']):>9}"
            f" {ms(t['commit_p99_s']):>10}  {t['ratio_p99']:>8.1f}x"
        )
    if figures["first_error"]:
        say(f"  first error: {figures['first_error']}")
    waits = figures["long_waits"]
    say(
        "  database waits (sampled every 10 ms): "
        + "; ".join(
            f"{kind.replace('_', ' ')} longest {ms(w['longest_s']).strip()}, "
            f"{w['over_50ms']} over 50 ms"
            for kind, w in waits.items()
        )
    )
    doing = figures["in_transaction"]
    say(
        "  the database's own waits in the service's transactions (sampled): "
        f"WAL flush {doing['wal_flush']:.0%}, lock {doing['lock']:.0%}; the rest running "
        f"statements {doing['running']:.0%}, waiting for the service "
        f"{doing['idle_in_transaction']:.0%}"
    )
    commits = [t["commit_p99_s"] / t["sql_alone_p99_s"] for t in figures["tools"].values()]
    say(
        f"  the COMMIT (a WAL flush) is {min(commits):.0%}-{max(commits):.0%} of the SQL "
        "alone's p99"
    )
    verdict = "PASS" if figures["pass"] else "FAIL"
    say(f"target: every tool's p99 within {TARGET_RATIO:g}x its SQL alone's, no errors: {verdict}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="tool calls per second")
    parser.add_argument("--seconds", type=float, default=30.0, help="how long to keep the rate")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of warm-up first")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    options = parser.parse_args()
    figures = uvloop.run(bench(options.rate, options.seconds, options.warmup, options.workers))
    report(figures)
    if options.json:
        options.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
