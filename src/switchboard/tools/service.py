"""Answering the assistant's tool calls: each once, each in one transaction, each audited."""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from pydantic import ValidationError

from switchboard.audit import service as audit
from switchboard.audit.models import Actor, ActorType, AuditEntry
from switchboard.auth_sessions import service as auth_sessions
from switchboard.auth_sessions.models import ASSURANCE_WINDOW
from switchboard.conversations import service as conversations
from switchboard.conversations.models import ConversationRef
from switchboard.db import database_fault
from switchboard.errors import InvalidInput, SwitchboardError, UnknownTool
from switchboard.identities.service import IdentityChannel, resolve_customer
from switchboard.privacy import Identifier, mask_card_numbers
from switchboard.tools import repository
from switchboard.tools.catalog import TOOLS, Tool
from switchboard.tools.context import ToolRun, ToolServices
from switchboard.tools.models import Answer, CallContext, Caller, Outcome, ToolCall, one_line
from switchboard.tools.repository import CallState

EVENT_VERSION = 1
INTERNAL_ERROR = (
    "internal_error: the bank's system could not complete this; try once more, or offer "
    "transfer_to_human"
)
# The database is away for a moment (a restart): the same call will likely work shortly.
UNAVAILABLE_HINT = "try the same tool again in a few seconds, or offer transfer_to_human"
log = logging.getLogger(__name__)


async def answer_tool_calls(
    pool: AsyncConnectionPool[Any],
    context: CallContext,
    calls: list[ToolCall],
    services: ToolServices,
) -> list[Answer]:
    """One answer per call, in the order asked. A call that fails unexpectedly still gets an
    answer (Vapi drops the whole reply unless it is a 200), and the others still run."""
    answers: list[Answer] = []
    try:
        async with pool.connection() as conn:
            for call in calls:
                started = time.perf_counter()
                try:
                    answer = await answer_tool_call(conn, context, call, services)
                except Exception as exc:
                    answer, code = _failed(call, exc)
                    if not conn.broken:
                        await _audit_failure(conn, context, call, answer, code)
                _count(services, answer, time.perf_counter() - started)
                answers.append(answer)
    except Exception as exc:  # no connection to be had
        if database_fault(exc) is None:
            raise
        for call in calls[len(answers) :]:
            answer = _failed(call, exc)[0]
            _count(services, answer, None)
            answers.append(answer)
    return answers


def _count(services: ToolServices, answer: Answer, seconds: float | None) -> None:
    """Counted by tool (a name the catalog does not know as `unknown`, since the assistant's
    prompt writes it) and outcome: ok, or the error code the answer starts with; timed
    unless it was answered without being run (no connection to be had)."""
    tool = answer.name if answer.name in TOOLS else "unknown"
    outcome = "ok" if answer.error is None else answer.error.split(":", 1)[0]
    services.metrics.tool_calls.labels(tool, outcome).inc()
    if seconds is not None:
        services.metrics.tool_seconds.labels(tool).observe(seconds)


def _failed(call: ToolCall, exc: Exception) -> tuple[Answer, str]:
    """The answer to a tool call that failed unexpectedly, and its error code: to be tried
    again shortly while the database is unavailable, internal_error (logged) otherwise."""
    fault = database_fault(exc)
    if fault is not None:
        log.warning("tool call %s (%s): %s", call.id, call.name, str(exc).strip())
        error = _error_text(fault, hint=UNAVAILABLE_HINT)
        return Answer(call.id, call.name, error=error), fault.code
    log.error("tool call %s (%s) failed", call.id, call.name, exc_info=exc)
    return Answer(call.id, call.name, error=INTERNAL_ERROR), "internal_error"


async def answer_tool_call(
    conn: AsyncConnection[Any], context: CallContext, call: ToolCall, services: ToolServices
) -> Answer:
    """Run the tool, or give the answer it gave the first time this tool call arrived."""
    async with conn.transaction():
        # Every tool call of a call takes the call's lock: a replay of this one waits here
        # for the first to commit, then finds its answer.
        await conversations.lock_call(conn, context.call_id)
        when = services.now()
        state = await repository.read_call_state(
            conn,
            call_id=context.call_id,
            tool_call_id=call.id,
            since=when - ASSURANCE_WINDOW,
            channels=auth_sessions.verifying_channels(services.settings.email_otp_level_2),
        )
        if state.answer is not None:
            earlier = state.answer
            return Answer(call.id, earlier["name"], earlier.get("result"), earlier.get("error"))
        caller = await _caller(conn, context, services, state, when)
        tool = TOOLS.get(call.name)
        run = ToolRun(
            conn, Actor(ActorType.AI_AGENT, context.assistant_id), context, caller, services
        )
        outcome, error = await _outcome(run, tool, call)
        answer = (
            Answer(call.id, call.name, error=error)
            if error is not None
            else Answer(call.id, call.name, result=one_line(outcome.result))
        )
        await repository.insert_answer(
            conn,
            call_id=context.call_id,
            tool_call_id=call.id,
            tool_name=call.name,
            conversation_id=caller.conversation_id,
            answer=_kept(answer),
            audit=audit.values_now(_entry(run, tool, call, outcome, error)),
        )
    return answer


