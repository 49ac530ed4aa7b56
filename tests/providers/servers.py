"""Local HTTP servers that speak Twilio's Messages API and SendGrid's v3 Mail Send.

Each runs uvicorn in a thread on 127.0.0.1 (a free port), checks credentials and required
fields as the provider does, records every request it receives, and answers either as the
provider answers a good request or with the next scripted status (500, 429, 400 ...) and
the provider's error body for it.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import Any
from urllib.parse import parse_qsl

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

ACCOUNT_SID = "AC" + "0a1b2c3d" * 4
AUTH_TOKEN = "f1e2d3c4b5a6978812345678abcdef01"  # noqa: S105 - a test value
SENDGRID_KEY = "SG.test-key.local-only"

# Twilio's error bodies for the statuses the tests script (codes from its error catalogue).
TWILIO_ERRORS = {
    400: (21211, "The 'To' number +15005550001 is not a valid phone number."),
    401: (20003, "Authenticate"),
    429: (20429, "Too Many Requests"),
    500: (20500, "An internal server error has occurred"),
    503: (20503, "Service unavailable"),
}
SENDGRID_ERRORS = {
    400: ("The from object must be provided for every email send.", "from"),
    401: ("The provided authorization grant is invalid, expired, or revoked", None),
    429: ("too many requests", None),
    500: ("internal error", None),
}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)
    json: Any = None


class ProviderServer:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self._script: list[int] = []
        self._held = 0
        self._released = threading.Event()
        self._lock = threading.Lock()
        self.base_url = ""

    def answer(self, *statuses: int) -> None:
        """The next requests get these statuses, in order; then the normal answer."""
        with self._lock:
            self._script.extend(statuses)

    def hold(self, requests: int = 1) -> None:
        """The next `requests` are received (and recorded) but not answered until release():
        a sender caught mid-send."""
        with self._lock:
            self._held += requests
            self._released.clear()

    def release(self) -> None:
        self._released.set()

    def _next_status(self) -> int | None:
        with self._lock:
            return self._script.pop(0) if self._script else None

    async def _wait_if_held(self) -> None:
        with self._lock:
            held = self._held > 0
            if held:
                self._held -= 1
        while held and not self._released.is_set():
            await asyncio.sleep(0.02)

    def app(self) -> Starlette:
        raise NotImplementedError


class TwilioServer(ProviderServer):
    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/2010-04-01/Accounts/{sid}/Messages.json", self._create, methods=["POST"])
            ]
        )

    async def _create(self, request: Request) -> Response:
        body = (await request.body()).decode()
        form = dict(parse_qsl(body, keep_blank_values=True))
        self.received.append(Received(request.url.path, dict(request.headers), form=form))
        await self._wait_if_held()
        sid = request.path_params["sid"]
        expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
        if sid != ACCOUNT_SID or request.headers.get("authorization") != expected:
            return _twilio_error(401)
        if not form.get("To"):
            return _twilio_error(400, 21604, "A 'To' phone number is required.")
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return _twilio_error(400, 21603, "A 'From' phone number is required.")
        scripted = self._next_status()
        if scripted is not None and scripted >= 300:
            return _twilio_error(scripted)
        service = form.get("MessagingServiceSid")
        message_sid = "SM" + secrets.token_hex(16)
        return JSONResponse(
            {
                "account_sid": ACCOUNT_SID,
                "api_version": "2010-04-01",
                "body": form.get("Body", ""),
                "date_created": formatdate(usegmt=True),
                "date_sent": None,
                "date_updated": formatdate(usegmt=True),
                "direction": "outbound-api",
                "error_code": None,
                "error_message": None,
                "from": form.get("From"),
                "messaging_service_sid": service,
                "num_media": "0",
                "num_segments": "1",
                "price": None,
                "price_unit": "USD",
                "sid": message_sid,
                "status": "accepted" if service else "queued",
                "to": form["To"],
                "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{message_sid}.json",
            },
            status_code=201,
        )


def _twilio_error(status: int, code: int | None = None, message: str | None = None) -> Response:
    known_code, known_message = TWILIO_ERRORS.get(status, (status * 100, "error"))
    code = code or known_code
    return JSONResponse(
        {
            "code": code,
            "message": message or known_message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        },
        status_code=status,
    )


class SendGridServer(ProviderServer):
    def app(self) -> Starlette:
        return Starlette(routes=[Route("/v3/mail/send", self._send, methods=["POST"])])

    async def _send(self, request: Request) -> Response:
        try:
            payload = await request.json()
        except ValueError:
            payload = None
        self.received.append(Received(request.url.path, dict(request.headers), json=payload))
        if request.headers.get("authorization") != f"Bearer {SENDGRID_KEY}":
            return _sendgrid_error(401)
        if not isinstance(payload, dict) or not payload.get("personalizations"):
            required = "The personalizations field is required."
            return _sendgrid_error(400, required, "personalizations")
        if not (payload.get("from") or {}).get("email"):
            return _sendgrid_error(400)
        scripted = self._next_status()
        if scripted is not None and scripted >= 300:
            return _sendgrid_error(scripted)
        # 22 URL-safe characters, like SendGrid's X-Message-Id.
        message_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode()[:22]
        return Response(status_code=202, headers={"X-Message-Id": message_id})


def _sendgrid_error(status: int, message: str | None = None, field_: str | None = None) -> Response:
    known_message, known_field = SENDGRID_ERRORS.get(status, ("error", None))
    error = {"message": message or known_message, "field": field_ or known_field, "help": None}
    return JSONResponse({"errors": [error]}, status_code=status)


@contextmanager
def serving(server: ProviderServer) -> Iterator[ProviderServer]:
    """Serve on 127.0.0.1 at a free port until the block ends."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(server.app(), log_level="warning", lifespan="off")
    runner = uvicorn.Server(config)
    thread = threading.Thread(target=runner.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not runner.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the local provider server did not start")
        time.sleep(0.01)
    server.base_url = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        server.release()
        runner.should_exit = True
        thread.join(timeout=10)
        sock.close()


def unused_base_url() -> str:
    """A local URL where nothing listens: connections are refused."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"
