"""The subkeys of SWITCHBOARD_SECRET_KEY that sign-in uses, one per purpose (HKDF info)."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from switchboard.errors import ConfigurationError
from switchboard.sealing import AGENT_TOTP, derive_seal_key

_CSRF = b"switchboard agent csrf token"
_SUBJECT = b"switchboard sign-in subject"


@dataclass(frozen=True)
class SignInKeys:
    totp_seal: bytes | None
    _csrf: bytes | None
    _subject: bytes | None

    @classmethod
    def from_secret(cls, secret_key: str) -> SignInKeys:
        return cls(
            totp_seal=derive_seal_key(secret_key, purpose=AGENT_TOTP),
            _csrf=derive_seal_key(secret_key, purpose=_CSRF),
            _subject=derive_seal_key(secret_key, purpose=_SUBJECT),
        )

    def csrf_token(self, session_token: str) -> str:
        """HMAC-SHA256 of the session's token: a page of ours can send it back, another site
        cannot compute it."""
        return hmac.new(_required(self._csrf), session_token.encode(), hashlib.sha256).hexdigest()

    def account_subject(self, email: str) -> str:
        """An email as the back-off counts it and an audit record of an unknown one names it:
        keyed, so the text typed (perhaps a password in the wrong field) is not kept."""
        digest = hmac.new(_required(self._subject), email.strip().lower().encode(), "sha256")
        return "hmac:" + digest.hexdigest()[:32]


def _required(key: bytes | None) -> bytes:
    if key is None:
        raise ConfigurationError(
            "SWITCHBOARD_SECRET_KEY is not set, so agents cannot sign in",
            hint="set SWITCHBOARD_SECRET_KEY (any long random string; keep it secret)",
        )
    return key


def token_hash(token: str) -> bytes:
    """What a session or enrolment row keeps of its secret."""
    return hashlib.sha256(token.encode()).digest()
