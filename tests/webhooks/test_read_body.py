"""A sender that hangs up mid-body: a 400 like any broken body, not an unhandled error.

Unhandled, starlette's ClientDisconnect was logged as an error with its traceback (twice on
the routes FastAPI serves: once by the app, once by uvicorn), so anyone who sends a
Content-Length and closes early could write two tracebacks to the log per request.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from starlette.requests import Request

from switchboard.errors import MalformedBody
from switchboard.webhooks.common import read_body


def request_cut_off(*chunks: bytes) -> Request:
    """A POST whose body arrives as `chunks`, after which its sender disconnects."""
    messages: list[dict[str, Any]] = [
        {"type": "http.request", "body": chunk, "more_body": True} for chunk in chunks
    ]
    messages.append({"type": "http.disconnect"})

    async def receive() -> dict[str, Any]:
        return messages.pop(0)

    scope = {"type": "http", "method": "POST", "path": "/webhooks/vapi", "headers": []}
    return Request(scope, receive)


@pytest.mark.parametrize("chunks", [(), (b'{"message": {"ty',)], ids=["nothing", "half"])
def test_a_sender_that_hangs_up_mid_body_is_a_malformed_body(chunks: tuple[bytes, ...]) -> None:
    with pytest.raises(MalformedBody, match="disconnected"):
        asyncio.run(read_body(request_cut_off(*chunks)))
