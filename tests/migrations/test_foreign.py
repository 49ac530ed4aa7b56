"""Databases we did not create: pre-006 schemas made by hand (tests/migrations/foreign/*.sql,
not our 001-005), adopted at 005 and upgraded, then used by the whole service end to end;
and the shapes `db adopt` must refuse, each with its fix.

The service runs as switchboard_app, the role a deployment serves with: what 014 grants it
(a bigserial id's sequence included) must be enough on every shape adopt accepts."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import AsyncConnection

from switchboard.app import create_app
from switchboard.audit.models import Actor, ActorType
from switchboard.cases.service import move_case
from switchboard.errors import AdoptionRefused
from switchboard.migrations.checklist import SERVICE, SPECIFICATION, run_checklist
from switchboard.migrations.expected import SERVICE_COLUMNS
from switchboard.migrations.files import Migration
from switchboard.migrations.runner import MigrationRunner
from switchboard.outbound.config import outbound_for
from switchboard.outbound.models import OutboundRequest
from switchboard.outbound.service import queue_message
from switchboard.preferences.models import ContactChannel, Purpose
from switchboard.settings import Settings
from tests.builders import column_names, execute
from tests.outbound.conftest import drain, make_settings
from tests.providers.servers import (
    AUTH_TOKEN,
    SendGridServer,
    TwilioServer,
)
from tests.test_cli import switchboard
from tests.tools.conftest import KNOWN_NUMBER, Caller, tool_settings
from tests.webhooks.conftest import VAPI_SECRET, fixture, running, twilio_post_args

FOREIGN = Path(__file__).resolve().parent / "foreign"
SHAPES = ("bigserial_ids", "missing_optional", "half_renamed", "extras")
# The customer every foreign database holds (tests/migrations/foreign/*.sql).
CUSTOMER = uuid.UUID("00000000-0000-4000-8000-000000000001")
AGENT = Actor(ActorType.AGENT, "agent-7")
LEGACY_TABLES = ("cc_bank_customers", "cc_conversations", "cc_messages", "cc_cases",
                 "cc_auth_sessions", "cc_audit_logs")  # fmt: skip


def build(url: str, shape: str) -> None:
    execute(url, (FOREIGN / f"{shape}.sql").read_text(encoding="utf-8"))


def ids(url: str, table: str) -> set[str]:
    return {row[0] for row in execute(url, f"SELECT id::text FROM {table}")}


def adopt_and_upgrade(url: str, migrations: list[Migration]) -> None:
    runner = MigrationRunner(url, migrations)
    runner.adopt("005")
    runner.upgrade()


def as_app_role(url: str) -> str:
    return psycopg.conninfo.make_conninfo(url, user="switchboard_app")


@pytest.mark.parametrize("shape", SHAPES)
def test_a_foreign_database_is_adopted_upgraded_and_passes_both_sections_of_verify(
    empty_db: str, migrations: list[Migration], shape: str
) -> None:
    build(empty_db, shape)
    before = {table: ids(empty_db, table) for table in LEGACY_TABLES}

    adopt_and_upgrade(empty_db, migrations)

    results = run_checklist(empty_db)
    assert [r for r in results if not r.ok] == []
    assert {r.section for r in results} == {SPECIFICATION, SERVICE}
    for table, kept in before.items():  # every row it had is still there
        assert kept
        assert kept <= ids(empty_db, table)


def test_what_the_seed_did_not_ask_to_change_is_left_as_it_was(
    empty_db: str, migrations: list[Migration]
) -> None:
    build(empty_db, "extras")

    adopt_and_upgrade(empty_db, migrations)

    assert execute(empty_db, "SELECT channel, branch_code FROM cc_conversations") == [
        ("fax", "LDN")
    ]
    assert execute(empty_db, "SELECT direction, language FROM cc_messages") == [("internal", "en")]
    assert execute(empty_db, "SELECT priority, legacy_ticket FROM cc_cases") == [("p0", 4711)]
    assert execute(empty_db, "SELECT body FROM cc_legacy_notes") == [("keep me",)]
    indexes = execute(
        empty_db,
        "SELECT indexrelid::regclass::text FROM pg_index WHERE indexrelid::regclass::text"
        " LIKE 'legacy_%' ORDER BY 1",
    )
    assert indexes == [
        ("legacy_audit_actor",),
        ("legacy_conversations_branch",),
        ("legacy_messages_lower_text",),
        ("legacy_messages_provider_msg_id",),
    ]


@pytest.fixture
def settings(tmp_path: Path, twilio: TwilioServer, sendgrid: SendGridServer) -> Settings:
    return tool_settings(tmp_path, twilio, sendgrid)


@pytest.mark.anyio
@pytest.mark.parametrize("shape", SHAPES)
async def test_the_whole_service_runs_on_an_adopted_database(
    empty_db: str,
    migrations: list[Migration],
    shape: str,
    twilio: TwilioServer,
    settings: Settings,
) -> None:
    build(empty_db, shape)
    adopt_and_upgrade(empty_db, migrations)
    execute(
        empty_db,
        "INSERT INTO cc_identity_links (bank_customer_id, channel, address)"
        " VALUES (%s, 'phone', %s)",
        (CUSTOMER, KNOWN_NUMBER),
    )
    app_url = as_app_role(empty_db)
    async for client in running(create_app(settings, database_url=app_url, pool_size=5)):
        # An inbound SMS, signed as Twilio signs it.
        sms = fixture("twilio", "inbound_sms.json")
        path = "/webhooks/twilio/messages"
        answered = await client.post(path, **twilio_post_args(path, sms, token=AUTH_TOKEN))
        assert answered.status_code == 200, answered.text
        # STOP: the customer's preferences, upserted.
        stop = {**sms, "Body": "STOP", "MessageSid": "SM" + "5" * 32}
        stopped = await client.post(path, **twilio_post_args(path, stop, token=AUTH_TOKEN))
        assert stopped.status_code == 200, stopped.text
        # A call: its tool calls (a code sent through the worker and checked, then a case
        # opened), and its end-of-call report.
        call = Caller(client, settings, app_url, number=KNOWN_NUMBER)
        assert (await call.use("identify_caller"))["recognised"] is True
        assert (await call.verify_by_sms(twilio))["verified"] is True
        case = await call.use("create_case", case_type="fraud", summary="Unknown payment")
        assert case["case"]["status"] == "new", case
        handed = await call.use("transfer_to_human", queue="fraud", reason="Wants a person")
        assert handed["queued"] is True, handed
        report = fixture("vapi", "end_of_call_report.json")
        ended = await client.post(
            "/webhooks/vapi", json=report, headers={"X-Vapi-Secret": VAPI_SECRET}
        )
        assert ended.status_code == 200, ended.text

    # An agent takes the case on, and sends a message, queued and sent by the worker
    # through the sandbox.
    sandbox = make_settings(settings.data_dir, OUTBOUND_PROVIDER="sandbox")
    async with await AsyncConnection.connect(app_url, autocommit=True) as conn:
        moved = await move_case(conn, AGENT, uuid.UUID(case["case"]["case_id"]), "triage")
        assert moved.updated_at > moved.created_at
        with outbound_for(sandbox) as outbound:
            queued = await queue_message(
                conn,
                AGENT,
                OutboundRequest(ContactChannel.SMS, KNOWN_NUMBER, Purpose.FRAUD_ALERT, "Call us"),
                outbound=outbound,
            )
    assert queued.allowed
    await drain(sandbox, app_url)

    stored: dict[str, Any] = dict(
        execute(
            empty_db,
            "SELECT 'sms', count(*) FROM cc_messages WHERE provider_message_id = %s"
            " UNION ALL SELECT 'case', count(*) FROM cc_cases WHERE bank_customer_id = %s"
            " AND status = 'triage'"
            " UNION ALL SELECT 'sent', count(*) FROM cc_messages AS m JOIN cc_sandbox_outbox"
            " AS o ON o.message_id = m.id WHERE m.id = %s AND m.status = 'sent'"
            " UNION ALL SELECT 'report', count(*) FROM cc_messages"
            " WHERE provider_message_id LIKE '%%:end-of-call-report'"
            " UNION ALL SELECT 'verified', count(*) FROM cc_auth_sessions"
            " WHERE status = 'verified' AND verified_at IS NOT NULL"
            " UNION ALL SELECT 'stopped', count(*) FROM cc_comm_preferences"
            " WHERE bank_customer_id = %s AND NOT allowed_channels ? 'sms'"
            " UNION ALL SELECT 'queued', count(*) FROM cc_assignments WHERE queue_name = 'fraud'",
            (sms["MessageSid"], CUSTOMER, queued.message_id, CUSTOMER),
        )
    )
    assert stored == {
        "sms": 1,
        "case": 1,
        "sent": 1,
        "report": 1,
        "verified": 1,
        "stopped": 1,
        "queued": 1,
    }
    assert [r for r in run_checklist(empty_db) if not r.ok] == []


UNFIT = """
CREATE TABLE cc_bank_customers (id bigserial PRIMARY KEY, customer_ref text);
CREATE TABLE cc_conversations (
    id bigserial PRIMARY KEY, bank_customer_id bigint, status text NOT NULL,
    channel text NOT NULL CHECK (channel IN ('sms', 'email')));
