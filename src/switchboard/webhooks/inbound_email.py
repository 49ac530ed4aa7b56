"""Reading an Inbound Parse email, parsed or raw (MIME) mode, into an inbound message:
its ids and threading headers, its text (charset-aware, HTML as text when there is no plain
part), its recipient, and what its attachments were (never their content).

Anyone who knows the Inbound Parse URL can post any email, and parsers whose cost grows with
the square of their input (the email policy's structured headers, html.parser) would let one
email freeze the service. So headers are kept as text (the compat32 policy) and decoded with
email.utils and email.header, which are linear; HTML is reduced with regular expressions that
never rescan; each header is bounded before anything reads it; and the whole reading runs in a
worker thread under a time budget (read_email).
"""

from __future__ import annotations

import binascii
import codecs
import hashlib
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass
from email.feedparser import BytesFeedParser
from email.header import decode_header, make_header
from email.message import Message
from email.parser import HeaderParser
from email.policy import compat32
from email.utils import collapse_rfc2231_value, getaddresses
from html import unescape
from typing import Any

import anyio

from switchboard.conversations.models import Channel, Provider
from switchboard.errors import MalformedBody, MissingField
from switchboard.identities.normalize import normalize_email
from switchboard.messages.models import InboundMessage, Thread
from switchboard.webhooks.common import json_of

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
# Longest header read, in characters: no real one comes near it.
MAX_HEADER_CHARS = 8192
_READ_HEADERS = frozenset(
    {
        "from",
        "to",
        "cc",
        "subject",
        "date",
        "message-id",
        "in-reply-to",
        "references",
        "content-type",
        "content-disposition",
        "content-transfer-encoding",
    }
)
# Parts of a MIME email looked at for its body and attachments, and boundaries it may declare.
MAX_PARTS = 100
_CHUNK = 65_536
# The time an email may take to read before it is refused.
READ_SECONDS = 1.5
_HIDDEN = ("script", "style", "head", "title")
_HIDDEN_START = re.compile(r"<!--|<(" + "|".join(_HIDDEN) + r")\b", re.IGNORECASE)
_HIDDEN_END = {name: re.compile(rf"</{name}\s*>", re.IGNORECASE) for name in _HIDDEN}
_BREAK = re.compile(r"</?(?:br|p|div|li|tr|h[1-6])\b[^<>]*>", re.IGNORECASE)
# A tag: `<` to the next `>` with no `<` between, so a failed match costs no rescan.
_TAG = re.compile(r"<[^<>]*>")
# Parsed-mode fields SendGrid posts in the email's own charset, named in the `charsets` field.
_CHARSET_FIELDS = ("text", "html", "subject", "from", "to", "cc")


@dataclass(frozen=True)
class PostedEmail:
    """An Inbound Parse post: its text fields, and what its files were (never their content)."""

    fields: dict[str, str]
    files: dict[str, dict[str, Any]]


async def read_email(posted: PostedEmail) -> InboundMessage:
    """The inbound message the post carries, read in a worker thread so that the event loop
    goes on serving other requests meanwhile; an email not read within READ_SECONDS is refused.
    """
    budget = _Budget(READ_SECONDS)
    try:
        # The thread stops itself at the budget (between steps, each bounded); the wait is the
        # guard for a step that would not.
        with anyio.fail_after(READ_SECONDS + 0.3):
            return await anyio.to_thread.run_sync(
                inbound_message, posted, budget, abandon_on_cancel=True
            )
    except TimeoutError as exc:
        raise budget.exceeded() from exc


