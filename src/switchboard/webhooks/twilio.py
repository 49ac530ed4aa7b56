"""Twilio Messaging webhooks: inbound SMS / WhatsApp and message status callbacks.

Both are form posts signed with X-Twilio-Signature: HMAC-SHA1, keyed with the auth token, of
the URL Twilio was configured with (SWITCHBOARD_PUBLIC_URL + path) followed by every posted
parameter, checked here for that URL and otherwise with the `twilio` package's
RequestValidator (which also accepts it with or without its port).
"""

from __future__ import annotations

import base64
import functools
import hmac
from collections.abc import Mapping
from typing import Any
from urllib.parse import unquote_plus, urlparse

from fastapi import APIRouter, Request, Response
from twilio.request_validator import RequestValidator, add_port, remove_port

from switchboard.api_docs import WEBHOOK_ERRORS
from switchboard.conversations.models import Channel, Provider
from switchboard.errors import InvalidSignature, MalformedBody, MissingField, WebhookRejected
from switchboard.http_app import RequestRoute
from switchboard.http_limits import BodyLimit
from switchboard.identities.normalize import WHATSAPP_PREFIX, normalize_phone
from switchboard.messages import service as messages
from switchboard.messages.models import InboundMessage, StatusReport, Thread
from switchboard.messages.status import TWILIO
from switchboard.settings import Settings
from switchboard.webhooks.common import (
    audit_rejection,
    body_limit,
    count_delivery,
    inbound_texts_of,
    our_message_id,
    pool_of,
    read_body,
    require_media_type,
    require_secret,
    settings_of,
)

router = APIRouter(prefix="/webhooks/twilio", tags=["twilio"], responses=WEBHOOK_ERRORS)
MAX_MEDIA = 10  # Twilio's own limit per message
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response />'
# Payload fields worth keeping beside the message text.
_KEPT_FIELDS = (
    "AccountSid",
    "MessagingServiceSid",
    "NumMedia",
    "NumSegments",
    "ProfileName",
    "WaId",
    "FromCity",
    "FromState",
    "FromZip",
    "FromCountry",
    "ToCity",
    "ToState",
    "ToZip",
    "ToCountry",
    "Latitude",
    "Longitude",
    "ButtonPayload",
    "Forwarded",
    "FrequentlyForwarded",
    "OptOutType",
)

# Each field's last value, as Starlette's form would give it; the signature covers them all.
FormParams = Mapping[str, str]

# Twilio's posts are small (a text of at most 1,600 characters, ten media links and a few
# dozen short fields), and the whole form must be parsed before its signature can be checked:
# a body past this is refused unread, so that a forged megabyte costs nothing to refuse.
TWILIO_MAX_BODY_BYTES = 64 * 1024


def body_limit_of(settings: Settings) -> BodyLimit:
    return body_limit(
        router.prefix, Provider.TWILIO, min(settings.max_body_bytes, TWILIO_MAX_BODY_BYTES)
    )


