"""014: every table, sequence and function Switchboard made has exactly the privileges listed
here, also where Supabase's default privileges grant everything new to its roles."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection

from switchboard.audit import service as audit
from switchboard.audit.models import ActorType, AuditEntry
from switchboard.migrations.checklist import run_checklist
from switchboard.migrations.expected import (
    AGENT_READABLE,
    SERVICE_ROLE_TABLES,
    TABLE_PRIVILEGES,
)
from switchboard.migrations.files import Migration
from switchboard.migrations.runner import LEDGER, MigrationRunner
from tests.builders import execute

Runner = Callable[..., MigrationRunner]

# Roles that get nothing of their own on a table as a whole: anon nothing at all, authenticated
# only the reads of 021 (AGENT_READABLE), and switchboard_app has its rights only by acting as
# service_role or authenticated.
NOTHING = ("anon", "authenticated", "switchboard_app")

# What a Supabase project has in force for the role that creates the tables.
SUPABASE_DEFAULTS = [
    f"ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT ALL ON {kind}"
    " TO anon, authenticated, service_role"
    for kind in ("TABLES", "SEQUENCES", "FUNCTIONS")
]

_TABLE_PRIVILEGES = "{" + ",".join(TABLE_PRIVILEGES) + "}"
_GRANTED = f"""
SELECT 'table', c.relname::text, r.rolname::text,
       array(SELECT p FROM unnest('{_TABLE_PRIVILEGES}'::text[]) AS p
             WHERE has_table_privilege(r.oid, c.oid, p))
FROM pg_class AS c CROSS JOIN pg_roles AS r
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
  AND r.rolname = ANY (%(roles)s)
UNION ALL
SELECT 'sequence', c.relname::text, r.rolname::text,
       array(SELECT p FROM unnest('{{USAGE,SELECT,UPDATE}}'::text[]) AS p
             WHERE has_sequence_privilege(r.oid, c.oid, p))
FROM pg_class AS c CROSS JOIN pg_roles AS r
WHERE c.relnamespace = 'public'::regnamespace AND c.relkind = 'S'
  AND r.rolname = ANY (%(roles)s)
UNION ALL
SELECT CASE WHEN f.prorettype = 'trigger'::regtype THEN 'trigger function' ELSE 'function' END,
       f.oid::regprocedure::text, r.rolname::text,
       array(SELECT 'EXECUTE' WHERE has_function_privilege(r.oid, f.oid, 'EXECUTE'))
FROM pg_proc AS f CROSS JOIN pg_roles AS r
WHERE f.pronamespace = 'public'::regnamespace
  AND NOT EXISTS (SELECT FROM pg_depend AS e WHERE e.classid = 'pg_proc'::regclass
                  AND e.objid = f.oid AND e.deptype = 'e')
  AND r.rolname = ANY (%(roles)s)
