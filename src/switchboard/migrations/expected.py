"""The schema the specification asks for after 006: what `switchboard db verify` checks."""

from __future__ import annotations

from dataclasses import dataclass

TIMESTAMPTZ = "timestamp with time zone"

# Every table the specification names, with every column it names (a change, or an index's
# key), and the type where it names one (None: it names none, so any type will do; ids it
# never names: a uuid or a bigint are both its shape). What the service needs of the types
# is SERVICE_COLUMNS below, checked separately.
COLUMNS: dict[str, dict[str, str | None]] = {
    "cc_bank_customers": {},
    "cc_conversations": {
        "channel": None,
        "status": None,
        "provider": None,
        "provider_conversation_id": None,
    },
    "cc_messages": {
        "conversation_id": None,
        "created_at": None,
        "provider": None,
        "provider_message_id": None,
        "from_address": None,
        "to_address": None,
        "body_text": None,
        "body_json": "jsonb",
        "status": None,
    },
    "cc_cases": {
        "bank_customer_id": None,
        "case_type": None,
        "status": None,
        "priority": None,
        "description": None,
        "resolved_at": None,
        "created_at": None,
        "summary": None,
        "closed_at": None,
    },
    "cc_auth_sessions": {
        "status": None,
        "channel": None,
        "destination": None,
        "provider": None,
        "provider_request_id": None,
        "updated_at": None,
    },
    "cc_audit_logs": {
        "conversation_id": None,
        "created_at": None,
        "case_id": None,
        "bank_customer_id": None,
        "actor_type": None,
        "actor_id": None,
        "event_type": None,
        "event_version": None,
        "input_redacted": None,
        "output_redacted": None,
        "success": "boolean",
        "error_code": None,
        "error_message": None,
    },
    "cc_identity_links": {"bank_customer_id": None, "channel": None, "address": None},
    "cc_comm_preferences": {"do_not_contact": None, "allowed_channels": "jsonb", "timezone": None},
    "cc_assignments": {
        "conversation_id": None,
        "case_id": None,
        "queue_name": None,
        "assigned_to": None,
        "sla_due_at": None,
    },
}

TABLES: tuple[str, ...] = tuple(COLUMNS)