def inbound_message(posted: PostedEmail, budget: _Budget) -> InboundMessage:
    fields = posted.fields
    charsets = _json_object(fields.get("charsets"))
    if fields.get("email"):
        raw = fields["email"]
        email = _parsed_mime(raw, budget)
        header_block = re.split(r"\r?\n\r?\n", raw, maxsplit=1)[0]
        leaves = _leaves(email, budget)
        body = _body_part(leaves, "text/plain")
        if body is not None:
            body_text = _part_text(body)
        else:
            body = _body_part(leaves, "text/html")
            body_text = "" if body is None else _html_text(_part_text(body))
        attachments = _mime_attachments(leaves, body)
    elif fields.get("headers") and fields.get("from"):
        fields = {
            name: _as_declared(value, charsets.get(name)) if name in _CHARSET_FIELDS else value
            for name, value in fields.items()
        }
        header_block = fields["headers"]
        email = HeaderParser(policy=compat32).parsestr(header_block)
        _check_headers(email)
        _check_lengths(fields.items())  # From, To, Cc and Subject come as fields of their own
        body_text = fields.get("text") or _html_text(fields.get("html", ""))
        attachments = _posted_attachments(posted, _json_object(fields.get("attachment-info")))
    else:
        raise MissingField(
            "the form has neither headers and from (parsed mode) nor email (raw mode)"
        )
    budget.check()
    # Without a Message-ID the header block itself identifies a redelivery.
    message_id = (_raw_header(email, "Message-ID") or "").strip() or (
        "sha256:" + hashlib.sha256(header_block.encode("utf-8", "surrogateescape")).hexdigest()
    )
    in_reply_to = _ids(_raw_header(email, "In-Reply-To"))
    references = _ids(_raw_header(email, "References"))
    from_field = fields.get("from") or _header(email, "From") or ""
    sender = next(iter(_addresses(from_field)), "")
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
    message = InboundMessage(
        provider=Provider.SENDGRID,
        channel=Channel.EMAIL,
        provider_message_id=message_id,
        from_address=normalize_email(sender) or from_field.strip() or None,
        to_address=_recipient(fields, email),
        body_text=body_text,
        body_json={name: value for name, value in kept.items() if value},
        thread=Thread(
            key=references[0] if references else message_id,
            replies_to=_replied_ids(in_reply_to + references[::-1]),
        ),
    )
    budget.check()
    return message


class _Budget:
    """The time an email may take to read, checked between the steps of reading it."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def check(self) -> None:
        if time.monotonic() > self.deadline:
            raise self.exceeded()

    def exceeded(self) -> MalformedBody:
        return MalformedBody(f"the email could not be read within {self.seconds} s")


def _parsed_mime(raw: str, budget: _Budget) -> Message:
    """The MIME structure, fed to the parser in chunks so that the budget is checked as it
    goes (its cost grows with the nesting as well as the size)."""
    boundaries = raw.lower().count("boundary=")
    if boundaries > MAX_PARTS:
        raise MalformedBody(
            f"the email declares {boundaries} multipart boundaries; at most {MAX_PARTS} are read"
        )
    data = raw.encode("utf-8", "surrogateescape")
    parser = BytesFeedParser(policy=compat32)
    try:
        for start in range(0, len(data), _CHUNK):
            parser.feed(data[start : start + _CHUNK])
            budget.check()
        email = parser.close()
    except RecursionError as exc:
        raise MalformedBody("the email's MIME parts are nested too deep to be read") from exc
    if not isinstance(email, Message):
        raise MalformedBody("the email could not be read as MIME")
    return email


def _check_headers(part: Message) -> None:
    """Refuse a header that is read but too long to read: no real one comes near the bound,
    and decoding costs more than the length. Headers never read (a long antispam report) are
    left alone."""
    _check_lengths(part.raw_items())


def _check_lengths(headers: Iterable[tuple[str, str]]) -> None:
    for name, value in headers:
        if len(value) > MAX_HEADER_CHARS and name.lower() in _READ_HEADERS:
            raise MalformedBody(
                f"the {name} header is {len(value)} characters long; "
                f"at most {MAX_HEADER_CHARS} are read"
            )


def _leaves(email: Message, budget: _Budget) -> list[Message]:
    """The parts that are not multipart containers, in the order they come, each header
    checked; walked with a stack (no recursion), at most MAX_PARTS parts in all."""
    leaves = []
    pending = [email]
    for _ in range(MAX_PARTS):
        if not pending:
            break
        part = pending.pop()
        budget.check()
        _check_headers(part)
        # is_multipart, not get_payload(): that decodes a leaf's text in its declared charset,
        # and raises where the codec refuses (charset=idna, punycode, undefined).
        children = part.get_payload() if part.is_multipart() else None
        if part.get_content_maintype() == "multipart" and isinstance(children, list):
            pending.extend(child for child in reversed(children) if isinstance(child, Message))
        else:
            leaves.append(part)
    return leaves


def _body_part(leaves: list[Message], content_type: str) -> Message | None:
    """The first part of this type that is not an attachment: the email's body."""
    return next(
        (
            part
            for part in leaves
            if part.get_content_type() == content_type
            and part.get_content_disposition() != "attachment"
        ),
        None,
    )


