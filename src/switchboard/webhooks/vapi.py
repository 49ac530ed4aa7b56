"""Vapi server messages: a call's status changes, final transcript turns, end-of-call report and
history updates, all landing in the call's one conversation.

Vapi authenticates with the shared secret VAPI_SECRET, sent either as `X-Vapi-Secret: <secret>`
(the legacy inline secret) or as `Authorization: Bearer <secret>` (a Bearer credential).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from enum import StrEnum
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from psycopg_pool import AsyncConnectionPool

from switchboard.api_docs import WEBHOOK_ERRORS
from switchboard.auth_sessions.codes import OtpConfig
from switchboard.calls import service as calls
from switchboard.calls.models import CallEvent, CallEventType
from switchboard.conversations.models import Channel, Provider
from switchboard.errors import InvalidSignature, MissingField, WebhookRejected
from switchboard.http_app import RequestRoute
from switchboard.http_limits import BodyLimit
from switchboard.messages.inbound import record_inbound
from switchboard.messages.models import Direction, InboundMessage, Recorded, Thread
from switchboard.settings import Settings
from switchboard.tools import service as tools
from switchboard.tools.context import ToolServices
from switchboard.webhooks.common import (
    audit_rejection,
    body_limit,
    count_delivery,
    pool_of,
    read_body,
    require_media_type,
    require_secret,
    same_secret,
    settings_of,
)
from switchboard.webhooks.vapi_fields import (
    Message,
    call_id_of,
    digest,
    first_present,
    key_part,
    list_field,
    number_of,
    object_field,
    parse_server_message,
    parties_of,
    prose_field,
    required_text,
    seconds_between,
    text_field,
    timestamp_of,
)
from switchboard.webhooks.vapi_tools import TOOL_CALLS, tool_calls_of

router = APIRouter(prefix="/webhooks", tags=["vapi"], responses=WEBHOOK_ERRORS)


def body_limit_of(settings: Settings) -> BodyLimit:
    return body_limit(f"{router.prefix}/vapi", Provider.VAPI, settings.max_body_bytes)


class Kept(StrEnum):
    """The message types that are stored; every other type is acknowledged and ignored."""

    STATUS_UPDATE = "status-update"
    TRANSCRIPT = "transcript"
    # What a server subscribed to final transcripts only receives them as.
    FINAL_TRANSCRIPT = 'transcript[transcriptType="final"]'
    END_OF_CALL_REPORT = "end-of-call-report"
    CONVERSATION_UPDATE = "conversation-update"


Recorder = Callable[[AsyncConnectionPool[Any]], Awaitable[Recorded]]


async def verified_message(request: Request) -> Message:
    """The server message (the body's `message` object), once the secret has been checked."""
    settings = settings_of(request)
    body = await read_body(request)
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
    return parse_server_message(body)


def _presents_secret(request: Request, secret: str) -> bool:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    bearer = token.strip() if scheme.lower() == "bearer" else None
    # Both are compared whichever is present, so the time taken says nothing about either.
    by_header = same_secret(request.headers.get("x-vapi-secret"), secret)
    by_bearer = same_secret(bearer, secret)
    return by_header or by_bearer


async def server_message(request: Request) -> Response:
    """tool-calls are answered with their results, in order; every other type with `{}`, as
    Vapi reads no reply for them."""
    # Every tool call comes this way while a caller waits: it takes the Request alone and
    # reads its message, settings and pool from it, so that FastAPI has no dependency to
    # solve and no response model to validate for it (http_app.RequestRoute).
    message = await verified_message(request)
    settings = settings_of(request)
    pool = pool_of(request)
    services: ToolServices = request.app.state.tool_services
    if message["type"] == TOOL_CALLS:
        context, calls = tool_calls_of(message, settings.default_phone_region)
        answers = await tools.answer_tool_calls(pool, context, calls, services)
        count_delivery(request, Provider.VAPI)
        return JSONResponse({"results": [answer.for_vapi() for answer in answers]})
    record = _recorder_for(message, settings.default_phone_region, services.otp)
    if record is None:
        count_delivery(request, Provider.VAPI)
        return JSONResponse({})
    recorded = await record(pool)
    count_delivery(request, Provider.VAPI, recorded)
    return JSONResponse({})


router.add_api_route(
    "/vapi",
    server_message,
    methods=["POST"],
    summary="Vapi server message",
    route_class_override=RequestRoute,
)


def _recorder_for(message: Message, region: str, codes: OtpConfig | None) -> Recorder | None:
    """The one service call this message asks for, or None for a type we do not keep.
    `codes` finds the call's one-time codes in what was said, to mask them."""
    match message["type"]:
        case Kept.STATUS_UPDATE:
            return _call_event_recorder(_status_event(message, region))
        case Kept.TRANSCRIPT | Kept.FINAL_TRANSCRIPT:
            turn = _transcript_turn(message, region)
            return None if turn is None else _message_recorder(turn, codes)
        case Kept.END_OF_CALL_REPORT:
            return _message_recorder(_end_of_call_report(message, region), codes)
        case Kept.CONVERSATION_UPDATE:
            return _call_event_recorder(_conversation_update(message, region))
        case _:
            return None


def _call_event_recorder(event: CallEvent) -> Recorder:
    async def record(pool: AsyncConnectionPool[Any]) -> Recorded:
        async with pool.connection() as conn:
            return await calls.record_call_event(conn, event)

    return record


def _message_recorder(message: InboundMessage, codes: OtpConfig | None) -> Recorder:
    async def record(pool: AsyncConnectionPool[Any]) -> Recorded:
        [recorded] = await record_inbound(pool, [message], codes=codes)
        return recorded

    return record


def _status_event(message: Message, region: str) -> CallEvent:
    call_id = call_id_of(message)
    status = key_part(required_text(message, "status"), "message.status")
    details = {"status": status}
    ended_reason = text_field(message, "endedReason")
    if ended_reason:
        details["ended_reason"] = ended_reason
    customer, ours = parties_of(message, region)
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
        transcript_type = text_field(message, "transcriptType") or "final"
    else:
        transcript_type = required_text(message, "transcriptType")
    if transcript_type != "final":
        return None
    call_id = call_id_of(message)
    role = key_part(required_text(message, "role"), "message.role")
    transcript = message.get("transcript")
    if not isinstance(transcript, str):
        raise MissingField("the transcript message has no message.transcript text")
    # Vapi's envelope timestamp (ms) is the same on every redelivery of the turn.
    stamp = timestamp_of(message)
    turn_key = f"{stamp}:{role}" if stamp else digest(f"{role}\n{transcript}")
    customer, ours = parties_of(message, region)
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
    call_id = call_id_of(message)
    artifact = object_field(message, "artifact")
    recording = object_field(artifact, "recording")
    call = object_field(message, "call")
    summary = prose_field(object_field(message, "analysis"), "summary") or prose_field(
        message, "summary"
    )
    started_at = text_field(message, "startedAt") or text_field(call, "startedAt")
    ended_at = text_field(message, "endedAt") or text_field(call, "endedAt")
    report = {
        "summary": summary,
        "endedReason": text_field(message, "endedReason") or text_field(call, "endedReason"),
        "recordingUrl": text_field(artifact, "recordingUrl")
        or text_field(message, "recordingUrl")
        or text_field(object_field(recording, "mono"), "combinedUrl")
        or text_field(recording, "url"),
        "stereoRecordingUrl": text_field(artifact, "stereoRecordingUrl")
        or text_field(message, "stereoRecordingUrl")
        or text_field(recording, "stereoUrl"),
        "cost": first_present(number_of(message.get("cost")), number_of(call.get("cost"))),
        "costs": list_field(message, "costs") or list_field(call, "costs"),
        "startedAt": started_at,
        "endedAt": ended_at,
        "durationSeconds": first_present(
            number_of(message.get("durationSeconds")), seconds_between(started_at, ended_at)
        ),
        "transcript": prose_field(artifact, "transcript") or prose_field(message, "transcript"),
    }
    customer, ours = parties_of(message, region)
    return InboundMessage(
        provider=Provider.VAPI,
        channel=Channel.VOICE,
        provider_message_id=f"{call_id}:end-of-call-report",
        from_address=customer,
        to_address=ours,
        body_text=summary,
        body_json={name: value for name, value in report.items() if value is not None},
        thread=Thread(key=call_id, one_per_call=True, ends_call=True),
        event_type=CallEventType.ENDED,
        spoken_keys=("summary", "transcript"),
    )


def _conversation_update(message: Message, region: str) -> CallEvent:
    """Only audited: it repeats the whole history so far, and the final transcript turns are
    already the call's messages, so storing it again would duplicate every turn."""
    call_id = call_id_of(message)
    history = message.get("messages")
    if not isinstance(history, list):
        raise MissingField("the conversation-update has no message.messages list")
    stamp = timestamp_of(message)
    update_key = stamp or digest(json.dumps(history, sort_keys=True))
    # The system prompt is part of the history but not a turn anyone took.
    turns = sum(
        1 for item in history if not (isinstance(item, dict) and item.get("role") == "system")
    )
    customer, ours = parties_of(message, region)
    return CallEvent(
        call_id=call_id,
        event_key=f"{call_id}:conversation-update:{update_key}",
        event_type=CallEventType.CONVERSATION_UPDATED,
        customer_address=customer,
        our_number=ours,
        details={"turns": turns},
    )
