"""What must never be stored in clear: card numbers in free text, and full addresses in logs."""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Callable
from itertools import accumulate, pairwise
from typing import Any

# What may stand between the digit groups of a card number, up to three in a row ("4111 -
# 1111"): blanks of every kind (space, tab, no-break, figure, thin and narrow no-break
# spaces), dots, dashes (and the en dash), slashes, underscores and commas. Line breaks are
# not: numbers on separate lines are separate numbers.
_SEPARATORS = " \t\u00a0\u2007\u2009\u202f.\\-\u2013/_,"
_MAX_SEPARATORS = 3
# Digits, each separated from the next by at most three separators: where card numbers hide.
# Digits and separators are disjoint, so the regex never backtracks more than three
# characters: it runs in time linear in the text.
_DIGIT_RUN = re.compile(rf"\d(?:[{_SEPARATORS}]{{0,{_MAX_SEPARATORS}}}\d)*")
# The shortest card number has 13 digits: text without a run that long holds none. Most text
# stored (ids, phone numbers, names, amounts) has none, and skips the search altogether.
_SHORTEST_CARD = 13
_CARD_SIZED_RUN = re.compile(rf"\d(?:[{_SEPARATORS}]{{0,{_MAX_SEPARATORS}}}\d){{12}}")
# The same test for ASCII text, several times cheaper than the regex: every digit becomes 0,
# every separator -, anything else x; removing the short runs of - between 0s then leaves
# thirteen 0s in a row exactly where the regex would match.
_ASCII_SEPARATORS = "".join(char for char in _SEPARATORS.replace("\\", "") if char.isascii())
_SHAPE = bytes(
    ord("0")
    if chr(byte) in "0123456789"
    else ord("-")
    if chr(byte) in _ASCII_SEPARATORS
    else ord("x")
    for byte in range(256)
)
_JOINED = re.compile(rb"(?<=0)-{1,%d}(?=0)" % _MAX_SEPARATORS)
_THIRTEEN_DIGITS = b"0" * _SHORTEST_CARD
# What is kept whole: links (a link's scheme starts where a run of scheme characters starts,
# the lookbehind: each character is then tried by one start at most, and a long "a.a.a…"
# stays linear) and UUIDs (8-4-4-4-12 hex digits: an id, never a card, though its digits may
# pass the Luhn check across its groups).
_KEPT_WHOLE = re.compile(
    r"((?<![a-z0-9+.-])[a-z][a-z0-9+.-]*://\S+"
    r"|(?<![0-9a-f-])[0-9a-f]{8}(?:-[0-9a-f]{4}){3}-[0-9a-f]{12}(?![0-9a-f-]))",
    re.IGNORECASE,
)
MASK = "•"


class Identifier(str):
    """An id (a tool call's, a call's, a provider's message id), not text: kept and audited
    exactly as sent, so that its record can be matched to what it names, and never searched
    for card numbers. A payload's free text is masked around it."""

    __slots__ = ()