def _recipient(fields: dict[str, str], email: Message) -> str | None:
    """The SMTP recipient SendGrid received the email for, else the first To address."""
    envelope_to = _json_object(fields.get("envelope")).get("to")
    if isinstance(envelope_to, list) and envelope_to and isinstance(envelope_to[0], str):
        found = normalize_email(envelope_to[0])
        if found:
            return found
    addresses = _addresses(fields.get("to") or _header(email, "To"))
    return normalize_email(addresses[0]) if addresses else None


def _addresses(value: str | None) -> list[str]:
    """The addresses of an address header (email.utils' parser: linear, unlike the email
    policy's); none from one it cannot read (comments nested past its recursion)."""
    if not value:
        return []
    try:
        return [address for _, address in getaddresses([value]) if address]
    except (RecursionError, ValueError, IndexError):
        return []


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
    """The header with its encoded words decoded and its 8-bit bytes read as UTF-8, or as it
    was sent if that fails."""
    raw = _raw_header(email, name)
    if raw is None:
        return None
    text = raw.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    try:
        decoded = str(make_header(decode_header(text)))
    except (ValueError, LookupError, UnicodeError, binascii.Error):
        return text
    return " ".join(decoded.split()) or None


def _part_text(part: Message) -> str:
    """The part's text, decoded with its charset; a charset unknown, or that cannot decode
    it (a codec such as idna or punycode refuses the "replace" handler), is read as UTF-8."""
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        text = payload.decode(charset, "replace")
    except (LookupError, UnicodeError):
        text = payload.decode("utf-8", "replace")
    return text.replace("\r\n", "\n")  # SMTP line endings, stored like parsed-mode text


def _filename(part: Message) -> str | None:
    """The part's file name; one in an RFC 2231 charset that refuses its bytes (idna,
    undefined), which the email package lets out as a UnicodeError, is read as UTF-8."""
    try:
        return part.get_filename()
    except (LookupError, UnicodeError):
        raw = part.get_param("filename", header="content-disposition") or part.get_param("name")
        if isinstance(raw, tuple):
            raw = ("utf-8", raw[1], raw[2])
        return None if raw is None else collapse_rfc2231_value(raw)


def _mime_attachments(leaves: list[Message], body: Message | None) -> list[dict[str, Any]]:
    """Every part but the body and its other renderings (a text part without a file name)."""
    found = []
    for part in leaves:
        filename = _filename(part)
        if part is body or (
            part.get_content_maintype() == "text"
            and filename is None
            and part.get_content_disposition() != "attachment"
        ):
            continue
        content = part.get_payload(decode=True)
        found.append(
            {
                "filename": filename,
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
        parsed = json_of(value)
    except (ValueError, RecursionError):
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _html_text(html: str) -> str:
    """The readable text of an HTML-only email: comments and hidden elements dropped, tags
    dropped, one line per block. Regular expressions that never look back, not html.parser,
    whose cost grows with the square of some inputs' length."""
    kept = []
    position = 0
    while (opening := _HIDDEN_START.search(html, position)) is not None:
        kept.append(html[position : opening.start()])
        if opening.group() == "<!--":
            end = html.find("-->", opening.end())
            position = len(html) if end < 0 else end + 3
        else:
            name = opening.group(1).lower()
            closing = _HIDDEN_END[name].search(html, opening.end())
            position = len(html) if closing is None else closing.end()
    kept.append(html[position:])
    text = _TAG.sub("", _BREAK.sub("\n", "".join(kept)))
    lines = (" ".join(line.split()) for line in unescape(text).splitlines())
    return "\n".join(line for line in lines if line)
