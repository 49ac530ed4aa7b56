"""Sealed text opens only with the same key and for the same message."""

from __future__ import annotations

from uuid import uuid4

import pytest

from switchboard.errors import ConfigurationError
from switchboard.outbound.sealing import PREFIX, UnsealFailed, derive_seal_key, seal, unseal

KEY = derive_seal_key("a long random secret key")


def test_a_sealed_text_opens_for_its_message_and_hides_the_text() -> None:
    message_id = uuid4()

    sealed = seal(KEY, "Your code is 482913", message_id=message_id)

    assert sealed.startswith(PREFIX)
    assert "482913" not in sealed
    assert unseal(KEY, sealed, message_id=message_id) == "Your code is 482913"
    assert seal(KEY, "Your code is 482913", message_id=message_id) != sealed  # fresh nonce


def test_it_does_not_open_for_another_message_or_key_or_when_tampered_with() -> None:
    message_id = uuid4()
    sealed = seal(KEY, "Your code is 482913", message_id=message_id)
    flipped = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]

    with pytest.raises(UnsealFailed):
        unseal(KEY, sealed, message_id=uuid4())
    with pytest.raises(UnsealFailed):
        unseal(derive_seal_key("another key"), sealed, message_id=message_id)
    with pytest.raises(UnsealFailed):
        unseal(KEY, flipped, message_id=message_id)
    with pytest.raises(UnsealFailed):
        unseal(None, sealed, message_id=message_id)


def test_the_subkey_is_32_bytes_and_a_blank_secret_gives_none() -> None:
    assert KEY is not None
    assert len(KEY) == 32
    assert derive_seal_key("   ") is None


def test_without_a_secret_key_nothing_can_be_sealed() -> None:
    with pytest.raises(ConfigurationError, match="SWITCHBOARD_SECRET_KEY"):
        seal(None, "Your code is 482913", message_id=uuid4())
