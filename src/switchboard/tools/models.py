"""A tool call as the assistant makes it, the call it is made in, and the answer it gets."""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from uuid import UUID


class ToolName(StrEnum):
    IDENTIFY_CALLER = "identify_caller"
    START_VERIFICATION = "start_verification"
    CHECK_VERIFICATION = "check_verification"
    LIST_CASES = "list_cases"
    GET_CASE = "get_case"
    CREATE_CASE = "create_case"
    ADD_CASE_NOTE = "add_case_note"
    TRANSFER_TO_HUMAN = "transfer_to_human"
    SET_CONTACT_PREFERENCES = "set_contact_preferences"
    SEND_MESSAGE = "send_message"


# Assurance levels: how sure Switchboard is of who is calling, decided from the conversation's
# verified state, never from anything the assistant says.
UNKNOWN_CALLER = 0  # the calling number is linked to no customer
LINKED_NUMBER = 1  # the calling number is one of a customer's linked identities
VERIFIED = 2  # a one-time code was verified in this conversation within the last 15 minutes


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: dict[str, Any]
    # Why the arguments could not be read (not JSON, not an object); answered as an error.
    problem: str | None = None


@dataclass(frozen=True)
class CallContext:
    """The voice call a batch of tool calls was made in, as Vapi describes it."""

    call_id: str
    assistant_id: str
    caller: str | None  # the customer's number, normalised
    our_number: str | None


@dataclass(frozen=True)
class Caller:
    """The call's conversation and who Switchboard knows the caller to be."""

    conversation_id: UUID
    bank_customer_id: UUID | None
    level: int


@dataclass(frozen=True)
class Outcome:
    """What a tool did: the result for the assistant and what the audit trail keeps of it."""

    result: dict[str, Any]
    audit: dict[str, Any] | None = None  # None: the result itself
    success: bool = True
    error_code: str | None = None
    case_id: UUID | None = None


@dataclass(frozen=True)
class Answer:
    tool_call_id: str
    name: str
    result: str | None = None
    error: str | None = None

    def for_vapi(self) -> dict[str, str]:
        answer = {"toolCallId": self.tool_call_id, "name": self.name}
        if self.error is not None:
            answer["error"] = self.error
        else:
            answer["result"] = self.result or ""
        return answer


def one_line(value: Any) -> str:
    """Vapi reads a result only as a single-line string: compact JSON never breaks a line."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, default=str)
