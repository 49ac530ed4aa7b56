"""The schema the specification asks for after 006: what `switchboard db verify` checks."""

from __future__ import annotations

from dataclasses import dataclass

TIMESTAMPTZ = "timestamp with time zone"

# Every table the specification names, with every column it (or the design, for legacy
# columns) names and its type. cc_bank_customers' legacy columns differ between banks; the
# specification names none of them, so only its key is required.
COLUMNS: dict[str, dict[str, str]] = {
    "cc_bank_customers": {"id": "uuid"},
    "cc_conversations": {
        "id": "uuid",
        "bank_customer_id": "uuid",
        "channel": "text",
        "status": "text",
        "created_at": TIMESTAMPTZ,
        "updated_at": TIMESTAMPTZ,
        "provider": "text",
        "provider_conversation_id": "text",
    },
    "cc_messages": {
        "id": "uuid",
        "conversation_id": "uuid",
        "direction": "text",
        "created_at": TIMESTAMPTZ,
        "provider": "text",
        "provider_message_id": "text",
        "from_address": "text",
        "to_address": "text",
        "body_text": "text",
        "body_json": "jsonb",
        "status": "text",
    },
    "cc_cases": {
        "id": "uuid",
        "bank_customer_id": "uuid",
        "case_type": "text",
        "status": "text",
        "priority": "text",
        "description": "text",
        "resolved_at": TIMESTAMPTZ,
        "created_at": TIMESTAMPTZ,
        "updated_at": TIMESTAMPTZ,
        "summary": "text",
        "closed_at": TIMESTAMPTZ,
    },
    "cc_auth_sessions": {
        "id": "uuid",
        "bank_customer_id": "uuid",
        "conversation_id": "uuid",
        "status": "text",
        "expires_at": TIMESTAMPTZ,
        "created_at": TIMESTAMPTZ,
        "channel": "text",
        "destination": "text",
        "provider": "text",
        "provider_request_id": "text",
        "updated_at": TIMESTAMPTZ,
    },
    "cc_audit_logs": {
        "id": "uuid",
        "conversation_id": "uuid",
        "created_at": TIMESTAMPTZ,
        "case_id": "uuid",
        "bank_customer_id": "uuid",
        "actor_type": "text",
        "actor_id": "text",
        "event_type": "text",
        "event_version": "integer",
        "input_redacted": "jsonb",
        "output_redacted": "jsonb",
        "success": "boolean",
        "error_code": "text",
        "error_message": "text",
    },
    "cc_identity_links": {
        "id": "uuid",
        "bank_customer_id": "uuid",
        "channel": "text",
        "address": "text",
        "created_at": TIMESTAMPTZ,
        "updated_at": TIMESTAMPTZ,
    },
    "cc_comm_preferences": {
        "id": "uuid",
        "bank_customer_id": "uuid",
        "do_not_contact": "boolean",
        "allowed_channels": "jsonb",
        "timezone": "text",
        "created_at": TIMESTAMPTZ,
        "updated_at": TIMESTAMPTZ,
    },
    "cc_assignments": {
        "id": "uuid",
        "conversation_id": "uuid",
        "case_id": "uuid",
        "queue_name": "text",
        "assigned_to": "text",
        "sla_due_at": TIMESTAMPTZ,
        "created_at": TIMESTAMPTZ,
        "updated_at": TIMESTAMPTZ,
    },
}

TABLES: tuple[str, ...] = tuple(COLUMNS)

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


def same_type(actual: str, expected: str) -> bool:
    """varchar stores what text stores (a bank's hand-made schema may use either), as long
    as it is long enough for the longest value the specification names."""
    if actual == expected:
        return True
    if expected != "text" or not actual.startswith("character varying"):
        return False
    length = actual.removeprefix("character varying").strip("()")
    return not length or int(length) >= 32