def _kept(answer: Answer) -> dict[str, str]:
    """The answer as cc_tool_calls keeps it: card numbers masked in its text, its toolCallId
    and name exactly as sent (Vapi matches the answer to its call by that id)."""
    return replace(
        answer,
        result=None if answer.result is None else mask_card_numbers(answer.result),
        error=None if answer.error is None else mask_card_numbers(answer.error),
    ).for_vapi()


async def _caller(
    conn: AsyncConnection[Any],
    context: CallContext,
    services: ToolServices,
    state: CallState,
    when: datetime,
) -> Caller:
    """The call's conversation and the caller's assurance level, from what Switchboard holds
    (the call's lock held). The customer is looked up by the calling number only while the
    conversation has none."""
    if state.conversation_id is not None and state.bank_customer_id is not None:
        assurance = auth_sessions.assurance_from(
            state.bank_customer_id, state.verified_at, matched=True
        )
        return Caller(state.conversation_id, state.bank_customer_id, assurance.level)
    found = (
        None
        if state.conversation_id is None
        else ConversationRef(state.conversation_id, None, created=False)
    )
    customer_id = await resolve_customer(conn, IdentityChannel.PHONE, context.caller)
    conversation = await conversations.continue_or_open_call(
        conn, call_id=context.call_id, bank_customer_id=customer_id, latest=found
    )
    if conversation.created:  # no code can have been verified in it yet: nothing to read
        assurance = auth_sessions.assurance_from(conversation.bank_customer_id, None, matched=True)
        return Caller(conversation.id, conversation.bank_customer_id, assurance.level)
    assurance = await auth_sessions.assurance(
        conn,
        conversation_id=conversation.id,
        bank_customer_id=conversation.bank_customer_id,
        now=when,
        email_otp_level_2=services.settings.email_otp_level_2,
        matched=True,
    )
    return Caller(conversation.id, conversation.bank_customer_id, assurance.level)


async def _outcome(run: ToolRun, tool: Tool | None, call: ToolCall) -> tuple[Outcome, str | None]:
    """What the tool did, or the error to answer with. Not wrapped in a savepoint: every
    service a tool calls is atomic on its own (it raises before it writes, or keeps a
    savepoint of its own), and some commit a state change before they raise (a code found
    expired is marked so), which must stay."""
    try:
        if call.problem is not None:
            raise InvalidInput(call.problem)
        if tool is None:
            known = ", ".join(TOOLS)
            raise UnknownTool(f"there is no tool {call.name!r}", hint=f"the tools are: {known}")
        try:
            arguments = tool.arguments.model_validate(call.arguments)
        except ValidationError as exc:
            raise InvalidInput(
                f"the arguments of {tool.name} are not valid: {_problems(exc)}",
                hint="see the tool's parameters",
            ) from None
        return await tool.handler(run, arguments), None
    except SwitchboardError as exc:
        return Outcome({}, success=False, error_code=exc.code), _error_text(exc)


def _error_text(exc: SwitchboardError, *, hint: str | None = None) -> str:
    """`<code>: <what>. <hint>` on one line, as Vapi requires."""
    hint = hint or exc.hint
    text = f"{exc.code}: {exc.message}" + (f". {hint}" if hint else "")
    return " ".join(text.split())


def _problems(exc: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in error['loc']) or 'arguments'}: {error['msg']}"
        for error in exc.errors()
    )


def _audited_input(tool: Tool | None, call: ToolCall) -> dict[str, Any]:
    if tool is None:
        return {"name": call.name[:100], "argument_names": sorted(a[:64] for a in call.arguments)}
    return tool.audited_input(call.arguments)


def _entry(
    run: ToolRun, tool: Tool | None, call: ToolCall, outcome: Outcome, error: str | None
) -> AuditEntry:
    audited_input = _audited_input(tool, call)
    output = {"error": error} if error is not None else (outcome.audit or outcome.result)
    return AuditEntry(
        actor_type=run.actor.type,
        actor_id=run.actor.id,
        event_type=f"tool.{tool.name}" if tool is not None else "tool.unknown",
        event_version=EVENT_VERSION,
        success=outcome.success and error is None,
        input={
            "tool_call_id": Identifier(call.id),
            "call_id": Identifier(run.context.call_id),
            "assurance_level": run.caller.level,
            "arguments": audited_input,
        },
        output=output,
        error_code=outcome.error_code,
        conversation_id=run.caller.conversation_id,
        case_id=outcome.case_id,
        bank_customer_id=run.caller.bank_customer_id,
    )


async def _audit_failure(
    conn: AsyncConnection[Any], context: CallContext, call: ToolCall, answer: Answer, code: str
) -> None:
    """The tool call's one audit record when its transaction failed and rolled back: nothing
    it did is kept (so a redelivery runs it again), but the attempt is on record."""
    tool = TOOLS.get(call.name)
    try:
        async with conn.transaction():
            await audit.append(
                conn,
                AuditEntry(
                    actor_type=ActorType.AI_AGENT,
                    actor_id=context.assistant_id,
                    event_type=f"tool.{tool.name}" if tool is not None else "tool.unknown",
                    event_version=EVENT_VERSION,
                    success=False,
                    error_code=code,
                    input={
                        "tool_call_id": Identifier(call.id),
                        "call_id": Identifier(context.call_id),
                        "arguments": _audited_input(tool, call),
                    },
                    output={"error": answer.error},
                ),
            )
    except Exception:
        log.exception("could not audit the failed tool call %s", call.id)
