"""The built-in code: made with `secrets`, kept only as an HMAC, compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from hmac import compare_digest
from uuid import UUID

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from switchboard.auth_sessions.models import CODE_LIFETIME, CodeChannel
from switchboard.errors import InvalidInput, OtpNotConfigured
from switchboard.privacy import MASK, mask_email, mask_phone
from switchboard.settings import Settings

CODE_DIGITS = 6
_HKDF_INFO = b"switchboard otp hmac"
_SEPARATORS = re.compile(r"[\s\-.]")
# What a provider's code may look like (Verify: 4 to 10 digits); anything else is not a code.
_CODE = re.compile(r"^[0-9]{4,10}$")  # ASCII digits only: "٤٥٦" is not a code


@dataclass(frozen=True)
class OtpConfig:
    """What sending and checking codes needs from the settings."""

    hmac_key: bytes = field(repr=False)  # derived from SWITCHBOARD_SECRET_KEY, never stored
    bank_name: str = ""

    @classmethod
    def from_secret(cls, secret_key: str, *, bank_name: str = "") -> OtpConfig:
        secret = secret_key.strip()
        if not secret:
            raise OtpNotConfigured(
                "SWITCHBOARD_SECRET_KEY is not set: one-time codes cannot be sent or checked",
                hint="set it to a long random value, e.g. `python -c 'import secrets;"
                " print(secrets.token_urlsafe(32))'`, and keep it out of the repository",
            )
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_HKDF_INFO).derive(
            secret.encode()
        )
        return cls(hmac_key=key, bank_name=bank_name.strip())

    @classmethod
    def from_settings(cls, settings: Settings) -> OtpConfig:
        return cls.from_secret(settings.switchboard_secret_key, bank_name=settings.bank_name)


def new_code() -> str:
    return f"{secrets.randbelow(10**CODE_DIGITS):0{CODE_DIGITS}d}"


def code_hmac(config: OtpConfig, session_id: UUID, code: str) -> bytes:
    """Bound to its session: the same code in another session hashes differently."""
    keyed = _session_hmac(config, session_id)
    keyed.update(code.encode())
    return keyed.digest()


def _session_hmac(config: OtpConfig, session_id: UUID) -> hmac.HMAC:
    """The HMAC of a code of this session, fed all but the code."""
    return hmac.new(config.hmac_key, b"code\x00" + session_id.bytes + b"\x00", hashlib.sha256)


# How many code hashes one text may cost before the rest of its digit runs are masked unseen:
# the check stays cheap whatever a payload holds, and never lets a code through.
MAX_CODE_COMPARISONS = 5_000


def code_finder(config: OtpConfig, sessions: list[tuple[UUID, bytes]]) -> Callable[[str], bool]:
    """A test of a run of digits (a transcript's): does it hold the code of one of these
    sessions (id, code_hmac)? Every CODE_DIGITS-long window of the run is hashed and compared,
    so a code said twice, or inside a longer run, is found."""
    keyed = [(_session_hmac(config, session_id), stored) for session_id, stored in sessions]
    budget = MAX_CODE_COMPARISONS

    def holds_code(digits: str) -> bool:
        nonlocal budget
        windows = {digits[i : i + CODE_DIGITS] for i in range(len(digits) - CODE_DIGITS + 1)}
        cost = len(windows) * len(keyed)
        if cost > budget:
            budget = 0
            return True
        budget -= cost
        for window in windows:
            for base, stored in keyed:
                candidate = base.copy()
                candidate.update(window.encode())
                if compare_digest(candidate.digest(), stored):
                    return True
        return False

    return holds_code


def code_matches(config: OtpConfig, session_id: UUID, code: str, stored: bytes) -> bool:
    return compare_digest(code_hmac(config, session_id, code), stored)


def destination_hmac(config: OtpConfig, destination: str) -> bytes:
    """What the send limit counts by. Keyed, because phone numbers are few enough to guess."""
    return hmac.new(
        config.hmac_key, b"destination\x00" + destination.encode(), hashlib.sha256
    ).digest()


def normalize_code(raw: str) -> str:
    """The digits someone typed or said: "123 456" and "123-456" are "123456"."""
    code = _SEPARATORS.sub("", raw)
    if not _CODE.match(code):
        raise InvalidInput(
            "a one-time code is 4 to 10 digits", hint="ask the customer to read it again"
        )
    return code


def mask_destination(channel: CodeChannel, destination: str) -> str:
    return mask_email(destination) if channel is CodeChannel.EMAIL else mask_phone(destination)


def code_message(config: OtpConfig, code: str) -> tuple[str, str]:
    """The text to send, and the same text with the code masked, for storage."""
    minutes = int(CODE_LIFETIME.total_seconds() // 60)
    bank = f"{config.bank_name} " if config.bank_name else ""
    whose = f"Your {bank}verification code"
    # Joined, not formatted: a bank name with braces in it must stay text.
    head, tail = f"{whose} is ", f". It expires in {minutes} minutes. We will never ask you for it."
    return head + code + tail, head + MASK * len(code) + tail
