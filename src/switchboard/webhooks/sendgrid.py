"""SendGrid webhooks: Inbound Parse emails (parsed and raw modes) and the signed Event Webhook.

Inbound Parse cannot sign its posts, so the URL configured in SendGrid's Inbound Parse settings
carries SENDGRID_INBOUND_SECRET: `…/webhooks/sendgrid/inbound?key=<secret>`, or as the password
of `https://user:<secret>@…` (HTTP Basic auth). The Event Webhook is signed with ECDSA P-256
over the timestamp header followed by the raw body, checked with the `sendgrid` package's
EventWebhook against SENDGRID_EVENT_PUBLIC_KEY; deliveries signed too long ago are replays.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from functools import lru_cache
from typing import Annotated, Any

from cryptography.exceptions import UnsupportedAlgorithm
from fastapi import APIRouter, Depends, Request, Response
from sendgrid.helpers.eventwebhook import EventWebhook, EventWebhookHeader
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from switchboard.api_docs import WEBHOOK_ERRORS
from switchboard.conversations.models import Provider
from switchboard.errors import (
    InvalidSignature,
    MalformedBody,
    MissingField,
    StaleTimestamp,
    WebhookRejected,
)
from switchboard.http_limits import BodyLimit
from switchboard.messages import service as messages
from switchboard.messages.inbound import record_inbound
from switchboard.messages.models import StatusReport
from switchboard.messages.status import SENDGRID
from switchboard.settings import Settings
from switchboard.webhooks.common import (
    Pool,
    audit_rejection,
    body_limit,
    count_delivery,
    json_of,
    our_message_id,
    read_body,
    require_media_type,
    require_secret,
    same_secret,
    settings_of,
)
from switchboard.webhooks.inbound_email import PostedEmail, read_email

router = APIRouter(prefix="/webhooks/sendgrid", tags=["sendgrid"], responses=WEBHOOK_ERRORS)


def body_limit_of(settings: Settings) -> BodyLimit:
    return body_limit(router.prefix, Provider.SENDGRID, settings.max_body_bytes)


_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_REQUIRED_EVENT_FIELDS = ("sg_event_id", "event", "sg_message_id")
_KEPT_EVENT_FIELDS = ("event", "reason", "type", "bounce_classification", "timestamp", "smtp-id")


async def verified_email(request: Request) -> PostedEmail:
    """The posted form, once the secret the configured URL carries has been checked."""
    settings = settings_of(request)
    await read_body(request)
    require_media_type(request, "multipart/form-data")
    try:
        secret = require_secret(settings.sendgrid_inbound_secret, "SENDGRID_INBOUND_SECRET")
        presented = (request.query_params.get("key"), _basic_auth_password(request))
        if not any(same_secret(value, secret) for value in presented):
            raise InvalidSignature(
                "the inbound secret is missing or wrong",
                hint="configure Inbound Parse to post to "
                f"{settings.public_url}{request.scope['path']}?key=<SENDGRID_INBOUND_SECRET>",
            )
    except WebhookRejected as rejection:
        await audit_rejection(request, Provider.SENDGRID, rejection)
        raise
    try:
        async with request.form(max_part_size=settings.max_body_bytes) as form:
            fields: dict[str, str] = {}
            files: dict[str, dict[str, Any]] = {}
            for name, value in form.multi_items():
                if isinstance(value, UploadFile):
                    files[name] = {
                        "filename": value.filename,
                        "type": value.content_type,
                        "size": value.size,
                    }
                else:
                    fields.setdefault(name, value)
    except HTTPException as exc:  # Starlette's answer to a broken multipart body
        raise MalformedBody(f"the multipart body could not be parsed: {exc.detail}") from exc
    return PostedEmail(fields, files)


async def verified_events(request: Request) -> list[dict[str, Any]]:
    """The posted events, once their signature and its timestamp have been checked."""
    settings = settings_of(request)
    body = await read_body(request)
    require_media_type(request, "application/json")
    try:
        payload = body.decode("utf-8")  # what SendGrid signed, exactly as received
    except UnicodeDecodeError as exc:
        raise MalformedBody(f"the body is not UTF-8: {exc}") from exc
    try:
        key = require_secret(settings.sendgrid_event_public_key, "SENDGRID_EVENT_PUBLIC_KEY")
        _verify_signature(request, payload, key, settings.sendgrid_max_age_seconds)
    except WebhookRejected as rejection:
        await audit_rejection(request, Provider.SENDGRID, rejection)
        raise
    return _event_batch(payload)


InboundPost = Annotated[PostedEmail, Depends(verified_email)]
EventBatch = Annotated[list[dict[str, Any]], Depends(verified_events)]


@router.post("/inbound", summary="Inbound Parse email, parsed or raw mode")
async def inbound_email(posted: InboundPost, pool: Pool, request: Request) -> Response:
    message = await read_email(posted)
    [recorded] = await record_inbound(pool, [message])
    count_delivery(request, Provider.SENDGRID, recorded)
    return Response(status_code=200)


@router.post("/events", summary="Event Webhook batch of delivery and engagement events")
async def events(batch: EventBatch, pool: Pool, request: Request) -> Response:
    reports = [_status_report(event) for event in batch]
    async with pool.connection() as conn:
        # Each event commits on its own; after a failure SendGrid retries the whole batch
        # and the events already recorded are recognised by their sg_event_id.
        recorded = [await messages.record_status(conn, report) for report in reports]
    count_delivery(request, Provider.SENDGRID, *recorded)
    return Response(status_code=200)


def _basic_auth_password(request: Request) -> str | None:
    scheme, _, credentials = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    _, separator, password = decoded.partition(":")
    return password if separator else None


def _verify_signature(request: Request, payload: str, key: str, max_age: int) -> None:
    signature = request.headers.get(EventWebhookHeader.SIGNATURE, "")
    timestamp = request.headers.get(EventWebhookHeader.TIMESTAMP, "")
    if not signature:
        raise InvalidSignature(f"the request has no {EventWebhookHeader.SIGNATURE} header")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise InvalidSignature(
            f"{EventWebhookHeader.TIMESTAMP} must be a whole number of seconds, got "
            + (repr(timestamp) if len(timestamp) <= 20 else f"{len(timestamp)} characters")
        )
    try:
        verifier = _verifier(key)
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise InvalidSignature(
            "SENDGRID_EVENT_PUBLIC_KEY is not a usable ECDSA public key",
            hint="paste the base64 verification key from SendGrid's Event Webhook settings",
        ) from exc
    try:
        valid = verifier.verify_signature(payload, signature, timestamp)
    except (ValueError, TypeError) as exc:  # base64 that does not decode; a non-EC key
        raise InvalidSignature(f"the signature could not be checked: {exc}") from exc
    if not valid:
        raise InvalidSignature(f"{EventWebhookHeader.SIGNATURE} does not match this body")
    age = time.time() - int(timestamp)
    if abs(age) > max_age:
        raise StaleTimestamp(
            f"the delivery was signed {int(age)} s from now; at most {max_age} s either way "
            "is accepted"
        )


@lru_cache(maxsize=4)
def _verifier(key: str) -> EventWebhook:
    return EventWebhook(key)


def _event_batch(payload: str) -> list[dict[str, Any]]:
    """Every event of the batch, each checked before any is recorded."""
    try:
        batch = json_of(payload)
    except (ValueError, RecursionError) as exc:
        raise MalformedBody(f"the body is not JSON: {exc}") from exc
    if not isinstance(batch, list) or not all(isinstance(event, dict) for event in batch):
        raise MalformedBody("the body must be a JSON array of event objects")
    for position, event in enumerate(batch):
        for name in _REQUIRED_EVENT_FIELDS:
            value = event.get(name)
            if not isinstance(value, str) or not value.strip():
                raise MissingField(f"event {position} has no {name}")
    return batch


def _status_report(event: dict[str, Any]) -> StatusReport:
    raw_status = event["event"].strip()
    # sg_message_id is the X-Message-Id the send returned, followed by SendGrid's filter suffix.
    provider_message_id = event["sg_message_id"].strip().split(".", 1)[0]
    error = next((event[name] for name in ("status", "type", "reason") if event.get(name)), None)
    return StatusReport(
        provider=Provider.SENDGRID,
        provider_message_id=provider_message_id,
        event_key=event["sg_event_id"].strip(),
        raw_status=raw_status,
        status=SENDGRID.get(raw_status),
        error_code=None if error is None else str(error),
        details={name: event[name] for name in _KEPT_EVENT_FIELDS if event.get(name) is not None},
        # The custom argument the worker set on the send: an event that beats the worker's
        # commit of X-Message-Id still finds its message.
        message_id=our_message_id(event.get("switchboard_message_id")),
    )
