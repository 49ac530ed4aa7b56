"""TOTP (RFC 6238) codes of an authenticator app: 6 digits, 30-second steps, one step of clock
drift either way. The step a code matched is returned so that the caller can refuse a step
already used (RFC 6238 §5.2): pyotp itself accepts a code as often as it is sent."""

from __future__ import annotations

import pyotp
from pyotp.exceptions import OTPVerificationError

ISSUER = "Switchboard"
DIGITS = 6


def new_secret() -> str:
    return pyotp.random_base32()  # 160 bits, as RFC 4226 recommends


def provisioning_uri(secret: str, email: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=ISSUER)


def matched_step(secret: str, code: str, *, at: float | None = None) -> int | None:
    """The time step `code` is valid for (now, or one step either side), or None."""
    code = code.strip()
    if len(code) != DIGITS or not code.isdigit():
        return None
    try:
        return pyotp.TOTP(secret).verify_and_get_timecode(code, for_time=at, valid_window=1)
    except OTPVerificationError:
        return None