_READ_WRITE = frozenset({"SELECT", "INSERT", "UPDATE", "DELETE"})
_APPEND_ONLY = frozenset({"SELECT", "INSERT"})
# What service_role (and so switchboard_app, which acts as it) may do with each table, exactly:
# what 014 and each later migration grant. `db verify` checks it, and a test holds every table
# of the schema to it, so a table that is not listed here fails that test.
SERVICE_ROLE_TABLES: dict[str, frozenset[str]] = {
    "cc_bank_customers": _READ_WRITE,
    "cc_conversations": _READ_WRITE,
    "cc_messages": _READ_WRITE,
    "cc_cases": _READ_WRITE,
    "cc_auth_sessions": _READ_WRITE,
    "cc_identity_links": _READ_WRITE,
    "cc_comm_preferences": _READ_WRITE,
    "cc_assignments": _READ_WRITE,
    "cc_audit_logs": _APPEND_ONLY,
    "cc_case_notes": _APPEND_ONLY,
    "cc_tool_calls": _APPEND_ONLY,
    "cc_webhook_events": _APPEND_ONLY,
    "cc_sandbox_outbox": _APPEND_ONLY,
    "cc_webhook_refusals": _READ_WRITE,  # counters: upserted, and deleted once summarised
    "cc_possible_revocations": _APPEND_ONLY,
    "cc_calendars": _READ_WRITE,
    "cc_calendar_hours": _READ_WRITE,
    "cc_calendar_exceptions": _READ_WRITE,
    "cc_sla_policies": _READ_WRITE,
    "cc_sla_targets": _READ_WRITE,
    "cc_queues": _READ_WRITE,
    # Agents are disabled, never deleted: audit rows name them.
    "cc_agents": frozenset({"SELECT", "INSERT", "UPDATE"}),
    "cc_agent_queues": _READ_WRITE,  # 025: UPDATE, for the right to reveal
    "cc_agent_sessions": frozenset({"SELECT", "INSERT", "UPDATE"}),
    "cc_sign_in_failures": _READ_WRITE,  # counters: upserted, deleted on a sign-in
    # Clocks end (fulfilled, breached, cancelled), never deleted; their events only append.
    "cc_sla_clocks": frozenset({"SELECT", "INSERT", "UPDATE"}),
    "cc_sla_clock_events": _APPEND_ONLY,
    "cc_conversation_notes": _APPEND_ONLY,
    # 028: an agent's search allowance, upserted; its row goes with the agent's
    "cc_agent_search_budget": frozenset({"SELECT", "INSERT", "UPDATE"}),
    "procrastinate_jobs": _READ_WRITE,
    "procrastinate_events": _READ_WRITE,
    "procrastinate_periodic_defers": _READ_WRITE,
    "procrastinate_workers": _READ_WRITE,
    "switchboard_migrations": frozenset({"SELECT"}),  # the app role can tell it is up to date
    "switchboard_migration_changes": frozenset(),
}
# What authenticated (an agent's transaction, 021) may read, under its policies: every column
# (None), or only these, so that no contact detail can be read. Nothing else, and no writes.
AGENT_READABLE: dict[str, tuple[str, ...] | None] = {
    "cc_conversations": (
        "id", "bank_customer_id", "channel", "status", "created_at", "updated_at", "provider"
    ),
    "cc_messages": (
        "id", "conversation_id", "direction", "provider_message_id", "body_text", "created_at",
        "provider", "status", "provider_status", "error_code", "status_updated_at",
    ),
    "cc_cases": None,
    "cc_case_notes": None,
    "cc_assignments": None,
    "cc_comm_preferences": None,
    "cc_identity_links": ("id", "bank_customer_id", "channel", "created_at", "updated_at"),
    "cc_audit_logs": None,
    "cc_tool_calls": None,
    "cc_auth_sessions": (
        "id", "bank_customer_id", "conversation_id", "status", "expires_at", "created_at",
        "channel", "provider", "updated_at", "check_attempts", "verified_at",
    ),
    "cc_conversation_notes": None,  # 023
    # 024
    "cc_sla_clocks": None,
    "cc_sla_clock_events": None,
    "cc_queues": None,
    "cc_sla_policies": None,
    "cc_sla_targets": None,
    "cc_calendars": None,
    "cc_calendar_hours": None,
    "cc_calendar_exceptions": None,
}  # fmt: skip
TABLE_PRIVILEGES = ("SELECT", "INSERT", "UPDATE", "DELETE", "TRUNCATE", "REFERENCES", "TRIGGER")

# Names the specification renames; after 006 only the new name may remain.
RENAMED_COLUMNS: dict[str, dict[str, str]] = {
    "cc_messages": {"provider_msg_id": "provider_message_id", "text": "body_text"},
    "cc_audit_logs": {
        "actor": "actor_type",
        "action": "event_type",
        "payload_redacted": "input_redacted",
    },
}
RENAMED_TABLES: dict[str, str] = {"cc_preferences": "cc_comm_preferences"}


@dataclass(frozen=True)
class ExpectedIndex:
    name: str
    table: str
    keys: str  # as pg_get_indexdef prints them, e.g. "(conversation_id, created_at DESC)"
    unique: bool = False
    constraint: bool = False  # the specification asks for a unique constraint, not an index


