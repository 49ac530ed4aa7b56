"""Card numbers are masked wherever they sit among other digits; a code read out is masked
while one is awaited."""

from __future__ import annotations

import random
import time

import pytest

from switchboard.privacy import (
    luhn_valid,
    mask_card_numbers,
    mask_digit_runs,
    mask_email,
    mask_phone,
    spoken_digits,
)


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("4111 1111 1111 1111", "•••• •••• •••• 1111"),
        ("5500-0000-0000-0004", "••••-••••-••••-0004"),
        ("amex 378282246310005", "amex •••••••••••0005"),
        ("card 4111 1111 1111 1111 12/25 thanks", "card •••• •••• •••• 1111 12/25 thanks"),
        ("4111 1111 1111 1111 123", "•••• •••• •••• 1111 123"),
        ("ref 12 4111-1111-1111-1111", "ref 12 ••••-••••-••••-1111"),
        ("5555555555554444 99", "••••••••••••4444 99"),
        ("x41111111111111112", "x••••••••••••11112"),
        # Whatever separates the groups, and kept as it was.
        ("4111.1111.1111.1111", "••••.••••.••••.1111"),
        ("4111  1111  1111  1111", "••••  ••••  ••••  1111"),
        ("4111\u00a01111\u00a01111\u00a01111", "••••\u00a0••••\u00a0••••\u00a01111"),
        ("4111\t1111\t1111\t1111", "••••\t••••\t••••\t1111"),
        ("4111/1111/1111/1111", "••••/••••/••••/1111"),
        ("4111_1111_1111_1111", "••••_••••_••••_1111"),
        ("4111 - 1111 - 1111 - 1111", "•••• - •••• - •••• - 1111"),
        ("4111, 1111, 1111, 1111", "••••, ••••, ••••, 1111"),
        ("3782 822463 10005", "•••• •••••• •0005"),
        ("4111.1111 - 1111_1111 exp 12/25", "••••.•••• - ••••_1111 exp 12/25"),
    ],
)
def test_card_numbers_are_masked_to_their_last_four(text: str, masked: str) -> None:
    assert mask_card_numbers(text) == masked


@pytest.mark.parametrize(
    "text",
    [
        "call 07700 900123",
        "ref 1234567890123",
        "sort code 20-00-00 account 12345678",
        "",
        # Four separators, or a line break, end a number.
        "4111    1111    1111    1111",
        "4111\n1111\n1111\n1111",
    ],
)
def test_numbers_that_are_not_cards_are_left_alone(text: str) -> None:
    assert mask_card_numbers(text) == text


def test_luhn() -> None:
    assert luhn_valid("4111111111111111")
    assert not luhn_valid("4111111111111112")


def test_addresses_are_masked_for_display() -> None:
    assert mask_phone("+447700900123") == "+44••••••0123"
    assert mask_email("jane@example.com") == "j•••@example.com"


def test_links_are_left_whole() -> None:
    text = "recording https://storage.example/call-1767272466981-mono.wav card 4111111111111111"

    assert mask_card_numbers(text) == (
        "recording https://storage.example/call-1767272466981-mono.wav card ••••••••••••1111"
    )


def test_uuids_are_left_whole_though_their_digits_pass_the_luhn_check() -> None:
    # 41111111, 1111 and 1111: the 16 digits of a test Visa number, in whole groups.
    case_id = "41111111-1111-1111-0000-000000000000"
    text = f'{{"case": {{"case_id": "{case_id}"}}}}, card 4111-1111-1111-1111'

    assert mask_card_numbers(text) == (
        f'{{"case": {{"case_id": "{case_id}"}}}}, card ••••-••••-••••-1111'
    )


def test_cards_inside_long_runs_of_digits_are_found_window_by_window() -> None:
    # A run longer than any card: every 13-19 digit window is tried, left to right, the usual
    # lengths first. Checked against luhn_valid itself, one window at a time.
    rng = random.Random(7)  # noqa: S311 - test data, not a secret
    for _ in range(300):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randint(20, 45)))
        expected = list(digits)
        position = 0
        while position <= len(digits) - 13:
            for length in (16, 15, 19, 14, 13, 18, 17):
                window = digits[position : position + length]
                if len(window) == length and luhn_valid(window):
                    expected[position : position + length - 4] = "•" * (length - 4)
                    position += length
                    break
            else:
                position += 1

        assert mask_card_numbers(f"id {digits}") == "id " + "".join(expected)


def test_thirteen_zeros_pass_the_luhn_check_and_are_masked() -> None:
    assert mask_card_numbers("SM0000000000000ab") == "SM•••••••••0000ab"


@pytest.mark.parametrize(
    ("said", "kept"),
    [
        ("Yes, it's 8 5 5 6 0 5", "Yes, it's • • • • • •"),
        ("855-605", "•••-•••"),
        ("eight five five six oh five", "• • • • • •"),
        ("Eight Five 5 six 0 FIVE", "• • • • • •"),
        ("it is double five six, seven, eight", "it is •• •, •, •"),
        ("triple nine four two", "••• • •"),
        ("triple five triple six", "••• •••"),
        ("double five double six", "•• ••"),
        # Said twice, it is one run: no digits of the second saying are left behind.
        ("855 605 855 605", "••• ••• ••• •••"),
        (
            "eight five five six oh five, eight five five six oh five",
            "• • • • • •, • • • • • •",
        ),
        ("Oh no. Five, four, one, two.", "Oh no. •, •, •, •."),
        ({"turns": ["one two three four"]}, {"turns": ["• • • •"]}),
    ],
)
def test_a_code_read_out_is_masked_as_digits_or_words(said: object, kept: object) -> None:
    assert mask_digit_runs(said) == kept


@pytest.mark.parametrize(
    "said",
    [
        "I have one question about two payments",
        "one two three",
        "to be one of those two or three people",
        "someone took four hundred",
        "123",
        "12345678901",  # longer than any code
        "one two",
        "onetwothreefour",
    ],
)
def test_numbers_that_are_not_a_code_stay_as_said(said: str) -> None:
    assert mask_digit_runs(said) == said


def test_a_run_is_masked_when_its_digits_hold_a_code_however_it_was_said() -> None:
    def is_code(digits: str) -> bool:
        return "855605" in digits

    said = "It's eight five five six oh five, or 855 605; my flat is 12 and I paid 1250."

    assert mask_digit_runs(said, is_code) == (
        "It's • • • • • •, or ••• •••; my flat is 12 and I paid 1250."
    )
    assert spoken_digits("triple five, double oh 7") == "555007"


@pytest.mark.parametrize(
    "body",
    [
        "1 " * 500_000,
        "12 " * 333_333,
        "1" * 1_000_000,
        "0.-" * 333_333,
        "a." * 500_000 + " 4111111111111111",
        "\u00a04" * 500_000,
    ],
    ids=["single-digits", "pairs", "unbroken", "separators", "scheme-like", "non-ascii"],
)
def test_a_megabyte_of_digits_and_separators_is_masked_in_bounded_time(body: str) -> None:
    # Linear in the text: a backtracking regex or a search per window would take minutes.
    started = time.perf_counter()
    masked = mask_card_numbers(body)
    assert time.perf_counter() - started < 5
    assert len(masked) == len(body)
