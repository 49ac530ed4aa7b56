"""Demo data and the demo's agents: each made once however often `run` runs; the agents'
codes at hand in development only."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pyotp
import pytest
from psycopg import AsyncConnection

from switchboard.assignments.models import Queue
from switchboard.demo import CUSTOMERS, load_demo_data
from switchboard.demo_agents import DEMO_AGENTS, ensure_demo_agents, kept_path
from switchboard.dev_secrets import with_dev_secrets, write_private
from switchboard.migrations.checklist import run_checklist
from switchboard.settings import Settings
from tests.builders import execute
from tests.conftest import MIGRATIONS_DIR
from tests.test_cli import switchboard


def test_demo_data_loads_once_however_often_it_is_loaded(migrated_db: str) -> None:
    first = load_demo_data(migrated_db)
    second = load_demo_data(migrated_db)

    assert first == second
    assert first["cc_bank_customers"] == len(CUSTOMERS)
    assert first["cc_identity_links"] == 2 * len(CUSTOMERS)
    assert [r for r in run_checklist(migrated_db) if not r.ok] == []


def test_demo_phone_numbers_are_from_the_range_reserved_for_drama(migrated_db: str) -> None:
    load_demo_data(migrated_db)

    phones = execute(migrated_db, "SELECT address FROM cc_identity_links WHERE channel = 'phone'")

    assert phones
    assert all(phone.startswith("+447700900") for (phone,) in phones)


@pytest.mark.anyio
async def test_the_demo_agents_are_made_once_however_often_run_runs(
    conn: AsyncConnection[Any], migrated_db: str, tmp_path: Path
) -> None:
    settings = with_dev_secrets(
        Settings(SWITCHBOARD_DATA_DIR=tmp_path, SWITCHBOARD_MIGRATIONS_DIR=MIGRATIONS_DIR)
    )

    first = await ensure_demo_agents(conn, settings)
    again = await ensure_demo_agents(conn, settings)

    assert [(r.demo.email, r.created) for r in first] == [
        (demo.email, True) for demo in DEMO_AGENTS
    ]
    assert [(r.demo.email, r.created) for r in again] == [
        (demo.email, False) for demo in DEMO_AGENTS
    ]
    assert [r.kept for r in first] == [r.kept for r in again]
    assert execute(
        migrated_db,
        "SELECT email, role, array_agg(q.queue_name ORDER BY q.queue_name), totp_last_step"
        " IS NOT NULL FROM cc_agents a JOIN cc_agent_queues q ON q.agent_id = a.id"
        " GROUP BY a.id ORDER BY email",
    ) == [
        ("agent@demo.example", "agent", ["cards", "disputes", "general", "payments"], True),
        ("supervisor@demo.example", "supervisor", sorted(q.value for q in Queue), True),
    ]
    assert execute(
        migrated_db,
        "SELECT event_type, count(*) FROM cc_audit_logs WHERE event_type LIKE 'agent.%'"
        " GROUP BY 1 ORDER BY 1",
    ) == [("agent.added", 2), ("agent.enrolled", 2), ("agent.password_set", 2)]
    assert (kept_path(tmp_path).stat().st_mode & 0o777) == 0o600


def test_agents_totp_prints_a_demo_agents_current_code_in_development_only(
    tmp_path: Path,
) -> None:
    secret = pyotp.random_base32()
    write_private(
        kept_path(tmp_path),
        {"agent@demo.example": {"password": "p" * 20, "totp_secret": secret}},
        replace=False,
    )

    shown = switchboard("agents", "totp", "agent@demo.example", url=None, data_dir=tmp_path)
    unknown = switchboard("agents", "totp", "ana@bank.example", url=None, data_dir=tmp_path)
    production = switchboard(
        "agents",
        "totp",
        "agent@demo.example",
        url="postgresql://unused",
        data_dir=tmp_path,
        extra_env={"SWITCHBOARD_ENV": "production"},
    )

    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.split()[0] in {
        pyotp.TOTP(secret).at(time.time() + drift) for drift in (-30, 0)
    }
    assert unknown.returncode == 1
    assert "no TOTP secret of ana@bank.example" in unknown.stderr
    assert production.returncode == 1
    assert "development only" in production.stderr
    assert secret not in production.stdout + production.stderr
