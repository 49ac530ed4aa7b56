"""Vapi server messages: a call's status changes, final transcript turns, end-of-call report and
history updates, all landing in the call's one conversation.

Vapi authenticates with the shared secret VAPI_SECRET, sent either as `X-Vapi-Secret: <secret>`
(the legacy inline secret) or as `Authorization: Bearer <secret>` (a Bearer credential).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Awaitable, Callable
from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from psycopg import AsyncConnection

from switchboard.calls import service as calls
from switchboard.calls.models import CallEvent, CallEventType
from switchboard.conversations.models import Channel, Provider
from switchboard.errors import InvalidSignature, MalformedBody, MissingField, WebhookRejected
from switchboard.identities.normalize import normalize_phone
from switchboard.messages import service as messages
from switchboard.messages.models import Direction, InboundMessage, Recorded, Thread
from switchboard.messages.service import MAX_KEY_LENGTH, UNSTORABLE
from switchboard.webhooks.common import (
    CurrentSettings,
    Pool,
    audit_rejection,
    read_body,
    require_media_type,
    require_secret,
    same_secret,
    settings_of,
)

router = APIRouter(prefix="/webhooks", tags=["vapi"])


class Kept(StrEnum):
    """The message types that are stored; every other type is acknowledged and ignored."""

    STATUS_UPDATE = "status-update"
    TRANSCRIPT = "transcript"
    # What a server subscribed to final transcripts only receives them as.
    FINAL_TRANSCRIPT = 'transcript[transcriptType="final"]'
    END_OF_CALL_REPORT = "end-of-call-report"
    CONVERSATION_UPDATE = "conversation-update"


Message = dict[str, Any]
Recorder = Callable[[AsyncConnection[Any]], Awaitable[Recorded]]


async def verified_message(request: Request) -> Message:
    """The server message (the body's `message` object), once the secret has been checked."""
    settings = settings_of(request)
    body = await read_body(request, settings.max_body_bytes)
    require_media_type(request, "application/json")
    try:
        # HTTP trims header values, so a secret with surrounding blanks could never match.
        secret = require_secret(settings.vapi_secret, "VAPI_SECRET").strip()
        if not _presents_secret(request, secret):
            raise InvalidSignature(
                "neither X-Vapi-Secret nor Authorization: Bearer carries the Vapi secret",
                hint="set the server credential in Vapi to the value of VAPI_SECRET",
            )
    except WebhookRejected as rejection:
        await audit_rejection(request, Provider.VAPI, rejection)
        raise
    return _server_message(body)


def _presents_secret(request: Request, secret: str) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" else None
    # Both are compared whichever is present, so the time taken says nothing about either.
    by_header = same_secret(request.headers.get("x-vapi-secret"), secret)
    by_bearer = same_secret(bearer, secret)
    return by_header or by_bearer


VapiMessage = Annotated[Message, Depends(verified_message)]


@router.post("/vapi", summary="Vapi server message")
async def server_message(
    message: VapiMessage, pool: Pool, settings: CurrentSettings
) -> dict[str, Any]:
    """Every type is answered with `{}`: Vapi reads a reply only for request types such as
    tool-calls, and none of those is handled here."""
    record = _recorder_for(message, settings.default_phone_region)
    if record is not None:
        async with pool.connection() as conn:
            await record(conn)
    return {}


def _recorder_for(message: Message, region: str) -> Recorder | None:
    """The one service call this message asks for, or None for a type we do not keep."""
    match message["type"]:
        case Kept.STATUS_UPDATE:
            event = _status_event(message, region)
            return lambda conn: calls.record_call_event(conn, event)
        case Kept.TRANSCRIPT | Kept.FINAL_TRANSCRIPT:
            turn = _transcript_turn(message, region)
            return None if turn is None else lambda conn: messages.record_inbound(conn, turn)
        case Kept.END_OF_CALL_REPORT:
            report = _end_of_call_report(message, region)
            return lambda conn: calls.record_call_ended(conn, report)
        case Kept.CONVERSATION_UPDATE:
            update = _conversation_update(message, region)
            return lambda conn: calls.record_call_event(conn, update)
        case _:
            return None


def _status_event(message: Message, region: str) -> CallEvent:
    call_id = _call_id(message)
    status = _key_part(_required_text(message, "status"), "message.status")
    details = {"status": status}
    ended_reason = _text(message, "endedReason")
    if ended_reason:
        details["ended_reason"] = ended_reason
    customer, ours = _parties(message, region)
    return CallEvent(
        call_id=call_id,
        event_key=f"{call_id}:status:{status}",
        event_type=CallEventType.STATUS,
        customer_address=customer,
        our_number=ours,
        details=details,
    )


def _transcript_turn(message: Message, region: str) -> InboundMessage | None:
    """A final turn as a message of the call; None for a partial one, which the final turn
    will repeat."""
    if message["type"] == Kept.FINAL_TRANSCRIPT:
        transcript_type = _text(message, "transcriptType") or "final"
    else:
        transcript_type = _required_text(message, "transcriptType")
    if transcript_type != "final":
        return None
    call_id = _call_id(message)
    role = _key_part(_required_text(message, "role"), "message.role")
    transcript = message.get("transcript")
    if not isinstance(transcript, str):
        raise MissingField("the transcript message has no message.transcript text")
    # Vapi's envelope timestamp (ms) is the same on every redelivery of the turn.
    stamp = _timestamp(message)
    turn_key = f"{stamp}:{role}" if stamp else _digest(f"{role}\n{transcript}")
    customer, ours = _parties(message, region)
    spoken_by_customer = role == "user"
    body_json: dict[str, Any] = {"role": role, "transcriptType": transcript_type}
    if isinstance(message.get("isFiltered"), bool):
        body_json["isFiltered"] = message["isFiltered"]
    return InboundMessage(
        provider=Provider.VAPI,
        channel=Channel.VOICE,
        provider_message_id=f"{call_id}:transcript:{turn_key}",
        from_address=customer if spoken_by_customer else ours,
        to_address=ours if spoken_by_customer else customer,
        body_text=transcript,
        body_json=body_json,
        thread=Thread(key=call_id, one_per_call=True),
        event_type=CallEventType.TRANSCRIPT,
        direction=Direction.INBOUND if spoken_by_customer else Direction.OUTBOUND,
    )


def _end_of_call_report(message: Message, region: str) -> InboundMessage:
    """The report as the call's last message. Current payloads carry the recording and
    transcript in `artifact` and the summary in `analysis`; older ones at the top level."""
    call_id = _call_id(message)
    artifact = _object(message, "artifact")
    recording = _object(artifact, "recording")
    call = _object(message, "call")
    summary = _prose(_object(message, "analysis"), "summary") or _prose(message, "summary")
    started_at = _text(message, "startedAt") or _text(call, "startedAt")
    ended_at = _text(message, "endedAt") or _text(call, "endedAt")
    report = {
        "summary": summary,
        "endedReason": _text(message, "endedReason") or _text(call, "endedReason"),
        "recordingUrl": _text(artifact, "recordingUrl")
        or _text(message, "recordingUrl")
        or _text(_object(recording, "mono"), "combinedUrl")
        or _text(recording, "url"),
        "stereoRecordingUrl": _text(artifact, "stereoRecordingUrl")
        or _text(message, "stereoRecordingUrl")
        or _text(recording, "stereoUrl"),
        "cost": _first(_number(message.get("cost")), _number(call.get("cost"))),
        "costs": _list(message, "costs") or _list(call, "costs"),
        "startedAt": started_at,
        "endedAt": ended_at,
        "durationSeconds": _first(
            _number(message.get("durationSeconds")), _seconds_between(started_at, ended_at)
        ),
        "transcript": _prose(artifact, "transcript") or _prose(message, "transcript"),
    }
    customer, ours = _parties(message, region)
    return InboundMessage(
        provider=Provider.VAPI,
        channel=Channel.VOICE,
        provider_message_id=f"{call_id}:end-of-call-report",
        from_address=customer,
        to_address=ours,
        body_text=summary,
        body_json={name: value for name, value in report.items() if value is not None},
        thread=Thread(key=call_id, one_per_call=True),
        event_type=CallEventType.ENDED,
    )


def _conversation_update(message: Message, region: str) -> CallEvent:
    """Only audited: it repeats the whole history so far, and the final transcript turns are
    already the call's messages, so storing it again would duplicate every turn."""
    call_id = _call_id(message)
    history = message.get("messages")
    if not isinstance(history, list):
        raise MissingField("the conversation-update has no message.messages list")
    stamp = _timestamp(message)
    update_key = stamp or _digest(json.dumps(history, sort_keys=True))
    # The system prompt is part of the history but not a turn anyone took.
    turns = sum(
        1 for item in history if not (isinstance(item, dict) and item.get("role") == "system")
    )
    customer, ours = _parties(message, region)
    return CallEvent(
        call_id=call_id,
        event_key=f"{call_id}:conversation-update:{update_key}",
        event_type=CallEventType.CONVERSATION_UPDATED,
        customer_address=customer,
        our_number=ours,
        details={"turns": turns},
    )


def _server_message(body: bytes) -> Message:
    try:
        payload = json.loads(body, parse_constant=_refuse_constant)
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
    _refuse_unstorable(message)
    return message


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _refuse_unstorable(value: Any) -> None:
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


def _call_id(message: Message) -> str:
    call_id = _text(_object(message, "call"), "id")
    if call_id is None:
        raise MissingField(f"the {message['type']} message has no message.call.id")
    return _key_part(call_id, "message.call.id")


def _parties(message: Message, region: str) -> tuple[str | None, str | None]:
    """(the customer's number, ours): the customer called us, or we called them."""
    customer = _text(_object(_object(message, "call"), "customer"), "number") or _text(
        _object(message, "customer"), "number"
    )
    ours = _text(_object(message, "phoneNumber"), "number")
    return _phone(customer, region), _phone(ours, region)


def _phone(raw: str | None, region: str) -> str | None:
    return None if raw is None else normalize_phone(raw, region) or raw


def _required_text(message: Message, name: str) -> str:
    value = _text(message, name)
    if value is None:
        raise MissingField(f"the {message['type']} message has no message.{name}")
    return value


def _key_part(value: str, name: str) -> str:
    if len(value) > MAX_KEY_LENGTH:
        raise MalformedBody(f"{name} is longer than {MAX_KEY_LENGTH} characters")
    return value


def _text(source: dict[str, Any], name: str) -> str | None:
    value = source.get(name)
    return (value.strip() or None) if isinstance(value, str) else None


def _prose(source: dict[str, Any], name: str) -> str | None:
    """Free text as it was sent (a summary, a transcript), or None if blank."""
    value = source.get(name)
    return value if isinstance(value, str) and value.strip() else None


def _object(source: dict[str, Any], name: str) -> dict[str, Any]:
    value = source.get(name)
    return value if isinstance(value, dict) else {}


def _list(source: dict[str, Any], name: str) -> list[Any] | None:
    value = source.get(name)
    return value if isinstance(value, list) and value else None


def _first(*values: float | None) -> float | None:
    """The first value present: a cost or a duration of 0 is a value, not an absence."""
    return next((value for value in values if value is not None), None)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return value


def _timestamp(message: Message) -> str | None:
    """Vapi's envelope timestamp (epoch ms) as a key part, or None if it sent none."""
    value = message.get("timestamp")
    if isinstance(value, float) and math.isfinite(value):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, str) and value.strip():
        return _key_part(value.strip(), "message.timestamp")
    return None


def _seconds_between(started_at: str | None, ended_at: str | None) -> float | None:
    if started_at is None or ended_at is None:
        return None
    try:
        seconds = datetime.fromisoformat(ended_at) - datetime.fromisoformat(started_at)
    except (ValueError, TypeError):  # unparseable, or one has a zone and the other not
        return None
    return round(seconds.total_seconds(), 3)


def _digest(text: str) -> str:
    return "sha256-" + hashlib.sha256(text.encode()).hexdigest()