INDEXES: tuple[ExpectedIndex, ...] = (
    ExpectedIndex(
        "cc_conversations_channel_provider_conversation_id_idx",
        "cc_conversations",
        "(channel, provider_conversation_id)",
    ),
    ExpectedIndex(
        "cc_messages_provider_message_id_key",
        "cc_messages",
        "(provider, provider_message_id)",
        unique=True,
        constraint=True,
    ),
    ExpectedIndex(
        "cc_messages_conversation_id_created_at_idx",
        "cc_messages",
        "(conversation_id, created_at DESC)",
    ),
    ExpectedIndex("cc_messages_from_address_idx", "cc_messages", "(from_address)"),
    ExpectedIndex(
        "cc_cases_bank_customer_id_created_at_idx",
        "cc_cases",
        "(bank_customer_id, created_at DESC)",
    ),
    ExpectedIndex("cc_cases_status_priority_idx", "cc_cases", "(status, priority)"),
    ExpectedIndex("cc_cases_case_type_created_at_idx", "cc_cases", "(case_type, created_at DESC)"),
    ExpectedIndex(
        "cc_auth_sessions_provider_request_id_key",
        "cc_auth_sessions",
        "(provider, provider_request_id)",
        unique=True,
    ),
    ExpectedIndex(
        "cc_audit_logs_conversation_id_created_at_idx",
        "cc_audit_logs",
        "(conversation_id, created_at DESC)",
    ),
    ExpectedIndex("cc_audit_logs_case_id_idx", "cc_audit_logs", "(case_id)"),
    ExpectedIndex("cc_audit_logs_bank_customer_id_idx", "cc_audit_logs", "(bank_customer_id)"),
    ExpectedIndex(
        "cc_identity_links_channel_address_key",
        "cc_identity_links",
        "(channel, address)",
        unique=True,
        constraint=True,
    ),
    ExpectedIndex(
        "cc_identity_links_bank_customer_id_idx", "cc_identity_links", "(bank_customer_id)"
    ),
    ExpectedIndex("cc_identity_links_address_idx", "cc_identity_links", "(address)"),
    ExpectedIndex(
        "cc_comm_preferences_do_not_contact_idx", "cc_comm_preferences", "(do_not_contact)"
    ),
    ExpectedIndex(
        "cc_assignments_queue_name_sla_due_at_idx", "cc_assignments", "(queue_name, sla_due_at)"
    ),
    ExpectedIndex("cc_assignments_assigned_to_idx", "cc_assignments", "(assigned_to)"),
    ExpectedIndex("cc_assignments_conversation_id_idx", "cc_assignments", "(conversation_id)"),
    ExpectedIndex("cc_assignments_case_id_idx", "cc_assignments", "(case_id)"),
)

NEW_TABLES: tuple[str, ...] = ("cc_identity_links", "cc_assignments")
SERVICE_ROLE = "service_role"


def same_type(actual: str, expected: str | None) -> bool:
    """varchar stores what text stores (a bank's hand-made schema may use either), as long
    as it is long enough for the longest value the specification names."""
    if expected is None or actual == expected:
        return True
    if expected != "text" or not actual.startswith("character varying"):
        return False
    length = actual.removeprefix("character varying").strip("()")
    return not length or int(length) >= 32


# -- What the service needs, beyond the specification ---------------------------------------
#
# The specification names columns but not their types, and says nothing of ids: a database
# 006 accepts may key a table by uuid or bigint. The service is stricter: it passes and
# compares ids as uuids, inserts rows relying on defaults, and upserts on unique keys. These
# are checked separately (`db verify`'s service section), and `db adopt` refuses beforehand
# what no migration fixes.

# An id the service never reads as a uuid: uuid or an integer type.
ANY_ID = "uuid or integer"
INTEGER_TYPES = ("bigint", "integer", "smallint")


@dataclass(frozen=True)
class ServiceColumn:
    type: str  # as format_type prints it, or ANY_ID
    # The service inserts rows without this column, so it needs a default.
    default: str | None = None
    # Present before 006 in any database the service can run on: no migration adds it.
    core: bool = False
    # The longest value the service writes, for a column of a fixed list of values: a
    # varchar that long will do. Any other text column takes text of any length.
    longest: int | None = None


_ID = ServiceColumn("uuid", default="gen_random_uuid()", core=True)
_CREATED = ServiceColumn(TIMESTAMPTZ, default="now()")
# Keys of indexes 006 or 011 build: those migrations stop without them.
_CREATED_INDEXED = ServiceColumn(TIMESTAMPTZ, default="now()", core=True)
_UUID = ServiceColumn("uuid")
_TEXT = ServiceColumn("text")
_TIME = ServiceColumn(TIMESTAMPTZ)
_JSONB = ServiceColumn("jsonb")


def _values(longest: int, *, core: bool = False) -> ServiceColumn:
    return ServiceColumn("text", core=core, longest=longest)


