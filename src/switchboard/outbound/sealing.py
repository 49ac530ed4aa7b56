"""Sealing the text of a message that must not rest in clear (a one-time code) for its trip
through the job queue: AES-GCM under a key derived from SWITCHBOARD_SECRET_KEY.

The message's id is the associated data, so a sealed text opens only for its own message. A
sealed value is never logged or audited (see queue.py for procrastinate's logs).
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
_INFO = b"switchboard outbound seal"


class UnsealFailed(Exception):
    """The sealed text does not open with this key (SWITCHBOARD_SECRET_KEY changed?)."""


def derive_seal_key(secret_key: str) -> bytes | None:
    """Our own subkey of SWITCHBOARD_SECRET_KEY, or None when it is unset."""
    if not secret_key.strip():
        return None
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO)
    return hkdf.derive(secret_key.strip().encode("utf-8"))


@functools.lru_cache(maxsize=4)
def _cipher(key: bytes) -> AESGCM:
    # Built once per key: setting one up costs as much as sealing a short text with it.
    return AESGCM(key)


def seal(key: bytes | None, text: str, *, message_id: UUID) -> str:
    if key is None:
        raise ConfigurationError(
            "SWITCHBOARD_SECRET_KEY is not set, so a message carrying a secret cannot be queued",
            hint="set SWITCHBOARD_SECRET_KEY (any long random string; keep it secret)",
        )
    nonce = os.urandom(_NONCE_BYTES)
    sealed = _cipher(key).encrypt(nonce, text.encode("utf-8"), str(message_id).encode())
    return PREFIX + base64.urlsafe_b64encode(nonce + sealed).decode("ascii")


def unseal(key: bytes | None, value: str, *, message_id: UUID) -> str:
    if key is None or not value.startswith(PREFIX):
        raise UnsealFailed("no key to open it with" if key is None else "not a sealed value")
    try:
        raw = base64.urlsafe_b64decode(value.removeprefix(PREFIX).encode("ascii"))
        opened = _cipher(key).decrypt(
            raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], str(message_id).encode()
        )
    except (InvalidTag, ValueError) as exc:
        raise UnsealFailed("the sealed text does not open with this key") from exc
    return opened.decode("utf-8")
