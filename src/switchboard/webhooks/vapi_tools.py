"""Vapi `tool-calls` messages read into tool calls. Vapi has sent three shapes over time, and
all are read: `toolCallList` items as OpenAI function calls (`function.name`, `function.arguments`
as a JSON string or an object) or flat (`name`, `arguments` | `parameters`);
`toolWithToolCallList` items wrapping one in `toolCall`; and the older `toolCalls`."""

from __future__ import annotations

from typing import Any

from switchboard.errors import MalformedBody, MissingField
from switchboard.tools.models import CallContext, ToolCall
from switchboard.webhooks.common import json_of
from switchboard.webhooks.vapi_fields import (
    Message,
    call_id_of,
    key_part,
    object_field,
    parties_of,
    refuse_unstorable,
    text_field,
)

TOOL_CALLS = "tool-calls"
MAX_CALLS = 20  # per message; a model asks for a few at a time
# The actor of the audit trail when Vapi names no assistant (a transient assistant).
UNNAMED_ASSISTANT = "vapi-assistant"


def tool_calls_of(message: Message, region: str) -> tuple[CallContext, list[ToolCall]]:
    customer, ours = parties_of(message, region)
    call = object_field(message, "call")
    assistant_id = (
        text_field(call, "assistantId")
        or text_field(object_field(message, "assistant"), "id")
        or UNNAMED_ASSISTANT
    )
    context = CallContext(
        call_id=call_id_of(message),
        assistant_id=key_part(assistant_id, "the assistant id"),
        caller=customer,
        our_number=ours,
    )
    items = _items(message)
    if len(items) > MAX_CALLS:
        raise MalformedBody(f"{len(items)} tool calls in one message; at most {MAX_CALLS}")
    return context, [_tool_call(item) for item in items]


def _items(message: Message) -> list[dict[str, Any]]:
    listed = message.get("toolCallList")
    if isinstance(listed, list) and listed:
        return [_mapping(item) for item in listed]
    wrapped = message.get("toolWithToolCallList")
    if isinstance(wrapped, list) and wrapped:
        return [_mapping(_mapping(item).get("toolCall")) for item in wrapped]
    legacy = message.get("toolCalls")
    if isinstance(legacy, list) and legacy:
        return [_mapping(item) for item in legacy]
    raise MissingField("the tool-calls message lists no tool calls (toolCallList)")


def _tool_call(item: dict[str, Any]) -> ToolCall:
    raw_id = item.get("id")
    if not isinstance(raw_id, str) or not raw_id.strip():
        raise MissingField("a tool call has no id, so no answer could be matched to it")
    # Echoed exactly as sent: Vapi matches the answer to the call by this string.
    tool_call_id = key_part(raw_id, "the tool call id")
    function = object_field(item, "function")
    name = text_field(function, "name") or text_field(item, "name")
    if name is None:
        # Answered as this call's error; the other calls of the message still run.
        return ToolCall(tool_call_id, "", {}, "the tool call names no function")
    raw: Any = next(
        (
            source[key]
            for source, key in ((function, "arguments"), (item, "arguments"), (item, "parameters"))
            if source.get(key) is not None
        ),
        {},
    )
    arguments, problem = _arguments(raw)
    return ToolCall(
        tool_call_id,
        key_part(name, "the tool name"),
        arguments,
        problem,
    )


def _arguments(raw: Any) -> tuple[dict[str, Any], str | None]:
    """The arguments as an object; a problem with them is answered to the assistant as an
    error of that one call, not a refusal of the whole message."""
    if isinstance(raw, str):
        if not raw.strip():
            return {}, None
        try:
            raw = json_of(raw)
        except (ValueError, RecursionError):
            return {}, "the arguments are not valid JSON"
    if not isinstance(raw, dict):
        return {}, "the arguments must be a JSON object"
    try:  # a JSON string's escapes decode only now: "\u0000" was not in the body as a NUL
        refuse_unstorable(raw)
    except MalformedBody:
        return {}, "the arguments hold a NUL character or a lone surrogate"
    return raw, None


def _mapping(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedBody("each tool call must be a JSON object")
    return value