# Every column of the nine tables the service reads or writes, under its name after 006.
SERVICE_COLUMNS: dict[str, dict[str, ServiceColumn]] = {
    "cc_bank_customers": {"id": ServiceColumn("uuid", core=True)},
    "cc_conversations": {
        "id": _ID,
        "bank_customer_id": _UUID,
        "channel": _values(8, core=True),
        "status": _values(16, core=True),
        "provider": _values(8),
        "provider_conversation_id": _TEXT,
        "created_at": _CREATED,
        "updated_at": _CREATED,
    },
    "cc_messages": {
        "id": _ID,
        "conversation_id": ServiceColumn("uuid", core=True),
        "direction": _values(8, core=True),
        "provider": _values(8),
        "provider_message_id": _TEXT,
        "from_address": _TEXT,
        "to_address": _TEXT,
        "body_text": _TEXT,
        "body_json": _JSONB,
        "status": _values(9),
        "provider_status": _TEXT,
        "error_code": _TEXT,
        "status_updated_at": _TIME,
        "created_at": _CREATED_INDEXED,
    },
    "cc_cases": {
        "id": _ID,
        "bank_customer_id": ServiceColumn("uuid", core=True),
        "conversation_id": _UUID,
        "case_type": _values(10, core=True),
        "status": _values(16, core=True),
        "priority": _values(6, core=True),
        "summary": _TEXT,
        "resolved_at": _TIME,
        "closed_at": _TIME,
        "created_at": _CREATED_INDEXED,
        "updated_at": _CREATED,
    },
    "cc_auth_sessions": {
        # The service makes a session's id itself (it seals it into the code's job).
        "id": ServiceColumn("uuid", core=True),
        "bank_customer_id": _UUID,
        "conversation_id": ServiceColumn("uuid", core=True),
        "status": _values(9, core=True),
        "channel": _values(8),
        "destination": _TEXT,
        "destination_hmac": ServiceColumn("bytea"),
        "provider": _values(13),
        "provider_request_id": _TEXT,
        "code_hmac": ServiceColumn("bytea"),
        "check_attempts": ServiceColumn("integer", default="0"),
        "expires_at": _TIME,
        "verified_at": _TIME,
        "created_at": ServiceColumn(TIMESTAMPTZ, core=True),
    },
    "cc_audit_logs": {
        # Written, never read back by id: a bigserial serves as well as a uuid.
        "id": ServiceColumn(ANY_ID, default="gen_random_uuid()", core=True),
        "conversation_id": ServiceColumn("uuid", core=True),
        "case_id": _UUID,
        "bank_customer_id": _UUID,
        "actor_type": _values(8),
        "actor_id": _TEXT,
        # Event names are dotted identifiers, kept well under 64 characters.
        "event_type": _values(64),
        "event_version": ServiceColumn("integer"),
        "input_redacted": _JSONB,
        "output_redacted": _JSONB,
        "success": ServiceColumn("boolean"),
        "error_code": _TEXT,
        "error_message": _TEXT,
        "created_at": _CREATED_INDEXED,
    },
    "cc_identity_links": {
        "id": _ID,
        "bank_customer_id": _UUID,
        "channel": _TEXT,
        "address": _TEXT,
        "created_at": _CREATED,
        "updated_at": _CREATED,
    },
    "cc_comm_preferences": {
        # Upserted by customer, never looked up by id.
        "id": ServiceColumn(ANY_ID, default="gen_random_uuid()", core=True),
        "bank_customer_id": ServiceColumn("uuid", core=True),
        "do_not_contact": ServiceColumn("boolean", core=True),
        "allowed_channels": _JSONB,
        "timezone": _TEXT,
        "created_at": _CREATED,
        "updated_at": _CREATED,
    },
    "cc_assignments": {
        "id": _ID,
        "conversation_id": _UUID,
        "case_id": _UUID,
        "queue_name": _TEXT,
        "reason": _TEXT,
        "sla_due_at": _TIME,
        "created_at": _CREATED,
        "updated_at": _CREATED,
    },
}

# Tables the service inserts into: a NOT NULL column it does not write needs a default.
SERVICE_INSERTS: tuple[str, ...] = tuple(t for t in SERVICE_COLUMNS if t != "cc_bank_customers")

# Values the service writes into columns whose list-of-values CHECK 006 does not widen.
SERVICE_VALUES: dict[tuple[str, str], tuple[str, ...]] = {
    ("cc_conversations", "channel"): ("sms", "whatsapp", "email", "voice"),
    ("cc_messages", "direction"): ("inbound", "outbound"),
    ("cc_cases", "priority"): ("low", "normal", "high", "urgent"),
}

# Unique keys the service upserts on (ON CONFLICT), beyond the specification's own.
SERVICE_UNIQUE_KEYS: dict[str, tuple[str, ...]] = {"cc_comm_preferences": ("bank_customer_id",)}


def service_type_ok(actual: str, need: ServiceColumn) -> bool:
    if need.type == ANY_ID:
        return actual == "uuid" or actual in INTEGER_TYPES
    if need.type != "text" or not actual.startswith("character varying"):
        return actual == need.type
    length = actual.removeprefix("character varying").strip("()")
    return not length or (need.longest is not None and int(length) >= need.longest)