def luhn_valid(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = int(char)
        if position % 2 == 1:
            value = value * 2 - 9 if value > 4 else value * 2
        total += value
    return total % 10 == 0


def mask_card_numbers(text: str) -> str:
    """Every Luhn-valid 13-19 digit number becomes its last four digits behind dots, keeping
    what separates its groups: "4111 1111 1111 1111" → "•••• •••• •••• 1111",
    "4111.1111.1111.1111" → "••••.••••.••••.1111".

    A card may sit in a longer run of digits ("4111 1111 1111 1111 12/25", "ref 12 4111-…").
    Numbers made of whole groups are tried first, the usual card lengths before the rare
    ones; then windows inside a long unbroken group. Masking a few digits of a reference that
    happen to pass the Luhn check is the price of never missing a card. Linear in the text:
    each window's Luhn sum is read from prefix sums.
    """
    if len(text) < _SHORTEST_CARD or not _has_card_sized_run(text):
        return text
    # Links are left whole: ids and timestamps in them are not cards, and a masked recording
    # link is a broken one. So are UUIDs: a case's id in a tool's answer must stay usable.
    parts = _KEPT_WHOLE.split(text)
    return "".join(
        part if index % 2 else _DIGIT_RUN.sub(_mask_run, part) for index, part in enumerate(parts)
    )


def _has_card_sized_run(text: str) -> bool:
    if not text.isascii():
        return _CARD_SIZED_RUN.search(text) is not None
    shape = _JOINED.sub(b"", text.encode("ascii").translate(_SHAPE))
    return _THIRTEEN_DIGITS in shape


# Card lengths, most common first: 16 (Visa, Mastercard), 15 (Amex), then the rest.
_LENGTHS = (16, 15, 19, 14, 13, 18, 17)
_GROUP = re.compile(r"\d+")


def _mask_run(match: re.Match[str]) -> str:
    """The run with every card in it masked. A few passes over the run, then a loop that
    visits only the places where a card may start (a window of whole groups that passes the
    Luhn check, or one inside a group longer than any card), each visit masking a card and
    moving past it, or failing near a long group's end: linear in the run."""
    run = match.group(0)
    groups = _GROUP.findall(run)
    digits = "".join(groups)
    size = len(digits) + 1
    starts = [0, *accumulate(map(len, groups))]  # the digit index each group starts at
    edges = bytearray(size)  # 1 where a group starts, and at the end
    in_long = bytearray(size)  # 1 on the digits of a group at least as long as a card
    for first, end in pairwise(starts):
        edges[first] = 1
        if end - first >= _SHORTEST_CARD:
            in_long[first:end] = b"\x01" * (end - first)
    edges[-1] = 1
    edge_bits = int.from_bytes(edges, "little")
    passes = {n: int.from_bytes(window, "little") for n, window in _luhn_windows(digits).items()}
    # Whole groups: the window passes, and starts and ends where groups do (a byte a digit,
    # so n digits on is 8n bits on).
    whole = {n: bits & edge_bits & (edge_bits >> 8 * n) for n, bits in passes.items()}
    inside = int.from_bytes(in_long, "little")
    candidates = 0
    for n in _LENGTHS:
        candidates |= whole[n] | (passes[n] & inside)
    at = candidates.to_bytes(size, "little")
    whole_at = {n: bits.to_bytes(size, "little") for n, bits in whole.items()}
    passes_at = {n: (bits & inside).to_bytes(size, "little") for n, bits in passes.items()}
    hidden: list[tuple[int, int]] = []  # digit ranges to mask but their last four
    position = at.find(1)
    while position != -1:
        stop = next((position + n for n in _LENGTHS if whole_at[n][position]), None)
        if stop is None:
            end = starts[bisect_right(starts, position)]  # where the group ends
            stop = next(
                (position + n for n in _LENGTHS if passes_at[n][position] and position + n <= end),
                None,
            )
        if stop is None:
            position = at.find(1, position + 1)
            continue
        hidden.append((position, stop))
        position = at.find(1, stop)
    if not hidden:
        return run
    where = [index for index, char in enumerate(run) if char.isdecimal()]  # each digit's place
    masked = list(run)
    for first, stop in hidden:
        for i in range(first, stop - 4):
            masked[where[i]] = MASK
    return "".join(masked)


def _luhn_windows(digits: str) -> dict[int, bytes]:
    """For each card length n, a byte per digit index i: 1 if digits[i:i+n] passes the Luhn
    check (0 past the end). Built from prefix sums, each step a pass in C over bytes: a digit
    is doubled when its distance from the window's last digit is odd, so a window reads the
    prefix sums of the parity its last digit's index has, and passes when both ends agree
    modulo 10 (where the two shifted sums XOR to zero)."""
    if not digits.isascii():  # digits of another script: their values, as ASCII digits
        digits = "".join(str(int(char)) for char in digits)
    values = digits.encode("ascii").translate(_VALUE)
    doubled = values.translate(_DOUBLED)
    # The digits' contributions with the window's last digit at an even, and at an odd, index.
    at_even, at_odd = bytearray(values), bytearray(doubled)
    at_even[1::2], at_odd[1::2] = doubled[1::2], values[1::2]
    even = bytes([total % 10 for total in accumulate(at_even, initial=0)])
    odd = bytes([total % 10 for total in accumulate(at_odd, initial=0)])
    valid: dict[int, bytes] = {}
    for length in _LENGTHS:
        # A window starting at i ends at index i + length - 1: odd when i has length's parity.
        window = bytearray(_agree(even, length))
        window[length % 2 :: 2] = _agree(odd, length)[length % 2 :: 2]
        valid[length] = bytes(window) + bytes(length)
    return valid


def _agree(sums: bytes, shift: int) -> bytes:
    """A byte per i: 1 where sums[i + shift] == sums[i], else 0."""
    size = len(sums) - shift
    if size <= 0:
        return b""
    apart = int.from_bytes(sums[shift:], "big") ^ int.from_bytes(sums[:size], "big")
    return apart.to_bytes(size, "big").translate(_ZERO_IS_ONE)


_VALUE = bytes(byte - 48 if 48 <= byte <= 57 else 0 for byte in range(256))
_DOUBLED = bytes(byte * 2 - 9 if 4 < byte < 10 else byte * 2 % 256 for byte in range(256))
_ZERO_IS_ONE = bytes([1]) + bytes(255)


def mask_cards_in(value: Any) -> Any:
    """The same JSON-like value with card numbers masked in every string, keys included, but
    the Identifiers in it."""
    if isinstance(value, str):
        # Most keys and values are short: not worth a call.
        if len(value) < _SHORTEST_CARD or isinstance(value, Identifier):
            return value
        return mask_card_numbers(value)
    if isinstance(value, dict):
        return {mask_cards_in(k): mask_cards_in(v) for k, v in value.items()}
    if isinstance(value, _SEQUENCES):
        return [mask_cards_in(v) for v in value]
    return value


_SEQUENCES = (list, tuple)  # a tuple: `list | tuple` would build a union at every call


def mask_phone(e164: str) -> str:
    """+447700900123 → +44••••••0123: enough to recognise, not enough to dial."""
    if len(e164) <= 7:
        return MASK * len(e164)
    return e164[:3] + MASK * (len(e164) - 7) + e164[-4:]


def mask_email(address: str) -> str:
    """jane@example.com → j•••@example.com"""
    local, _, domain = address.partition("@")
    if not domain:
        return MASK * 3
    return f"{local[:1]}{MASK * 3}@{domain}"


def mask_address(address: str) -> str:
    """A phone number or an email address, masked as above."""
    return mask_email(address) if "@" in address else mask_phone(address)


# Four digits or more, typed or spoken, with blanks, dashes or commas between them: what a
# one-time code looks like in a transcript ("8 5 5 6 0 5", "855-605"), where speech to text
# may also write them as words ("eight five five six oh five", "triple five"). A run is taken
# whole, however long (a code said twice is one run); only an unbroken string of more than
# ten digits is left, as no code is that long (card numbers are masked on their own).
_DIGIT_WORD = r"(?:zero|oh|o|one|two|three|four|five|six|seven|eight|nine)"
_SPOKEN_DIGIT = rf"(?:[0-9]|\b(?:(?:double|triple)[\s-]+)?(?:{_DIGIT_WORD}\b|[0-9]))"
_SPOKEN_DIGITS = re.compile(
    rf"(?<![0-9]){_SPOKEN_DIGIT}(?:[\s,.\-]*{_SPOKEN_DIGIT})*(?![0-9])", re.IGNORECASE
)
_ONE_SPOKEN_DIGIT = re.compile(
    rf"\b(?P<times>double|triple)[\s-]+(?P<word>{_DIGIT_WORD}\b|[0-9])"
    rf"|\b(?P<alone>{_DIGIT_WORD})\b|(?P<digit>[0-9])",
    re.IGNORECASE,
)
_DIGIT_OF_WORD = {"zero": "0", "oh": "0", "o": "0", "one": "1", "two": "2", "three": "3"}
_DIGIT_OF_WORD |= {"four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9"}
MAX_CODE_DIGITS = 10


def _digits_in(digit: re.Match[str]) -> int:
    return {"double": 2, "triple": 3}.get((digit.group("times") or "").lower(), 1)


def _digit_of(digit: re.Match[str]) -> str:
    """The digits one match says: "7" → "7", "oh" → "0", "triple five" → "555"."""
    said = (digit.group("word") or digit.group("alone") or digit.group("digit")).lower()
    return _DIGIT_OF_WORD.get(said, said) * _digits_in(digit)


def spoken_digits(text: str) -> str:
    """The digits a run of digits and digit words says, in order."""
    return "".join(_digit_of(digit) for digit in _ONE_SPOKEN_DIGIT.finditer(text))


def _code_shaped(text: str, digits: str) -> bool:
    """Four digits or more, unless an unbroken string longer than any code."""
    return len(digits) >= 4 and not (text.isdigit() and len(digits) > MAX_CODE_DIGITS)


def _masked(text: str) -> str:
    return _ONE_SPOKEN_DIGIT.sub(lambda digit: MASK * _digits_in(digit), text)


def mask_digit_runs(value: Any, is_code: Callable[[str], bool] | None = None) -> Any:
    """Runs of digits, typed or spoken as words, masked (one bullet a digit) in a text or
    anything JSON holds, so that a one-time code never rests in a transcript. Without
    `is_code`, every run of 4 digits or more (a code may be being read out); with it, the runs
    whose digits it says hold a code."""

    def masked_run(run: re.Match[str]) -> str:
        text = run.group()
        digits = spoken_digits(text)
        hides_code = _code_shaped(text, digits) if is_code is None else is_code(digits)
        return _masked(text) if hides_code else text

    def mask(item: Any) -> Any:
        if isinstance(item, str):
            return _SPOKEN_DIGITS.sub(masked_run, item)
        if isinstance(item, dict):
            return {key: mask(inner) for key, inner in item.items()}
        if isinstance(item, list):
            return [mask(inner) for inner in item]
        return item

    return mask(value)
