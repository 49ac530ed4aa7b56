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
    code_finder,
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


def test_a_code_is_found_by_its_hash_in_a_run_of_digits() -> None:
    config = OtpConfig.from_secret("the-secret")
    session_id, other = uuid.uuid4(), uuid.uuid4()
    holds_code = code_finder(
        config, [(other, b"\0" * 32), (session_id, code_hmac(config, session_id, "855605"))]
    )

    assert holds_code("855605")
    assert holds_code("12855605855605")  # said twice, after other digits
    assert not holds_code("855606")
    assert not holds_code("85560")
    # The same code of another session hashes differently.
    assert not code_finder(config, [(other, code_hmac(config, session_id, "855605"))])("855605")


def test_a_text_with_more_digits_than_the_budget_is_masked_unseen() -> None:
    config = OtpConfig.from_secret("the-secret")
    session_id = uuid.uuid4()
    holds_code = code_finder(config, [(session_id, code_hmac(config, session_id, "855605"))])
    many = "".join(f"{n:06d}" for n in range(0, 60_000, 7))  # ten thousand distinct windows

    assert not holds_code("123456")
    assert holds_code(many) is True  # it would cost more than the budget: masked unseen
    assert holds_code("123456") is True  # and every run after it
