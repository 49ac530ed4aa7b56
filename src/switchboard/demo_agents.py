"""The demo's people: one agent and one supervisor, made by `switchboard run` in development so
that a newcomer can sign in to the console at once.

They are made as an administrator and the agents themselves would make them: added through
the agents service (as `switchboard agents add`), then enrolled through it (as the enrolment
API: a password, then the authenticator's first code), each step one audited transaction.
Their passwords and TOTP secrets are generated the first time and kept in
`<data dir>/demo-agents.json` (readable by its owner only, beside dev-secrets.json, never in
the repository); every later run finds them there and changes nothing. Nothing here runs in
production: `run` refuses to start there.
"""

from __future__ import annotations

import json
import secrets
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import pyotp
from psycopg import AsyncConnection

from switchboard.agent_sessions.keys import SignInKeys
from switchboard.agents import service as agents
from switchboard.agents import totp
from switchboard.agents.models import Agent, Role
from switchboard.agents.passwords import PasswordChecker
from switchboard.assignments.models import Queue
from switchboard.audit.models import Actor, ActorType
from switchboard.dev_secrets import write_private
from switchboard.errors import AgentNotFound
from switchboard.settings import Settings

FILE_NAME = "demo-agents.json"
# The demo bank is in Great Britain (its customers' numbers, quiet hours in London).
DEMO_TIME_ZONE = "Europe/London"
# Who acts when `run` adds the demo's agents.
DEMO_ACTOR = Actor(ActorType.SYSTEM, "demo")


@dataclass(frozen=True)
class DemoAgent:
    email: str
    name: str
    role: Role
    queues: tuple[str, ...]


DEMO_AGENTS = (
    DemoAgent(
        "agent@demo.example",
        "Dana Reyes",
        Role.AGENT,
        (Queue.CARDS, Queue.PAYMENTS, Queue.GENERAL, Queue.DISPUTES),
    ),
    DemoAgent("supervisor@demo.example", "Sam Okafor", Role.SUPERVISOR, tuple(Queue)),
)


@dataclass(frozen=True)
class Kept:
    """What demo-agents.json holds of one demo agent."""

    password: str
    enrolment_secret: str | None = None  # until the first code is confirmed
    totp_secret: str | None = None


@dataclass(frozen=True)
class Ready:
    """A demo agent as `run` prints it; `kept` is None when the agent exists but the file
    that held its password is gone (it cannot be read back from the database)."""

    demo: DemoAgent
    created: bool
    kept: Kept | None

    @property
    def provisioning_uri(self) -> str | None:
        if self.kept is None or self.kept.totp_secret is None:
            return None
        return totp.provisioning_uri(self.kept.totp_secret, self.demo.email)


def kept_path(data_dir: Path) -> Path:
    return data_dir / FILE_NAME


def read_kept(data_dir: Path) -> dict[str, Kept]:
    path = kept_path(data_dir)
    if not path.exists():
        return {}
    return {email: Kept(**fields) for email, fields in json.loads(path.read_text("utf-8")).items()}


def _keep(data_dir: Path, kept: dict[str, Kept]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = kept_path(data_dir)
    write_private(path, {email: asdict(one) for email, one in kept.items()}, replace=path.exists())


async def ensure_demo_agents(conn: AsyncConnection[Any], settings: Settings) -> list[Ready]:
    """Each demo agent added and enrolled, once; what is kept is written before each step
    that needs it later, so a run stopped half-way is finished by the next."""
    seal_key = SignInKeys.from_secret(settings.switchboard_secret_key).totp_seal
    checker = PasswordChecker()
    kept = read_kept(settings.data_dir)
    existing = {agent.email: agent for agent in await agents.list_agents(conn)}
    ready = []
    for demo in DEMO_AGENTS:
        agent = existing.get(demo.email)
        mine = kept.get(demo.email)
        created = agent is None
        if agent is None:
            password = mine.password if mine else secrets.token_urlsafe(15)
            added = await agents.add_agent(
                conn,
                DEMO_ACTOR,
                email=demo.email,
                display_name=demo.name,
                role=demo.role,
                queues=demo.queues,
                time_zone=DEMO_TIME_ZONE,
            )
            agent = added.agent
            mine = kept[demo.email] = Kept(password, enrolment_secret=added.enrolment_secret)
            _keep(settings.data_dir, kept)
        if mine is None:
            ready.append(Ready(demo, created=False, kept=None))
            continue
        if not agent.totp_confirmed:
            mine = await _enrolled(conn, checker, seal_key, agent, mine)
            kept[demo.email] = mine
            _keep(settings.data_dir, kept)
        ready.append(Ready(demo, created=created, kept=mine))
    return ready


async def _enrolled(
    conn: AsyncConnection[Any],
    checker: PasswordChecker,
    seal_key: bytes | None,
    agent: Agent,
    mine: Kept,
) -> Kept:
    if mine.enrolment_secret is None:
        return mine
    secret = mine.enrolment_secret
    if not agent.enrolled:
        uri = await agents.start_enrolment(
            conn, checker, seal_key, secret=secret, password=mine.password
        )
        parsed = pyotp.parse_uri(uri)
        assert isinstance(parsed, pyotp.TOTP)  # noqa: S101 - start_enrolment makes TOTP URIs
        mine = Kept(mine.password, secret, parsed.secret)
    if mine.totp_secret is None:
        return mine  # a password set by a run that stopped before keeping the secret
    # The previous step's code (accepted within one step of drift): the current one stays
    # free, so the printed secret's code signs in at once.
    authenticator = pyotp.TOTP(mine.totp_secret)
    code = authenticator.at(time.time() - authenticator.interval)
    await agents.confirm_enrolment(conn, seal_key, secret=secret, code=code)
    return Kept(mine.password, None, mine.totp_secret)


def current_code(data_dir: Path, email: str) -> tuple[str, int]:
    """The current TOTP code of a demo agent whose secret is kept here, and the seconds it
    has left."""
    mine = read_kept(data_dir).get(email.strip().lower())
    if mine is None or mine.totp_secret is None:
        raise AgentNotFound(
            f"no TOTP secret of {email} is kept in {kept_path(data_dir)}",
            hint="only the demo's agents made by `switchboard run` have one there: "
            + ", ".join(demo.email for demo in DEMO_AGENTS),
        )
    authenticator = pyotp.TOTP(mine.totp_secret)
    now = time.time()
    return authenticator.at(now), int(authenticator.interval - now % authenticator.interval)
