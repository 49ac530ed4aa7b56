"""Bounds on each request: its head (request line and headers), enforced before it is parsed,
and its body, per family of routes (BodyLimits, enforced by the request layer).

uvicorn reads HTTP with httptools, which sets no limit on the size of a header or of the URL
and joins the pieces of one as they arrive by concatenating bytes: a cost that grows with the
square of its length: one request with a header of many megabytes, sent by anyone, kept the
event loop busy for seconds (docs/channels.md, "Errors"). So the bytes of each request's head
are counted as they arrive, and a head over MAX_HEAD_BYTES is answered 431 and its connection
closed before they reach the parser.

Counting is by what each read brings while a head is being read: the read that ends a head may
also hold the start of its body (a read is at most uvicorn's buffer), so a head is refused
only well past any real one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from switchboard.errors import BodyTooLarge, SwitchboardError

MAX_HEAD_BYTES = 1024 * 1024
# The agents' API takes small JSON documents: its largest field is a note of 4,000
# characters, at most 48 KiB even with every character sent as a JSON escape pair.
API_MAX_BODY_BYTES = 64 * 1024


@dataclass(frozen=True)
class BodyLimit:
    """The largest body the routes under `prefix` take, and the error a larger one is answered
    with (a 413); `webhook`: the provider whose refused deliveries such a refusal counts as."""

    prefix: str
    max_bytes: int
    error: type[SwitchboardError] = BodyTooLarge
    webhook: str | None = None


class BodyLimits:
    """Each request's body limit, by the family its path belongs to: the first of `families`
    whose prefix the path starts with, else `default` (whose prefix is not looked at)."""

    def __init__(self, families: Sequence[BodyLimit], default: BodyLimit) -> None:
        self._families = tuple(families)
        self._default = default

    def of(self, path: str) -> BodyLimit:
        for family in self._families:
            if path.startswith(family.prefix):
                return family
        return self._default

    @classmethod
    def api_only(cls) -> BodyLimits:
        """Every route held to the API's limit (an app built without webhook limits)."""
        return cls((), BodyLimit("/", API_MAX_BODY_BYTES))


class BoundedHeadProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a request head over MAX_HEAD_BYTES."""

    _head_bytes = 0
    _reading_head = True

    def data_received(self, data: bytes) -> None:
        if self._reading_head:
            self._head_bytes += len(data)
            if self._head_bytes > MAX_HEAD_BYTES:
                self._refuse_head()
                return
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._reading_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        # The next request of the connection starts its own count.
        self._reading_head = True
        self._head_bytes = 0

    def _refuse_head(self) -> None:
        self._reading_head = False
        detail = f"the request line and headers are over {MAX_HEAD_BYTES} bytes"
        body = json.dumps(
            {"error": "request_head_too_large", "detail": detail}, separators=(",", ":")
        ).encode()
        self.transport.write(
            b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
            b"content-type: application/json\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n"
            b"connection: close\r\n\r\n" + body
        )
        self.transport.close()
