"""Reading Vapi server messages: the body parsed and checked, and the fields every message type
shares (the call id, the parties, text and numbers found where Vapi puts them)."""

from __future__ import annotations

import hashlib
import math
from datetime import datetime
from typing import Any

from switchboard.errors import MalformedBody, MissingField
from switchboard.identities.normalize import normalize_phone
from switchboard.messages.service import MAX_KEY_LENGTH, UNSTORABLE
from switchboard.webhooks.common import json_of

Message = dict[str, Any]


def parse_server_message(body: bytes) -> Message:
    try:
        payload = json_of(body)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise MalformedBody(f"the body is not valid JSON: {exc}") from exc
    if not isinstance(payload, dict):
        raise MalformedBody("the body must be a JSON object with a `message` object")
    message = payload.get("message")
    if message is None:
        raise MissingField("the body has no `message` object")
    if not isinstance(message, dict):
        raise MalformedBody("`message` must be a JSON object")
    kind = message.get("type")
    if kind is None or kind == "":
        raise MissingField("the message has no message.type")
    if not isinstance(kind, str):
        raise MalformedBody("message.type must be a string")
    refuse_unstorable(message)
    return message


def refuse_unstorable(value: Any) -> None:
    """Refuse text PostgreSQL cannot store, before anything is written. Walked with a stack,
    not recursion: the parser accepts nesting deep enough to exhaust the call stack here."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if UNSTORABLE.search(item):
                raise MalformedBody("the body holds a NUL character or a lone surrogate")
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


def call_id_of(message: Message) -> str:
    call_id = text_field(object_field(message, "call"), "id")
    if call_id is None:
        raise MissingField(f"the {message['type']} message has no message.call.id")
    return key_part(call_id, "message.call.id")


# The calls whose `customer.number` the telephone network vouched for. Every other call (a
# `webCall` or websocket call, whose number the caller's own client sets; a type Vapi adds
# later; none at all) is an unknown caller: recognised by an allow-list, never a deny-list.
PHONE_CALL_TYPES = frozenset({"inboundPhoneCall", "outboundPhoneCall"})


def parties_of(message: Message, region: str) -> tuple[str | None, str | None]:
    """(the customer's number, ours): the customer called us, or we called them. None for the
    customer of any call that is not a phone call, whatever number it claims. The webhooks and
    the tools both read the caller here."""
    call = object_field(message, "call")
    ours = phone_of(text_field(object_field(message, "phoneNumber"), "number"), region)
    kind = call.get("type")
    # Checked as a string first: a list or an object is not hashable, so not a set member.
    if not isinstance(kind, str) or kind not in PHONE_CALL_TYPES:
        return None, ours
    customer = text_field(object_field(call, "customer"), "number") or text_field(
        object_field(message, "customer"), "number"
    )
    return phone_of(customer, region), ours


def phone_of(raw: str | None, region: str) -> str | None:
    return None if raw is None else normalize_phone(raw, region) or raw


def required_text(message: Message, name: str) -> str:
    value = text_field(message, name)
    if value is None:
        raise MissingField(f"the {message['type']} message has no message.{name}")
    return value


def key_part(value: str, name: str) -> str:
    if len(value) > MAX_KEY_LENGTH:
        raise MalformedBody(f"{name} is longer than {MAX_KEY_LENGTH} characters")
    return value


def text_field(source: dict[str, Any], name: str) -> str | None:
    value = source.get(name)
    return (value.strip() or None) if isinstance(value, str) else None


def prose_field(source: dict[str, Any], name: str) -> str | None:
    """Free text as it was sent (a summary, a transcript), or None if blank."""
    value = source.get(name)
    return value if isinstance(value, str) and value.strip() else None


def object_field(source: dict[str, Any], name: str) -> dict[str, Any]:
    value = source.get(name)
    return value if isinstance(value, dict) else {}


def list_field(source: dict[str, Any], name: str) -> list[Any] | None:
    value = source.get(name)
    return value if isinstance(value, list) and value else None


def first_present(*values: float | None) -> float | None:
    """The first value present: a cost or a duration of 0 is a value, not an absence."""
    return next((value for value in values if value is not None), None)


def number_of(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def timestamp_of(message: Message) -> str | None:
    """Vapi's envelope timestamp (epoch ms) as a key part, or None if it sent none."""
    value = message.get("timestamp")
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return key_part(value.strip(), "message.timestamp")
    return None


def seconds_between(started_at: str | None, ended_at: str | None) -> float | None:
    if started_at is None or ended_at is None:
        return None
    try:
        seconds = datetime.fromisoformat(ended_at) - datetime.fromisoformat(started_at)
    except (ValueError, TypeError):  # unparseable, or one has a zone and the other not
        return None
    return round(seconds.total_seconds(), 3)


def digest(text: str) -> str:
    return "sha256-" + hashlib.sha256(text.encode()).hexdigest()