CREATE TABLE cc_messages (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(), conversation_id bigint NOT NULL,
    direction text NOT NULL, tenant_id integer NOT NULL, created_at timestamptz DEFAULT now());
CREATE TABLE cc_cases (
    id bigserial PRIMARY KEY, bank_customer_id bigint, case_type text NOT NULL,
    status text NOT NULL, priority text NOT NULL, created_at timestamptz DEFAULT now());
CREATE TABLE cc_auth_sessions (
    id uuid PRIMARY KEY, conversation_id uuid, status text NOT NULL);
CREATE TABLE cc_audit_logs (
    id bigint PRIMARY KEY, conversation_id uuid, actor text NOT NULL, action text NOT NULL,
    created_at timestamp DEFAULT now());
CREATE TABLE cc_preferences (
    id uuid PRIMARY KEY, bank_customer_id uuid NOT NULL, do_not_contact boolean);
"""


def test_adopt_refuses_what_no_migration_fixes_listing_each_difference_and_its_fix(
    empty_db: str, migrations: list[Migration]
) -> None:
    execute(empty_db, UNFIT)

    with pytest.raises(AdoptionRefused) as refused:
        MigrationRunner(empty_db, migrations).adopt("005")

    listed = [line for line in str(refused.value).splitlines() if line.startswith("  - ")]
    found = {line.split(" (fix: ")[0].removeprefix("  - ") for line in listed}
    assert found == {
        "cc_bank_customers.id is bigint",
        "cc_conversations.id is bigint",
        "cc_conversations.bank_customer_id is bigint",
        "CHECK cc_conversations_channel_check on cc_conversations.channel refuses whatsapp,"
        " voice, which the service writes",
        "cc_messages.conversation_id is bigint",
        "cc_messages.tenant_id is NOT NULL without a default, and the service never writes it",
        "cc_cases.id is bigint",
        "cc_cases.bank_customer_id is bigint",
        "cc_auth_sessions.created_at is missing",
        "cc_audit_logs.id has no default, and the service inserts rows without it",
        "cc_audit_logs.created_at is timestamp without time zone",
        "cc_preferences has no unique index on (bank_customer_id), which the service upserts on",
    }
    assert all(" (fix: " in line for line in listed)
    assert "ADD GENERATED BY DEFAULT AS IDENTITY" in str(refused.value)
    assert execute(empty_db, "SELECT count(*) FROM switchboard_migrations") == [(0,)]


def test_a_shape_the_specification_allows_fails_only_the_service_section(
    migrated_db: str,
) -> None:
    execute(migrated_db, "ALTER TABLE cc_comm_preferences DROP COLUMN updated_at")

    failed = [r for r in run_checklist(migrated_db) if not r.ok]

    assert [(r.section, r.check, r.target) for r in failed] == [
        (SERVICE, "service can use", "cc_comm_preferences")
    ]
    assert "cc_comm_preferences.updated_at is missing" in failed[0].evidence


def test_015_rolls_back_what_it_added_and_keeps_the_audit_logs_columns(
    empty_db: str, migrations: list[Migration]
) -> None:
    build(empty_db, "missing_optional")
    adopt_and_upgrade(empty_db, migrations)
    runner = MigrationRunner(empty_db, migrations)

    runner.downgrade("012")

    assert "updated_at" not in column_names(empty_db, "cc_conversations")
    assert "bank_customer_id" not in column_names(empty_db, "cc_auth_sessions")
    defaults = execute(
        empty_db,
        "SELECT attrelid::regclass::text || '.' || attname FROM pg_attribute AS a"
        " JOIN pg_attrdef AS d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
        " WHERE attrelid::regclass::text IN ('cc_conversations', 'cc_messages', 'cc_cases',"
        " 'cc_audit_logs') AND attname IN ('id', 'created_at') ORDER BY 1",
    )
    assert defaults == []
    runner.upgrade()
    assert [r for r in run_checklist(empty_db) if not r.ok] == []


def test_the_adopt_command_prints_the_differences_and_exits_non_zero(empty_db: str) -> None:
    execute(empty_db, UNFIT)

    result = switchboard("db", "adopt", "--at", "005", url=empty_db)

    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert "error (adoption_refused)" in result.stderr
    assert "  - cc_cases.id is bigint (fix: " in result.stderr
    assert "hint: fix each as shown" in result.stderr


def test_adopt_refuses_a_table_006_would_create_made_elsewhere_without_its_columns(
    empty_db: str, migrations: list[Migration]
) -> None:
    build(empty_db, "extras")
    execute(empty_db, "CREATE TABLE cc_assignments (id uuid PRIMARY KEY, case_id uuid)")

    with pytest.raises(AdoptionRefused) as refused:
        MigrationRunner(empty_db, migrations).adopt("005")

    listed = [line for line in str(refused.value).splitlines() if line.startswith("  - ")]
    assert [line.split(" is missing")[0].removeprefix("  - ") for line in listed] == [
        "cc_assignments.conversation_id",
        "cc_assignments.queue_name",
        "cc_assignments.assigned_to",
        "cc_assignments.sla_due_at",
    ]


def test_adopt_upgrade_and_verify_as_commands_on_a_foreign_database(empty_db: str) -> None:
    build(empty_db, "missing_optional")

    adopted = switchboard("db", "adopt", "--at", "005", url=empty_db)
    upgraded = switchboard("db", "upgrade", url=empty_db)
    verified = switchboard("db", "verify", "--json", url=empty_db)

    assert adopted.returncode == 0, adopted.stderr
    assert upgraded.returncode == 0, upgraded.stderr
    assert verified.returncode == 0, verified.stdout
    report = json.loads(verified.stdout)
    assert (report["ok"], report["specification"]["ok"], report["service"]["ok"]) == (
        True,
        True,
        True,
    )
    usable = {c["target"] for c in report["service"]["checks"] if c["check"] == "service can use"}
    assert usable == set(SERVICE_COLUMNS)
    assert {c["check"] for c in report["service"]["checks"]} == {
        "service can use",
        "service role privileges",
        "migrations applied",
    }
