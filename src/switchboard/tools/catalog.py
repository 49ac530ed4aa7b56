"""Every tool: its name, what the assistant is told about it, its arguments, and its handler.
`switchboard vapi tools` prints these in Vapi's format."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from switchboard.tools import casework, contact, identity
from switchboard.tools.arguments import (
    AddCaseNote,
    Arguments,
    CheckVerification,
    CreateCase,
    GetCase,
    ListCases,
    NoArguments,
    SendMessage,
    SetContactPreferences,
    StartVerification,
    TransferToHuman,
    json_schema,
)
from switchboard.tools.context import ToolRun
from switchboard.tools.models import Outcome, ToolName

Handler = Callable[[ToolRun, Any], Awaitable[Outcome]]
REDACTED = "••••••"


@dataclass(frozen=True)
class Tool:
    name: ToolName
    description: str
    arguments: type[Arguments]
    handler: Handler
    # Arguments the audit trail must not keep: secrets are replaced, free text is counted.
    secret: frozenset[str] = frozenset()
    prose: frozenset[str] = frozenset()

    def audited_input(self, arguments: dict[str, Any]) -> dict[str, Any]:
        """Declared arguments only: a model that misnames one (`otp` for `code`) may have put a
        secret under any name, so an undeclared argument is kept by its name alone."""
        declared = self.arguments.model_fields
        kept: dict[str, Any] = {}
        unexpected = sorted(name[:64] for name in arguments if name not in declared)
        for name, value in arguments.items():
            if name not in declared:
                continue
            if name in self.secret:
                kept[name] = REDACTED
            elif name in self.prose:
                kept[f"{name}_chars"] = len(value) if isinstance(value, str) else None
            else:
                kept[name] = value
        if unexpected:
            kept["unexpected_arguments"] = unexpected
        return kept

    def vapi_definition(self, server_url: str) -> dict[str, Any]:
        return {
            "type": "function",
            "async": False,
            "function": {
                "name": str(self.name),
                "description": self.description,
                "parameters": json_schema(self.arguments),
            },
            "server": {"url": server_url},
        }


_VERIFIED_ONLY = " Works only once the caller is verified (check_verification succeeded)."

TOOLS: dict[str, Tool] = {
    tool.name: tool
    for tool in (
        Tool(
            ToolName.IDENTIFY_CALLER,
            "Call first. Says whether the calling number belongs to a known customer and how "
            "they can be verified (masked destinations for a one-time code). Never gives a "
            "name or account details.",
            NoArguments,
            identity.identify_caller,
        ),
        Tool(
            ToolName.START_VERIFICATION,
            "Send the recognised caller a one-time code by sms or email, to their details on "
            "file. Then ask them to read it out and call check_verification.",
            StartVerification,
            identity.start_verification,
        ),
        Tool(
            ToolName.CHECK_VERIFICATION,
            "Check the one-time code the caller read out. verified true means the caller may "
            "now be helped with their cases and preferences.",
            CheckVerification,
            identity.check_verification,
            secret=frozenset({"code"}),
        ),
        Tool(
            ToolName.LIST_CASES,
            "The caller's cases, newest first." + _VERIFIED_ONLY,
            ListCases,
            casework.list_cases,
        ),
        Tool(
            ToolName.GET_CASE,
            "One of the caller's cases in detail." + _VERIFIED_ONLY,
            GetCase,
            casework.get_case,
        ),
        Tool(
            ToolName.CREATE_CASE,
            "Open a case for the caller (fraud, a card problem, a payment, a complaint...)."
            + _VERIFIED_ONLY,
            CreateCase,
            casework.create_case,
            prose=frozenset({"summary"}),
        ),
        Tool(
            ToolName.ADD_CASE_NOTE,
            "Add what the caller said to one of their cases; notes are never edited."
            + _VERIFIED_ONLY,
            AddCaseNote,
            casework.add_case_note,
            prose=frozenset({"note"}),
        ),
        Tool(
            ToolName.TRANSFER_TO_HUMAN,
            "Hand the call to a person in the right team, with the reason. Use it whenever "
            "the caller asks for a person, cannot be verified, or needs more than these tools.",
            TransferToHuman,
            contact.transfer_to_human,
            prose=frozenset({"reason"}),
        ),
        Tool(
            ToolName.SET_CONTACT_PREFERENCES,
            "Change how the bank may contact the caller: do not contact, allowed channels, "
            "time zone." + _VERIFIED_ONLY,
            SetContactPreferences,
            contact.set_contact_preferences,
        ),
        Tool(
            ToolName.SEND_MESSAGE,
            "Send the caller a service message by sms or email, to their details on file. "
            "Respects their contact preferences and quiet hours." + _VERIFIED_ONLY,
            SendMessage,
            contact.send_message,
            prose=frozenset({"text", "subject"}),
        ),
    )
}


def vapi_definitions(server_url: str) -> list[dict[str, Any]]:
    return [tool.vapi_definition(server_url) for tool in TOOLS.values()]
