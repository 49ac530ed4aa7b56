"""A request's head (request line and headers) is bounded before it is parsed.

httptools joins the pieces of one header (or of the URL) as they arrive by concatenating
bytes, at a cost that grows with the square of its length: one request with a 100 MB header
kept `switchboard serve` answering nothing else for seconds at a time (16 s in all). Served
as `switchboard serve` serves, a head over the limit is answered 431 at once, while a large
body under a small head is still read.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import uvicorn

from switchboard.cli import uvicorn_options
from switchboard.http_limits import MAX_HEAD_BYTES
from switchboard.settings import Settings


async def echo_length(scope: Any, receive: Any, send: Any) -> None:
    """Answers with the size of the body it read."""
    if scope["type"] != "http":
        return
    size, more = 0, True
    while more:
        message = await receive()
        size += len(message.get("body", b""))
        more = message.get("more_body", False)
    body = str(size).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


@pytest.fixture
def port() -> Iterator[int]:
    options = {**uvicorn_options(Settings(), "127.0.0.1", 0), "log_level": "warning"}
    server = uvicorn.Server(uvicorn.Config(echo_length, **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    for _ in range(200):
        if server.started:
            break
        thread.join(0.05)
    assert server.started
    yield server.servers[0].sockets[0].getsockname()[1]
    server.should_exit = True
    thread.join(10)


def exchange(port: int, request: bytes) -> tuple[bytes, float]:
    """The whole answer to `request`, sent at once, and the seconds it took."""
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=20) as conn:
        # Answered and closed before all of it was sent: the answer is still there to read.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.sendall(request)
        answer = b""
        while True:
            try:
                data = conn.recv(65536)
            except ConnectionResetError:
                break
            if not data:
                break
            answer += data
    return answer, time.monotonic() - started


def test_a_head_over_the_limit_is_answered_431_at_once(port: int) -> None:
    pad = b"A" * (MAX_HEAD_BYTES * 8)
    answer, seconds = exchange(
        port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + pad + b"\r\nConnection: close\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 431 ")
    assert b'"error":"request_head_too_large"' in answer
    assert seconds < 2


def test_a_url_over_the_limit_is_answered_431(port: int) -> None:
    answer, _ = exchange(
        port, b"GET /?" + b"a" * (MAX_HEAD_BYTES * 2) + b" HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    assert answer.startswith(b"HTTP/1.1 431 ")


def test_a_large_head_under_the_limit_and_a_large_body_are_served(port: int) -> None:
    pad = b"A" * (MAX_HEAD_BYTES // 2)
    body = b"x" * (MAX_HEAD_BYTES * 3)
    answer, _ = exchange(
        port,
        b"POST / HTTP/1.1\r\nHost: x\r\nX-Pad: "
        + pad
        + b"\r\nContent-Length: "
        + str(len(body)).encode()
        + b"\r\nConnection: close\r\n\r\n"
        + body,
    )
    assert answer.startswith(b"HTTP/1.1 200 ")
    assert answer.endswith(str(len(body)).encode())


def test_every_request_of_a_kept_alive_connection_gets_the_whole_limit(port: int) -> None:
    pad = b"A" * (MAX_HEAD_BYTES * 2 // 3)
    one = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + pad + b"\r\n\r\n"
    last = b"GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + pad + b"\r\nConnection: close\r\n\r\n"
    answer, _ = exchange(port, one + one + last)
    assert answer.count(b"HTTP/1.1 200 ") == 3