"""


def privilege_problems(url: str) -> list[str]:
    """Each grant that differs from the lists above, as `kind name: role has {…}`."""
    with psycopg.connect(url) as conn:
        granted = conn.execute(_GRANTED, {"roles": [*NOTHING, "service_role"]}).fetchall()
    problems = []
    for kind, name, role, privileges in granted:
        has = set(privileges)
        if role == "authenticated" and kind == "table" and name in AGENT_READABLE:
            expected: set[str] = {"SELECT"} if AGENT_READABLE[name] is None else set()
        elif role in NOTHING:
            expected = set()
        elif kind == "table":
            expected = set(SERVICE_ROLE_TABLES.get(name, {"(not listed in SERVICE_ROLE_TABLES)"}))
        elif kind == "sequence":
            expected = {"USAGE", "SELECT"}  # nextval for the inserts of the table behind it
        elif kind == "function":
            expected = {"EXECUTE"} if name.startswith("procrastinate_") else set()
        else:
            expected = set()  # a trigger function fires without EXECUTE
        if has != expected:
            problems.append(f"{kind} {name}: {role} has {sorted(has)}, expected {sorted(expected)}")
    return sorted(problems)


def supabase_roles_and_defaults(url: str) -> None:
    """The roles and default privileges of a Supabase project, on an empty database."""
    execute(
        url,
        """DO $$
        DECLARE
            name text;
        BEGIN
            FOREACH name IN ARRAY ARRAY['anon', 'authenticated', 'service_role'] LOOP
                BEGIN
                    EXECUTE format('CREATE ROLE %I NOLOGIN', name);
                EXCEPTION WHEN duplicate_object OR unique_violation THEN
                    NULL;  -- the roles belong to the server: another test made them
                END;
            END LOOP;
        END
        $$""",
    )
    for statement in SUPABASE_DEFAULTS:
        execute(url, statement)


@pytest.fixture
def supabase_db(empty_db: str) -> str:
    supabase_roles_and_defaults(empty_db)
    return empty_db


def test_a_migrated_database_grants_exactly_what_is_listed(migrated_db: str) -> None:
    assert privilege_problems(migrated_db) == []


def test_supabase_default_privileges_change_nothing(supabase_db: str, runner_for: Runner) -> None:
    runner_for(supabase_db).upgrade()

    assert privilege_problems(supabase_db) == []


def test_a_table_made_without_explicit_privileges_fails_the_check(
    supabase_db: str, runner_for: Runner
) -> None:
    runner_for(supabase_db).upgrade()
    execute(supabase_db, "CREATE TABLE cc_forgotten (id bigserial PRIMARY KEY)")

    problems = privilege_problems(supabase_db)

    assert any("table cc_forgotten: anon has" in p for p in problems)
    assert any("table cc_forgotten: service_role has" in p for p in problems)
    assert any("sequence cc_forgotten_id_seq: anon has" in p for p in problems)


def test_the_runner_creates_its_ledger_with_explicit_privileges(
    supabase_db: str, runner_for: Runner
) -> None:
    runner_for(supabase_db).upgrade("001")

    granted = {
        role: execute(
            supabase_db,
            "SELECT array(SELECT p FROM unnest('{SELECT,INSERT,UPDATE,DELETE,TRUNCATE}'::text[])"
            " AS p WHERE has_table_privilege(%s, %s, p))",
            (role, LEDGER),
        )[0][0]
        for role in ("anon", "authenticated", "service_role")
    }

    assert granted == {"anon": [], "authenticated": [], "service_role": ["SELECT"]}


@pytest.mark.anyio
async def test_the_app_role_appends_to_a_bigserial_audit_log_of_a_pre006_database(
    pre006_db: str, runner_for: Runner
) -> None:
    execute(pre006_db, "DROP TABLE cc_audit_logs")
    execute(
        pre006_db,
        "CREATE TABLE cc_audit_logs (id bigserial PRIMARY KEY,"
        " conversation_id uuid REFERENCES cc_conversations (id), actor text NOT NULL,"
        " action text NOT NULL, payload_redacted jsonb,"
        " created_at timestamptz NOT NULL DEFAULT now())",
    )
    execute(pre006_db, "INSERT INTO cc_audit_logs (actor, action) VALUES ('system', 'legacy')")
    runner_for(pre006_db).upgrade()
    app = psycopg.conninfo.make_conninfo(pre006_db, user="switchboard_app")

    async with await AsyncConnection[Any].connect(app, autocommit=True) as conn:
        audit_id = await audit.append(
            conn, AuditEntry(ActorType.SYSTEM, "test", "privileges.checked", success=True)
        )

    assert audit_id == 2
    assert privilege_problems(pre006_db) == []


def test_verify_names_a_grant_the_service_needs_or_one_too_many(migrated_db: str) -> None:
    execute(migrated_db, "REVOKE INSERT ON cc_tool_calls FROM service_role")
    execute(migrated_db, "GRANT UPDATE ON cc_audit_logs TO service_role")
    fetch = execute(
        migrated_db,
        "SELECT oid::regprocedure::text FROM pg_proc WHERE proname = 'procrastinate_fetch_job_v2'",
    )[0][0]
    execute(migrated_db, f"REVOKE EXECUTE ON FUNCTION {fetch} FROM service_role")

    failed = {r.target: r.evidence for r in run_checklist(migrated_db) if not r.ok}

    assert failed == {
        "cc_tool_calls": "missing INSERT",
        "cc_audit_logs": "has UPDATE beyond what it needs",
        "functions and sequences": f"no EXECUTE or USAGE on {fetch}",
    }


def test_verify_names_the_migrations_pending(
    migrated_db: str, migrations: list[Migration], runner_for: Runner
) -> None:
    last = migrations[-1].id
    execute(migrated_db, f"DELETE FROM {LEDGER} WHERE id = %s", (last,))
    pending = [step.id for step in runner_for(migrated_db).pending()]

    failed = [r for r in run_checklist(migrated_db, pending) if not r.ok]

    assert [(r.check, r.evidence) for r in failed] == [
        ("migrations applied", f"pending: {last} (the owner runs `switchboard db upgrade`)")
    ]
    assert all(r.ok for r in run_checklist(migrated_db, pending[:-1]))
