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
import codecs
import hashlib
import json
import re
import time
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message, MIMEPart
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses
from functools import lru_cache
from html.parser import HTMLParser
from typing import Annotated, Any

from cryptography.exceptions import UnsupportedAlgorithm
from fastapi import APIRouter, Depends, Request, Response
from sendgrid.helpers.eventwebhook import EventWebhook, EventWebhookHeader
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from switchboard.conversations.models import Channel, Provider
from switchboard.errors import (
    InvalidSignature,
    MalformedBody,
    MissingField,
    StaleTimestamp,
    WebhookRejected,
)
from switchboard.identities.normalize import normalize_email
from switchboard.messages import service as messages
from switchboard.messages.models import InboundMessage, StatusReport, Thread
from switchboard.messages.status import SENDGRID
from switchboard.webhooks.common import (
    Pool,
    audit_rejection,
    read_body,
    require_media_type,
    require_secret,
    same_secret,
    settings_of,
)

router = APIRouter(prefix="/webhooks/sendgrid", tags=["sendgrid"])
_TIMESTAMP = re.compile(r"[0-9]{1,12}")
_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_REQUIRED_EVENT_FIELDS = ("sg_event_id", "event", "sg_message_id")
_KEPT_EVENT_FIELDS = ("event", "reason", "type", "bounce_classification", "timestamp", "smtp-id")
# Parsed-mode fields SendGrid posts in the email's own charset, named in the `charsets` field.
_CHARSET_FIELDS = ("text", "html", "subject", "from", "to", "cc")


@dataclass(frozen=True)
class PostedEmail:
    """An Inbound Parse post: its text fields, and what its files were (never their content)."""

    fields: dict[str, str]
    files: dict[str, dict[str, Any]]


async def verified_email(request: Request) -> PostedEmail:
    """The posted form, once the secret the configured URL carries has been checked."""
    settings = settings_of(request)
    await read_body(request, settings.max_body_bytes)
    require_media_type(request, "multipart/form-data")
    try:
        secret = require_secret(settings.sendgrid_inbound_secret, "SENDGRID_INBOUND_SECRET")
        presented = (request.query_params.get("key"), _basic_auth_password(request))
        if not any(same_secret(value, secret) for value in presented):
            raise InvalidSignature(
                "the inbound secret is missing or wrong",
                hint="configure Inbound Parse to post to "
                f"{settings.public_url}{request.url.path}?key=<SENDGRID_INBOUND_SECRET>",
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
    body = await read_body(request, settings.max_body_bytes)
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
async def inbound_email(posted: InboundPost, pool: Pool) -> Response:
    message = _inbound_message(posted)
    async with pool.connection() as conn:
        await messages.record_inbound(conn, message)
    return Response(status_code=200)


@router.post("/events", summary="Event Webhook batch of delivery and engagement events")
async def events(batch: EventBatch, pool: Pool) -> Response:
    reports = [_status_report(event) for event in batch]
    async with pool.connection() as conn:
        # Each event commits on its own; after a failure SendGrid retries the whole batch
        # and the events already recorded are recognised by their sg_event_id.
        for report in reports:
            await messages.record_status(conn, report)
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
            f"{EventWebhookHeader.TIMESTAMP} must be a whole number of seconds, got {timestamp!r}"
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
        batch = json.loads(payload)
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
    )


def _inbound_message(posted: PostedEmail) -> InboundMessage:
    fields = posted.fields
    charsets = _json_object(fields.get("charsets"))
    if fields.get("email"):
        raw = fields["email"]
        email: Message = BytesParser(policy=policy.default).parsebytes(
            raw.encode("utf-8", "surrogateescape")
        )
        header_block = re.split(r"\r?\n\r?\n", raw, maxsplit=1)[0]
        body_text = _raw_body_text(email)
        attachments = _mime_attachments(email)
    elif fields.get("headers") and fields.get("from"):
        fields = {
            name: _as_declared(value, charsets.get(name)) if name in _CHARSET_FIELDS else value
            for name, value in fields.items()
        }
        header_block = fields["headers"]
        email = HeaderParser(policy=policy.default).parsestr(header_block)
        body_text = fields.get("text") or _html_text(fields.get("html", ""))
        attachments = _posted_attachments(posted, _json_object(fields.get("attachment-info")))
    else:
        raise MissingField(
            "the form has neither headers and from (parsed mode) nor email (raw mode)"
        )
    # Without a Message-ID the header block itself identifies a redelivery.
    message_id = (_raw_header(email, "Message-ID") or "").strip() or (
        "sha256:" + hashlib.sha256(header_block.encode("utf-8", "surrogateescape")).hexdigest()
    )
    in_reply_to = _ids(_raw_header(email, "In-Reply-To"))
    references = _ids(_raw_header(email, "References"))
    from_field = fields.get("from") or _header(email, "From") or ""
    kept = {
        "subject": fields.get("subject") or _header(email, "Subject"),
        "cc": fields.get("cc") or _header(email, "Cc"),
        "Date": _header(email, "Date"),
        "In-Reply-To": _raw_header(email, "In-Reply-To"),
        "References": _raw_header(email, "References"),
        "spam_score": fields.get("spam_score"),
        "SPF": fields.get("SPF"),
        "dkim": fields.get("dkim"),
        "sender_ip": fields.get("sender_ip"),
        "charsets": charsets or None,
        "attachments": attachments or None,
    }
    return InboundMessage(
        provider=Provider.SENDGRID,
        channel=Channel.EMAIL,
        provider_message_id=message_id,
        from_address=normalize_email(from_field) or from_field.strip() or None,
        to_address=_recipient(fields, email),
        body_text=body_text,
        body_json={name: value for name, value in kept.items() if value},
        thread=Thread(
            key=references[0] if references else message_id,
            replies_to=_replied_ids(in_reply_to + references[::-1]),
        ),
    )


