"""The id of the request being served: set by the request layer (request_layer.py) for the
time a request is served, read by the audit trail and the log lines written meanwhile."""

from __future__ import annotations

import re
import secrets
from contextvars import ContextVar

from switchboard.privacy import Identifier, mask_card_numbers

# Unset outside a request (start-up, the outbound worker, a CLI command): None.
REQUEST_ID: ContextVar[str | None] = ContextVar("switchboard_request_id", default=None)

MAX_REQUEST_ID = 128
# A caller's id is kept only if it is a short token that a log line, a header and a JSON
# document carry as it is: letters, digits and - _ . : + / = (UUIDs, ULIDs, base64, a
# proxy's "host:counter"). Anything else is replaced, not cleaned: a cleaned id would no
# longer match the caller's own logs.
_SANE = re.compile(rb"[A-Za-z0-9\-_.:+/=]{1,%d}" % MAX_REQUEST_ID)


def current_request_id() -> str | None:
    return REQUEST_ID.get()


def new_request_id() -> Identifier:
    """22 characters of base64url: never a run of digits long enough to look like a card."""
    return Identifier(secrets.token_urlsafe(16))


def request_id_from(sent: bytes | None) -> Identifier:
    """The caller's X-Request-ID if it is sane, else a new id. A card number is not sane:
    the id is written to every log line of the request."""
    if sent is not None and _SANE.fullmatch(sent):
        text = sent.decode("ascii")
        if mask_card_numbers(text) == text:
            return Identifier(text)
    return new_request_id()
