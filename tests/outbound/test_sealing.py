"""Sealed text opens only with the same key (secret and purpose) and for the same row."""

from __future__ import annotations

from uuid import uuid4

import pytest

from switchboard.errors import ConfigurationError
from switchboard.sealing import (
    AGENT_TOTP,
    OUTBOUND_MESSAGE,
    PREFIX,
    UnsealFailed,
    derive_seal_key,
    seal,
    unseal,
)

KEY = derive_seal_key("a long random secret key", purpose=OUTBOUND_MESSAGE)


def test_a_sealed_text_opens_for_its_message_and_hides_the_text() -> None:
    message_id = uuid4()

    sealed = seal(KEY, "Your code is 482913", bound_to=message_id)

    assert sealed.startswith(PREFIX)
    assert "482913" not in sealed
    assert unseal(KEY, sealed, bound_to=message_id) == "Your code is 482913"
    assert seal(KEY, "Your code is 482913", bound_to=message_id) != sealed  # fresh nonce


def test_it_does_not_open_for_another_message_or_key_or_when_tampered_with() -> None:
    message_id = uuid4()
    sealed = seal(KEY, "Your code is 482913", bound_to=message_id)
    flipped = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]

    with pytest.raises(UnsealFailed):
        unseal(KEY, sealed, bound_to=uuid4())
    with pytest.raises(UnsealFailed):
        unseal(
            derive_seal_key("another key", purpose=OUTBOUND_MESSAGE), sealed, bound_to=message_id
        )
    with pytest.raises(UnsealFailed):
        unseal(KEY, flipped, bound_to=message_id)
    with pytest.raises(UnsealFailed):
        unseal(None, sealed, bound_to=message_id)


def test_the_subkey_is_32_bytes_and_a_blank_secret_gives_none() -> None:
    assert KEY is not None
    assert len(KEY) == 32
    assert derive_seal_key("   ", purpose=OUTBOUND_MESSAGE) is None


def test_without_a_secret_key_nothing_can_be_sealed() -> None:
    with pytest.raises(ConfigurationError, match="SWITCHBOARD_SECRET_KEY"):
        seal(None, "Your code is 482913", bound_to=uuid4())


def test_a_value_sealed_for_one_purpose_does_not_open_with_another_purposes_key() -> None:
    agent_id = uuid4()
    totp_key = derive_seal_key("a long random secret key", purpose=AGENT_TOTP)
    sealed = seal(totp_key, "JBSWY3DPEHPK3PXP", bound_to=agent_id)

    assert totp_key != KEY
    assert unseal(totp_key, sealed, bound_to=agent_id) == "JBSWY3DPEHPK3PXP"
    with pytest.raises(UnsealFailed):
        unseal(KEY, sealed, bound_to=agent_id)
