"""The pieces of a built-in code: the key, the code, the hashes, the text."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from collections import Counter

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from switchboard.auth_sessions.codes import (
    OtpConfig,
    code_hmac,
    code_message,
    destination_hmac,
    new_code,
    normalize_code,
)
from switchboard.auth_sessions.models import verify_status
from switchboard.errors import OtpNotConfigured


def test_the_hmac_key_is_derived_from_the_secret_key_by_hkdf() -> None:
    config = OtpConfig.from_secret("  the-secret  ")

    expected = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=b"switchboard otp hmac"
    ).derive(b"the-secret")
    assert config.hmac_key == expected
    assert "the-secret" not in repr(config)
    assert expected.hex() not in repr(config)


def test_no_secret_key_means_no_codes() -> None:
    with pytest.raises(OtpNotConfigured, match="SWITCHBOARD_SECRET_KEY"):
        OtpConfig.from_secret(" ")


def test_codes_are_six_digits_and_spread_over_all_of_them() -> None:
    made = [new_code() for _ in range(2000)]

    assert all(len(code) == 6 and code.isdigit() for code in made)
    digits = Counter("".join(made))
    assert set(digits) == set("0123456789")
    assert max(digits.values()) < 2 * min(digits.values())


def test_the_code_hash_depends_on_key_session_and_code() -> None:
    config, other_key = OtpConfig.from_secret("one"), OtpConfig.from_secret("two")
    session, other_session = uuid.uuid4(), uuid.uuid4()

    digest = code_hmac(config, session, "123456")

    assert len(digest) == 32
    assert digest != code_hmac(other_key, session, "123456")
    assert digest != code_hmac(config, other_session, "123456")
    assert digest != code_hmac(config, session, "123457")
    assert digest != hmac.new(config.hmac_key, b"123456", hashlib.sha256).digest()
    assert destination_hmac(config, "+447700900123") != destination_hmac(other_key, "+447700900123")


def test_a_spoken_or_spaced_code_is_read_as_its_digits() -> None:
    assert normalize_code(" 123 456 ") == "123456"
    assert normalize_code("123-456") == "123456"


def test_the_text_without_a_bank_name_still_reads_well() -> None:
    text, stored = code_message(OtpConfig.from_secret("k"), "004211")

    assert text == (
        "Your verification code is 004211. It expires in 10 minutes. We will never ask you for it."
    )
    assert "004211" not in stored
    assert "••••••" in stored


def test_a_verify_status_we_do_not_know_never_counts_as_verified() -> None:
    assert verify_status("approved") == "verified"
    assert verify_status("APPROVED") == "failed"
    assert verify_status("") == "failed"
