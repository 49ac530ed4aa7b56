"""A local HTTP server that answers like Twilio Verify v2, for the tests.

It speaks the real protocol: Basic auth, form bodies, the JSON shapes of a Verification and
a VerificationCheck, and Twilio's error bodies ({"code", "message", "more_info", "status"}):
20003 bad credentials, 20404 a verification that is gone (approved, cancelled, expired),
60200 an invalid parameter, 60202 max check attempts, 60203 max send attempts. As at Twilio,
a start to a number with a verification still pending resends that one (same sid, same code),
and an approved verification is deleted. Tests read the code "sent" with `code_for(to)` and
can queue failures, delays or a status for the next reply.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "verify-test-token"  # noqa: S105 - the fake server's own test credential
SERVICE_SID = "VA" + "0" * 31 + "2"
MAX_CHECKS = 5
MAX_SENDS = 5
LIFETIME_SECONDS = 600
_CHANNELS = {"sms", "call", "email", "whatsapp", "sna", "auto"}
_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    60200: "Invalid parameter",
    60202: "Max check attempts reached",
    60203: "Max send attempts reached",
}


@dataclass
class Verification:
    sid: str
    to: str
    channel: str
    code: str
    status: str = "pending"
    sends: int = 1
    checks: int = 0
    created: float = field(default_factory=time.time)
    expired: bool = False


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    form: dict[str, str]
    authorization: str | None


class VerifyService:
    """The state behind the server: verifications by sid, queued surprises, requests seen."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.verifications: dict[str, Verification] = {}
        self.requests: list[Seen] = []
        self._scripted: list[tuple[str, int, dict[str, Any] | str | None]] = []
        self._delays: list[float] = []
        self.url = ""

    # What tests do -------------------------------------------------------------------------
    def code_for(self, to: str) -> str:
        """The code in the last message "delivered" to this address."""
        with self.lock:
            found = [v for v in self.verifications.values() if v.to == to]
        return max(found, key=lambda v: v.created).code

    def expire(self, sid: str) -> None:
        with self.lock:
            self.verifications[sid].expired = True

    def fail_next(self, kind: str, http_status: int, code: int | None = None) -> None:
        """Answer the next `kind` request (start, check, cancel) with this error."""
        with self.lock:
            self._scripted.append((kind, http_status, code and _error(code, http_status)))

    def answer_next(self, kind: str, http_status: int, body: dict[str, Any]) -> None:
        """Answer the next `kind` request with exactly this."""
        with self.lock:
            self._scripted.append((kind, http_status, body))

    def answer_next_check_with(self, status: str) -> None:
        """Answer the next check 200 with this Verify status (max_attempts_reached, …)."""
        with self.lock:
            self._scripted.append(("check", 200, status))

    def delay_next(self, seconds: float) -> None:
        with self.lock:
            self._delays.append(seconds)

    # The API ---------------------------------------------------------------------------------
    def handle(self, method: str, path: str, form: dict[str, str], auth: str | None) -> Reply:
        with self.lock:
            delay = self._delays.pop(0) if self._delays else 0.0
        time.sleep(delay)  # outside the lock: the other requests go on meanwhile
        with self.lock:
            self.requests.append(Seen(method, path, form, auth))
            expected = "Basic " + base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
            if auth != expected:
                return _failure(20003, 401)
            prefix = f"/v2/Services/{SERVICE_SID}/"
            if method != "POST" or not path.startswith(prefix):
                return _failure(20404, 404)
            resource = path.removeprefix(prefix)
            kind = {"Verifications": "start", "VerificationCheck": "check"}.get(
                resource, "cancel" if resource.startswith("Verifications/VE") else ""
            )
            scripted = self._next_scripted(kind)
            if scripted is not None:
                return scripted
            answer = {
                "start": lambda: self._start(form),
                "check": lambda: self._check(form),
                "cancel": lambda: self._update(resource.removeprefix("Verifications/"), form),
            }.get(kind, lambda: _failure(20404, 404))
            return answer()

    def _next_scripted(self, kind: str) -> Reply | None:
        for index, (wanted, http_status, body) in enumerate(self._scripted):
            if wanted != kind:
                continue
            del self._scripted[index]
            if isinstance(body, str):  # a status for a check of the pending verification
                pending = next(v for v in self.verifications.values() if v.status == "pending")
                return Reply(200, self._body(pending, check=True) | {"status": body})
            return Reply(http_status, body)
        return None

    def _start(self, form: dict[str, str]) -> Reply:
        to, channel = form.get("To", ""), form.get("Channel", "")
        if not to or channel not in _CHANNELS:
            return _failure(60200, 400)
        pending = self._pending(to=to)
        if pending is not None:
            if pending.sends >= MAX_SENDS:
                return _failure(60203, 429)
            pending.sends += 1
            return Reply(201, self._body(pending))
        created = Verification(
            sid="VE" + uuid.uuid4().hex,
            to=to,
            channel=channel,
            code=f"{secrets.randbelow(10**6):06d}",
        )
        self.verifications[created.sid] = created
        return Reply(201, self._body(created))

    def _check(self, form: dict[str, str]) -> Reply:
        code = form.get("Code", "")
        if not code or not (form.get("VerificationSid") or form.get("To")):
            return _failure(60200, 400)
        found = (
            self._pending(sid=form["VerificationSid"])
            if form.get("VerificationSid")
            else self._pending(to=form["To"])
        )
        if found is None:
            return _failure(20404, 404)
        if found.checks >= MAX_CHECKS:
            return _failure(60202, 429)
        found.checks += 1
        if secrets.compare_digest(code, found.code):
            found.status = "approved"  # and deleted: a later fetch or check answers 20404
        return Reply(200, self._body(found, check=True))

    def _update(self, sid: str, form: dict[str, str]) -> Reply:
        found = self._pending(sid=sid)
        if found is None:
            return _failure(20404, 404)
        if form.get("Status") not in {"canceled", "approved"}:
            return _failure(60200, 400)
        found.status = form["Status"]
        return Reply(200, self._body(found))

    def _pending(self, *, sid: str | None = None, to: str | None = None) -> Verification | None:
        for verification in self.verifications.values():
            if sid is not None and verification.sid != sid:
                continue
            if to is not None and verification.to != to:
                continue
            lapsed = time.time() - verification.created > LIFETIME_SECONDS
            if verification.status == "pending" and not verification.expired and not lapsed:
                return verification
        return None

    def _body(self, v: Verification, *, check: bool = False) -> dict[str, Any]:
        stamp = datetime.fromtimestamp(v.created, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        body: dict[str, Any] = {
            "sid": v.sid,
            "service_sid": SERVICE_SID,
            "account_sid": ACCOUNT_SID,
            "to": v.to,
            "channel": v.channel,
            "status": v.status,
            "valid": v.status == "approved",
            "amount": None,
            "payee": None,
            "date_created": stamp,
            "date_updated": stamp,
        }
        if check:
            return body | {"sna_attempts_error_codes": []}
        attempts = [
            {"attempt_sid": "VL" + uuid.uuid4().hex, "channel": v.channel, "time": stamp}
            for _ in range(v.sends)
        ]
        return body | {
            "lookup": {"carrier": None},
            "send_code_attempts": attempts,
            "sna": None,
            "url": f"{self.url}/v2/Services/{SERVICE_SID}/Verifications/{v.sid}",
        }


@dataclass(frozen=True)
class Reply:
    status: int
    body: dict[str, Any] | None


def _error(code: int, http_status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": _MESSAGES.get(code, "Internal Server Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": http_status,
    }


def _failure(code: int, http_status: int) -> Reply:
    return Reply(http_status, _error(code, http_status))


def _handler(service: VerifyService) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self._answer("POST")

        def do_GET(self) -> None:
            self._answer("GET")

        def _answer(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            form = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
            reply = service.handle(method, self.path, form, self.headers.get("Authorization"))
            payload = b"" if reply.body is None else json.dumps(reply.body).encode()
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


@contextmanager
def running_verify_server() -> Iterator[VerifyService]:
    """The server on 127.0.0.1 and a free port, until the block ends."""
    service = VerifyService()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(service))
    service.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield service
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
