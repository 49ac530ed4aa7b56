"""`switchboard agents ...` as an administrator runs it: a secret that enrols, clear errors."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.agent_sessions.console import PASSWORD, SAME_ORIGIN, agent_settings, running, secret_of
from tests.builders import execute
from tests.test_cli import switchboard


def test_add_prints_a_secret_that_enrols_once(migrated_db: str, tmp_path: Path) -> None:
    added = switchboard(
        "agents", "add", "Ada@Bank.example", "--name", "Ada Lovelace", "--role", "supervisor",
        "--queue", "fraud", "--queue", "cards", url=migrated_db,
    )  # fmt: skip

    assert added.returncode == 0, added.stderr
    lines = added.stdout.splitlines()
    secret = lines[lines.index(next(line for line in lines if "shown once" in line)) + 1]
    assert len(secret) >= 43  # 256 bits, urlsafe base64
    assert f"/enrol#{secret}" in added.stdout
    stored = execute(
        migrated_db,
        "SELECT email, role, enrolment_secret_hash = sha256(%s::bytea),"
        " enrolment_expires_at - now() > interval '71 hours' FROM cc_agents",
        (secret.encode(),),
    )
    assert stored == [("ada@bank.example", "supervisor", True, True)]
    assert execute(
        migrated_db,
        "SELECT actor_type, actor_id FROM cc_audit_logs WHERE event_type = 'agent.added'",
    ) == [("system", "cli")]

    async def enrol() -> None:
        async for client in running(agent_settings(tmp_path), migrated_db):
            started = await _enrol(client, secret)
            assert started.status_code == 200, started.text
            assert secret_of(started.json()["provisioning_uri"])
            again = await _enrol(client, secret)
            assert again.status_code == 401
            assert again.json()["error"] == "enrolment_invalid"

    import asyncio  # noqa: PLC0415

    asyncio.run(enrol())

    listed = switchboard("agents", "list", url=migrated_db)
    assert listed.returncode == 0
    assert "ada@bank.example" in listed.stdout
    assert "supervisor" in listed.stdout
    assert "cards, fraud" in listed.stdout


async def _enrol(client: httpx.AsyncClient, secret: str) -> httpx.Response:
    return await client.post(
        "/api/v1/enrolment", json={"secret": secret, "password": PASSWORD}, headers=SAME_ORIGIN
    )


def test_an_unknown_queue_is_a_clear_error_naming_the_queues(migrated_db: str) -> None:
    added = switchboard(
        "agents", "add", "ada@bank.example", "--name", "Ada", "--queue", "fraud",
        "--queue", "mortgages", url=migrated_db,
    )  # fmt: skip

    assert added.returncode == 1
    assert "error (invalid_input): no such queue: mortgages" in added.stderr
    assert "cards, complaints, disputes, fraud, general, loans, payments" in added.stderr
    assert "Traceback" not in added.stderr
    assert execute(migrated_db, "SELECT count(*) FROM cc_agents") == [(0,)]


def test_queues_are_added_and_removed_and_an_agent_disabled(migrated_db: str) -> None:
    assert switchboard("agents", "add", "ada@bank.example", "--name", "Ada", "--queue", "fraud",
                       url=migrated_db).returncode == 0  # fmt: skip

    changed = switchboard(
        "agents", "queues", "ada@bank.example", "--add", "cards", "--add", "loans",
        "--remove", "fraud", url=migrated_db,
    )  # fmt: skip
    disabled = switchboard("agents", "disable", "ada@bank.example", url=migrated_db)
    missing = switchboard("agents", "disable", "nobody@bank.example", url=migrated_db)
    taken = switchboard("agents", "add", "ADA@bank.example", "--name", "Ada", url=migrated_db)
    bad_role = switchboard(
        "agents", "add", "bo@bank.example", "--name", "Bo", "--role", "root", url=migrated_db
    )

    assert changed.returncode == 0, changed.stderr
    assert "ada@bank.example: cards, loans" in changed.stdout
    assert disabled.returncode == 0
    assert "0 session(s) ended" in disabled.stdout
    assert (missing.returncode, taken.returncode, bad_role.returncode) == (1, 1, 1)
    assert "error (agent_not_found)" in missing.stderr
    assert "error (agent_exists)" in taken.stderr
    assert "error (invalid_input): 'root' is not a role" in bad_role.stderr
    assert execute(
        migrated_db,
        "SELECT event_type, actor_type, actor_id FROM cc_audit_logs"
        " WHERE event_type LIKE 'agent.%%' ORDER BY created_at",
    ) == [
        ("agent.added", "system", "cli"),
        ("agent.queues_changed", "system", "cli"),
        ("agent.disabled", "system", "cli"),
    ]
    assert execute(migrated_db, "SELECT status FROM cc_agents") == [("disabled",)]
