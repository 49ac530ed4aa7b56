"""Twilio Verify v2: start a verification, check a code, cancel one; Basic auth, form bodies.

A caller is usually waiting on the line while these run, so the timeouts are short and every
failure comes back as one `VerifyError` carrying Twilio's HTTP status and error code.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from types import TracebackType
from typing import Protocol

import httpx

from switchboard.errors import OtpNotConfigured
from switchboard.providers.http import json_object
from switchboard.settings import Settings

# Connecting should take milliseconds; Verify answers a start once the message is queued.
TIMEOUT = httpx.Timeout(5.0, connect=2.0)
_VERIFICATION_SID = re.compile(r"^VE[0-9a-fA-F]{32}$")


@dataclass(frozen=True)
class Verification:
    sid: str  # VE…
    status: str  # Twilio's: pending, approved, canceled, max_attempts_reached, failed, expired…


class VerifyError(Exception):
    """Twilio Verify refused a request, failed, or could not be reached."""

    def __init__(self, message: str, *, http_status: int | None, code: int | None) -> None:
        super().__init__(message)
        self.message = message
        self.http_status = http_status  # None: no answer (timeout, connection refused)
        self.code = code  # Twilio's error code: 20404, 60202, 60203, …

    @property
    def unavailable(self) -> bool:
        """No answer, or a server error: nothing says whether Twilio acted on the request."""
        return self.http_status is None or self.http_status >= 500


class VerifyClient(Protocol):
    async def start(self, *, to: str, channel: str) -> Verification: ...

    async def check(self, *, verification_sid: str, code: str) -> Verification: ...

    async def cancel(self, *, verification_sid: str) -> Verification: ...


class TwilioVerifyClient:
    """The Verify API of one Verify service. Close it (or use `async with`) when done."""

    def __init__(
        self,
        *,
        base_url: str,
        service_sid: str,
        account_sid: str,
        auth_token: str,
        timeout: httpx.Timeout = TIMEOUT,
    ) -> None:
        self._http = httpx.AsyncClient(
            base_url=f"{base_url.rstrip('/')}/v2/Services/{service_sid}",
            auth=(account_sid, auth_token),
            timeout=timeout,
            headers={"Accept": "application/json"},
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> TwilioVerifyClient:
        names = ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "TWILIO_VERIFY_SERVICE_SID")
        missing = [name for name in names if not str(getattr(settings, name.lower())).strip()]
        if missing:
            raise OtpNotConfigured(
                f"Twilio Verify is not configured: {', '.join(missing)} not set",
                hint="set them from the Twilio Console (Verify → Services)",
            )
        return cls(
            base_url=settings.twilio_verify_base_url,
            service_sid=settings.twilio_verify_service_sid.strip(),
            account_sid=settings.twilio_account_sid.strip(),
            auth_token=settings.twilio_auth_token.strip(),
        )

    async def __aenter__(self) -> TwilioVerifyClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    async def start(self, *, to: str, channel: str) -> Verification:
        return await self._post("/Verifications", {"To": to, "Channel": channel})

    async def check(self, *, verification_sid: str, code: str) -> Verification:
        return await self._post(
            "/VerificationCheck", {"VerificationSid": _sid(verification_sid), "Code": code}
        )

    async def cancel(self, *, verification_sid: str) -> Verification:
        return await self._post(f"/Verifications/{_sid(verification_sid)}", {"Status": "canceled"})

    async def _post(self, path: str, form: dict[str, str]) -> Verification:
        try:
            response = await self._http.post(path, data=form)
        except httpx.TimeoutException:
            raise VerifyError(
                "Twilio Verify did not answer in time", http_status=None, code=None
            ) from None
        except httpx.HTTPError as exc:
            raise VerifyError(
                f"Twilio Verify could not be reached: {exc}", http_status=None, code=None
            ) from None
        body = json_object(response)
        if response.status_code >= 300:
            code = body.get("code")
            raise VerifyError(
                str(body.get("message") or response.reason_phrase),
                http_status=response.status_code,
                code=code if isinstance(code, int) else None,
            )
        sid, status = body.get("sid"), body.get("status")
        if not isinstance(sid, str) or not _VERIFICATION_SID.match(sid):
            raise VerifyError(
                "Twilio Verify answered without a verification sid",
                http_status=response.status_code,
                code=None,
            )
        if not isinstance(status, str) or not status:
            raise VerifyError(
                "Twilio Verify answered without a status",
                http_status=response.status_code,
                code=None,
            )
        return Verification(sid=sid, status=status)


def _sid(value: str) -> str:
    """A verification sid, checked before it goes into a URL path or a form."""
    if not _VERIFICATION_SID.match(value):
        raise ValueError(f"not a verification sid: {value!r}")
    return value