def _recipient(fields: dict[str, str], email: Message) -> str | None:
    """The SMTP recipient SendGrid received the email for, else the first To address."""
    envelope_to = _json_object(fields.get("envelope")).get("to")
    if isinstance(envelope_to, list) and envelope_to and isinstance(envelope_to[0], str):
        found = normalize_email(envelope_to[0])
        if found:
            return found
    to_field = fields.get("to") or _header(email, "To") or ""
    addresses = [address for _, address in getaddresses([to_field]) if address]
    return normalize_email(addresses[0]) if addresses else None


def _replied_ids(ids: list[str]) -> tuple[str, ...]:
    """The ids this email replies to, newest first. Our own emails went out with SendGrid's
    Message-ID `<X-Message-Id@ismtpd….sendgrid.net>` and are stored under the X-Message-Id,
    so its local part is a candidate too."""
    candidates: list[str] = []
    for message_id in ids:
        candidates.append(message_id)
        local, _, domain = message_id.strip("<>").partition("@")
        if domain.startswith("ismtpd") or domain.endswith(".sendgrid.net"):
            candidates.append(local)
    return tuple(dict.fromkeys(candidates))


def _ids(value: str | None) -> list[str]:
    return _MESSAGE_ID.findall(value or "")


def _raw_header(email: Message, name: str) -> str | None:
    """The header as sent, unfolded: message ids are compared byte for byte."""
    for key, value in email.raw_items():
        if key.lower() == name.lower():
            return " ".join(str(value).split()) or None
    return None


def _header(email: Message, name: str) -> str | None:
    """The decoded header (encoded words resolved), or the raw one if it does not parse."""
    try:
        value = email.get(name)
    except Exception:  # the email package's header parsers raise assorted errors on bad input
        return _raw_header(email, name)
    return None if value is None else " ".join(str(value).split()) or None


def _raw_body_text(email: Message) -> str:
    if not isinstance(email, EmailMessage):
        return ""
    plain = email.get_body(preferencelist=("plain",))
    if plain is not None:
        return _part_text(plain)
    html = email.get_body(preferencelist=("html",))
    return "" if html is None else _html_text(_part_text(html))


def _part_text(part: MIMEPart) -> str:
    """The part's text, decoded with its charset; an unknown charset is read as UTF-8."""
    try:
        text = str(part.get_content())
    except (LookupError, ValueError):
        payload = part.get_payload(decode=True)
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""
    return text.replace("\r\n", "\n")  # SMTP line endings, stored like parsed-mode text


def _mime_attachments(email: Message) -> list[dict[str, Any]]:
    if not isinstance(email, EmailMessage):
        return []
    found = []
    for part in email.iter_attachments():
        content = part.get_payload(decode=True)
        found.append(
            {
                "filename": part.get_filename(),
                "type": part.get_content_type(),
                "size": len(content) if isinstance(content, bytes) else None,
            }
        )
    return found


def _posted_attachments(posted: PostedEmail, info: dict[str, Any]) -> list[dict[str, Any]]:
    """SendGrid's attachment-info describes each file it posted as attachment1…N."""
    found = []
    for name, file in posted.files.items():
        described = info.get(name)
        if not isinstance(described, dict):
            described = {}
        found.append(
            {
                "filename": described.get("filename") or file["filename"],
                "type": described.get("type") or file["type"],
                "size": file["size"],
            }
        )
    return found


def _as_declared(value: str, charset: Any) -> str:
    """The field read in the charset SendGrid declared for it.

    Starlette decodes every field as UTF-8, or as Latin-1 where that fails; a field in
    another charset is therefore recovered by re-encoding it as Latin-1.
    """
    if not isinstance(charset, str):
        return value
    try:
        if codecs.lookup(charset).name in {"utf-8", "ascii", "latin-1", "iso8859-1"}:
            return value
        return value.encode("latin-1").decode(charset)
    except (LookupError, UnicodeError):
        return value


def _json_object(value: str | None) -> dict[str, Any]:
    """A JSON object field; one SendGrid sent malformed is treated as absent."""
    if not value:
        return {}
    try:
        parsed = json.loads(value)
    except (ValueError, RecursionError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


class _TextOfHtml(HTMLParser):
    _BREAKS = frozenset({"br", "p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6"})
    _HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.chunks: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self.hidden += 1
        elif tag in self._BREAKS:
            self.chunks.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self._BREAKS:
            self.chunks.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.chunks.append(data)


def _html_text(html: str) -> str:
    """The readable text of an HTML-only email: tags dropped, one line per block."""
    parser = _TextOfHtml()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.chunks).splitlines())
    return "\n".join(line for line in lines if line)
