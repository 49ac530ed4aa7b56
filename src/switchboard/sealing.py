"""Sealing a value that must not rest in clear: AES-GCM under a subkey of
SWITCHBOARD_SECRET_KEY derived for one purpose (HKDF's info), bound to the row it belongs to
(the associated data).

A value sealed for one purpose does not open with another purpose's key, and a value sealed for
one row (a message, an agent) does not open for another: copying a sealed column from one row
to another gets nothing. A sealed value is never logged or audited.

Purposes in use: OUTBOUND_MESSAGE (a one-time code's text for its trip through the job queue,
bound to its message id) and AGENT_TOTP (an agent's TOTP secret, bound to the agent id).
"""

from __future__ import annotations

import base64
import functools
import os
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from switchboard.errors import ConfigurationError

PREFIX = "sealed:v1:"
_NONCE_BYTES = 12

# HKDF info per purpose. OUTBOUND_MESSAGE's is what outbound/ used before sealing was shared,
# so that what is queued under it still opens.
OUTBOUND_MESSAGE = b"switchboard outbound seal"
AGENT_TOTP = b"switchboard agent totp seal"


class UnsealFailed(Exception):
    """The sealed text does not open with this key (SWITCHBOARD_SECRET_KEY changed?)."""


def derive_seal_key(secret_key: str, *, purpose: bytes) -> bytes | None:
    """The subkey of SWITCHBOARD_SECRET_KEY for `purpose`, or None when it is unset."""
    if not secret_key.strip():
        return None
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose)
    return hkdf.derive(secret_key.strip().encode("utf-8"))


@functools.lru_cache(maxsize=8)
def _cipher(key: bytes) -> AESGCM:
    # Built once per key: setting one up costs as much as sealing a short text with it.
    return AESGCM(key)


def _associated(bound_to: UUID | str) -> bytes:
    return str(bound_to).encode()


def seal(key: bytes | None, text: str, *, bound_to: UUID | str) -> str:
    if key is None:
        raise ConfigurationError(
            "SWITCHBOARD_SECRET_KEY is not set, so a secret (a one-time code, an agent's TOTP "
            "secret) cannot be sealed",
            hint="set SWITCHBOARD_SECRET_KEY (any long random string; keep it secret)",
        )
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _cipher(key).encrypt(nonce, text.encode("utf-8"), _associated(bound_to))
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(key: bytes | None, value: str, *, bound_to: UUID | str) -> str:
    if key is None or not value.startswith(PREFIX):
        raise UnsealFailed("no key to open it with" if key is None else "not a sealed value")
    try:
        raw = base64.urlsafe_b64decode(value.removeprefix(PREFIX).encode("ascii"))
        opened = _cipher(key).decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], _associated(bound_to))
    except (InvalidTag, ValueError) as exc:
        raise UnsealFailed("the sealed text does not open with this key") from exc
    return opened.decode("utf-8")
