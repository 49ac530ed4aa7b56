"""A bound on each request's head (request line and headers), enforced before it is parsed.

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

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

MAX_HEAD_BYTES = 1024 * 1024


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