async def verified_form(request: Request) -> FormParams:
    """The posted parameters, once their signature has been checked."""
    settings = settings_of(request)
    body = await read_body(request)
    require_media_type(request, "application/x-www-form-urlencoded")
    try:
        pairs = _form_fields(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedBody(f"the form body could not be parsed: {exc}") from exc
    if any("\x00" in value for _, value in pairs):
        # PostgreSQL text cannot hold NUL; no real message carries one.
        raise MalformedBody("the form holds a NUL character")
    try:
        token = require_secret(settings.twilio_auth_token, "TWILIO_AUTH_TOKEN")
        # From the scope, not request.url, which builds and parses a whole URL each time.
        url = settings.public_url + request.scope["path"]
        query = request.scope.get("query_string", b"")
        if query:
            # Bytes that are not UTF-8 cannot be in a URL Twilio signed: a mismatch, not a 500.
            url += "?" + query.decode("utf-8", errors="replace")
        signature = request.headers.get("x-twilio-signature", "")
        if not _signed_by_twilio(token, url, pairs, signature):
            raise InvalidSignature(
                "X-Twilio-Signature does not match this request",
                hint=f"Twilio must be configured with exactly {url}",
            )
    except WebhookRejected as rejection:
        await audit_rejection(request, Provider.TWILIO, rejection)
        raise
    return dict(pairs)


def _form_fields(body: str) -> list[tuple[str, str]]:
    """parse_qsl(body, keep_blank_values=True, strict_parsing=True), more cheaply: only the
    names and values that hold an escape are unescaped, and few do (the two are compared in
    tests/webhooks/test_twilio_signature.py)."""
    if not body:
        return []
    fields = []
    for field in body.split("&"):
        name, equals, value = field.partition("=")
        if not equals:
            raise ValueError(f"bad form field: {field!r}")
        fields.append((_unescaped(name), _unescaped(value)))
    return fields


def _unescaped(text: str) -> str:
    return unquote_plus(text) if "%" in text or "+" in text else text


def _signed_by_twilio(token: str, url: str, pairs: list[tuple[str, str]], signature: str) -> bool:
    """Whether `signature` is Twilio's for this URL and these fields: exactly what the twilio
    package's RequestValidator.validate answers (tests/webhooks/test_twilio_signature.py
    checks it over generated requests), at a fraction of its cost for the usual request.

    Twilio's scheme: HMAC-SHA1 of the URL it was configured with, followed by each field's
    name and value, sorted by name then value, each pair once. RequestValidator accepts the
    signature over the URL with its port and without it, each rebuilt by urlparse; it also
    asks Starlette-style forms for each field's values through a caught AttributeError, and
    signs twice. Here the URL as configured is signed once, when it is one of those two; only
    a mismatch, or a URL urlparse would rebuild differently, pays for RequestValidator.
    """
    if _checked_as_given(url):
        text = url + "".join(name + value for name, value in sorted(set(pairs)))
        expected = base64.b64encode(hmac.digest(token.encode(), text.encode(), "sha1"))
        if hmac.compare_digest(expected, signature.encode()):
            return True
    fields = _SignedFields()
    for name, value in pairs:
        fields.setdefault(name, []).append(value)
    return bool(RequestValidator(token).validate(url, fields, signature))


@functools.lru_cache(maxsize=256)
def _checked_as_given(url: str) -> bool:
    """Whether RequestValidator signs `url` exactly as given, as one of the two URLs it
    checks (with its port, without it). Not, for one urlparse rebuilds differently (a scheme
    in capitals, a bare "?", a tab, a port out of range). Remembered for the last few URLs:
    a route's URL is the same from one request to the next."""
    try:
        parsed = urlparse(url)
        return url in (add_port(parsed), remove_port(parsed))
    except ValueError:
        return False


class _SignedFields(dict[str, list[str]]):
    """Every value of each field, read by RequestValidator through `getall`."""

    def getall(self, name: str) -> list[str]:
        return self[name]


async def inbound_message(request: Request) -> Response:
    # The busiest route: it takes the Request alone, and reads its form, settings and writer
    # from it, so that FastAPI has no dependency to solve for it (http_app.RequestRoute).
    form = await verified_form(request)
    message = _inbound_message(form, settings_of(request).default_phone_region)
    # Written together with the texts that arrive meanwhile (group_commit.py), committed
    # before the answer either way.
    recorded = await inbound_texts_of(request).record(message)
    count_delivery(request, Provider.TWILIO, recorded)
    return Response(EMPTY_TWIML, media_type="text/xml")


router.add_api_route(
    "/messages",
    inbound_message,
    methods=["POST"],
    summary="Inbound SMS or WhatsApp message",
    route_class_override=RequestRoute,
)


@router.post("/status", summary="Outbound message status callback")
async def status_callback(request: Request) -> Response:
    form = await verified_form(request)
    sid = _required(form, "MessageSid", "SmsSid")
    raw_status = _required(form, "MessageStatus", "SmsStatus").lower()
    report = StatusReport(
        provider=Provider.TWILIO,
        provider_message_id=sid,
        event_key=f"{sid}:{raw_status}",
        raw_status=raw_status,
        status=TWILIO.get(raw_status),
        error_code=form.get("ErrorCode") or None,
        details={"error_message": form.get("ErrorMessage")} if form.get("ErrorMessage") else {},
        message_id=our_message_id(request.query_params.get("message_id")),
    )
    async with pool_of(request).connection() as conn:
        recorded = await messages.record_status(conn, report)
    count_delivery(request, Provider.TWILIO, recorded)
    return Response(EMPTY_TWIML, media_type="text/xml")


def _inbound_message(form: FormParams, region: str) -> InboundMessage:
    sid = _required(form, "MessageSid", "SmsMessageSid", "SmsSid")
    raw_from = _required(form, "From")
    raw_to = _required(form, "To")
    channel = Channel.WHATSAPP if raw_from.startswith(WHATSAPP_PREFIX) else Channel.SMS
    from_address = normalize_phone(raw_from, region) or raw_from.strip()
    to_address = normalize_phone(raw_to, region) or raw_to.strip()
    media = [
        {"url": form.get(f"MediaUrl{n}"), "content_type": form.get(f"MediaContentType{n}")}
        for n in range(min(_int(form.get("NumMedia")), MAX_MEDIA))
        if form.get(f"MediaUrl{n}")
    ]
    kept: dict[str, Any] = {name: form[name] for name in _KEPT_FIELDS if form.get(name)}
    if media:
        kept["media"] = media
    return InboundMessage(
        provider=Provider.TWILIO,
        channel=channel,
        provider_message_id=sid,
        from_address=from_address,
        to_address=to_address,
        body_text=form.get("Body", ""),
        body_json=kept,
        thread=Thread(key=f"{from_address}|{to_address}"),
    )


def _required(form: FormParams, *names: str) -> str:
    for name in names:
        value = form.get(name, "").strip()
        if value:
            return value
    raise MissingField(f"the form has no {names[0]}")


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() else 0
