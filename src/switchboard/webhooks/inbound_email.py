"""Reading an Inbound Parse email, parsed or raw (MIME) mode, into an inbound message:
its ids and threading headers, its text (charset-aware, HTML as text when there is no plain
part), its recipient, and what its attachments were (never their content)."""

from __future__ import annotations

import codecs
import hashlib
import json
import re
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage, Message, MIMEPart
from email.parser import BytesParser, HeaderParser
from email.utils import getaddresses
from html.parser import HTMLParser
from typing import Any

from switchboard.conversations.models import Channel, Provider
from switchboard.errors import MissingField
from switchboard.identities.normalize import normalize_email
from switchboard.messages.models import InboundMessage, Thread

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
# Parsed-mode fields SendGrid posts in the email's own charset, named in the `charsets` field.
_CHARSET_FIELDS = ("text", "html", "subject", "from", "to", "cc")


@dataclass(frozen=True)
class PostedEmail:
    """An Inbound Parse post: its text fields, and what its files were (never their content)."""

    fields: dict[str, str]
    files: dict[str, dict[str, Any]]


def inbound_message(posted: PostedEmail) -> InboundMessage:
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
