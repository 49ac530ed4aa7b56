"""Each tool's arguments, checked strictly: the assistant is a language model, and what it
sends is read as untrusted input. The JSON schemas given to Vapi are generated from these."""

from __future__ import annotations

from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from switchboard.assignments.models import Queue
from switchboard.cases.models import CasePriority, CaseType
from switchboard.preferences.models import ContactChannel


class Arguments(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# A tool that takes nothing is given the base's empty, strict arguments. No class of its own:
# a class's docstring would be sent to the model as its schema's description.
NoArguments = Arguments


class StartVerification(Arguments):
    channel: Literal["sms", "email"] = Field(
        description="Where the one-time code goes: sms to the customer's number on file, or "
        "email to their address on file. Use one of the options identify_caller listed."
    )


class CheckVerification(Arguments):
    code: str = Field(
        min_length=4,
        max_length=20,
        description="The code exactly as the caller read it out, digits only.",
    )


class ListCases(Arguments):
    include_closed: bool = Field(
        default=False, description="Also list closed cases (by default only the ones still open)."
    )


class GetCase(Arguments):
    case_id: UUID = Field(description="The case's id, as list_cases or create_case gave it.")


class CreateCase(Arguments):
    case_type: CaseType = Field(description="What the case is about.")
    priority: CasePriority = Field(
        default=CasePriority.NORMAL,
        description="urgent only for money being lost now (fraud in progress, a lost card).",
    )
    summary: str = Field(
        min_length=1,
        max_length=500,
        description="One or two sentences in the caller's terms. Never include a full card "
        "number, a PIN, a password or a one-time code.",
    )


class AddCaseNote(Arguments):
    case_id: UUID = Field(description="The case's id.")
    note: str = Field(min_length=1, max_length=4000, description="What to add to the case.")


class TransferToHuman(Arguments):
    queue: Queue = Field(default=Queue.GENERAL, description="The team the caller needs.")
    reason: str = Field(
        min_length=1, max_length=500, description="Why the caller needs a person, in a sentence."
    )


class SetContactPreferences(Arguments):
    do_not_contact: bool | None = Field(
        default=None,
        description="true: no service or marketing messages at all (one-time codes and fraud "
        "alerts still go). Leave out to keep the current value.",
    )
    allowed_channels: list[ContactChannel] | None = Field(
        default=None,
        description="The only channels service and marketing messages may use. Leave out to "
        "keep the current list.",
    )
    timezone: str | None = Field(
        default=None,
        max_length=64,
        description="The customer's IANA time zone, e.g. Europe/London, for quiet hours.",
    )


class SendMessage(Arguments):
    channel: Literal["sms", "email"] = Field(
        description="sms to the customer's number on file, or email to their address on file."
    )
    text: str = Field(
        min_length=1,
        max_length=1000,
        description="The message. Never include a full card number, a PIN or a password.",
    )
    subject: str | None = Field(default=None, max_length=200, description="Email subject.")


def json_schema(model: type[Arguments]) -> dict[str, Any]:
    """The model's JSON schema with its definitions inlined, titles dropped and optional values
    written as plain types: the shape function-calling models read best."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})
    plain: dict[str, Any] = _plain(schema, definitions)
    return plain


def _plain(node: Any, definitions: dict[str, Any]) -> Any:
    if isinstance(node, list):
        return [_plain(item, definitions) for item in node]
    if not isinstance(node, dict):
        return node
    if "$ref" in node:
        target = definitions[node["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in node.items() if k != "$ref"}}
        return _plain(merged, definitions)
    branches = node.get("anyOf")
    if isinstance(branches, list):
        # `X | None = None` is "may be left out" to a function-calling model: drop the null.
        present = [branch for branch in branches if branch != {"type": "null"}]
        if len(present) == 1 and len(branches) == 2:
            rest = {k: v for k, v in node.items() if k != "anyOf" and v is not None}
            return _plain({**present[0], **rest}, definitions)
    return {key: _plain(value, definitions) for key, value in node.items() if key != "title"}
