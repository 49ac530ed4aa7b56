"""What must never be stored in clear: card numbers in free text, and full addresses in logs."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

# Digits, each separated from the next by at most one space or dash: where card numbers hide.
_DIGIT_RUN = re.compile(r"\d(?:[ -]?\d)*")
# The shortest card number has 13 digits: text without a run that long holds none. Most text
# stored (ids, phone numbers, names, amounts) has none, and skips the search altogether.
_SHORTEST_CARD = 13
_CARD_SIZED_RUN = re.compile(r"\d(?:[ -]?\d){12}")
# The same test for ASCII text, several times cheaper than the regex: every digit becomes 0,
# both separators -, anything else x; joining the digits either side of each single separator
# then leaves thirteen 0s in a row exactly where the regex would match.
_SHAPE = bytes(
    ord("0") if chr(byte) in "0123456789" else ord("-") if chr(byte) in " -" else ord("x")
    for byte in range(256)
)
_THIRTEEN_DIGITS = b"0" * _SHORTEST_CARD
_URL = re.compile(r"(\b[a-z][a-z0-9+.-]*://\S+)", re.IGNORECASE)
MASK = "•"


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
    its spaces and dashes: "4111 1111 1111 1111" → "•••• •••• •••• 1111".

    A card may sit in a longer run of digits ("4111 1111 1111 1111 12/25", "ref 12 4111-…").
    Numbers made of whole groups are tried first, the usual card lengths before the rare
    ones; then windows inside a long unbroken group. Masking a few digits of a reference that
    happen to pass the Luhn check is the price of never missing a card.
    """
    if len(text) < _SHORTEST_CARD or not _has_card_sized_run(text):
        return text
    # Links are left whole: ids and timestamps in them are not cards, and a masked recording
    # link is a broken one.
    parts = _URL.split(text)
    return "".join(
        part if index % 2 else _DIGIT_RUN.sub(_mask_run, part) for index, part in enumerate(parts)
    )


def _has_card_sized_run(text: str) -> bool:
    if not text.isascii():
        return _CARD_SIZED_RUN.search(text) is not None
    shape = text.encode("ascii").translate(_SHAPE)
    # "0-0-0" → "00-0" → "000": a replace skips the overlapping match, the second catches it.
    shape = shape.replace(b"0-0", b"00").replace(b"0-0", b"00")
    return _THIRTEEN_DIGITS in shape


# Card lengths, most common first: 16 (Visa, Mastercard), 15 (Amex), then the rest.
_LENGTHS = (16, 15, 19, 14, 13, 18, 17)


def _mask_run(match: re.Match[str]) -> str:
    run = match.group(0)
    groups = [(m.start(), m.end()) for m in re.finditer(r"\d+", run)]
    masked = list(run)
    g = 0
    while g < len(groups):
        end = _card_of_whole_groups(run, groups, g)
        if end is not None:
            _mask(masked, run, groups[g][0], groups[end][1])
            g = end + 1
            continue
        _mask_windows(masked, run, *groups[g])
        g += 1
    return "".join(masked)


def _card_of_whole_groups(run: str, groups: list[tuple[int, int]], first: int) -> int | None:
    """The last group of a card number starting at group `first`, or None."""
    found: dict[int, int] = {}
    digits = ""
    for last in range(first, len(groups)):
        digits += run[groups[last][0] : groups[last][1]]
        if len(digits) > 19:
            break
        if len(digits) >= 13 and luhn_valid(digits):
            found[len(digits)] = last
    return next((found[n] for n in _LENGTHS if n in found), None)


def _mask_windows(masked: list[str], run: str, start: int, end: int) -> None:
    digits = [int(char) for char in run[start:end]]
    # The Luhn sum of every window from prefix sums, one pass instead of one per window: a
    # digit is doubled when its distance from the window's last digit is odd, so each window
    # reads the prefix sums of the parity its last digit has.
    sums: tuple[list[int], list[int]] = ([0], [0])  # last digit at an even / an odd index
    for index, value in enumerate(digits):
        doubled = value * 2 - 9 if value > 4 else value * 2
        sums[0].append(sums[0][-1] + (doubled if index % 2 else value))
        sums[1].append(sums[1][-1] + (value if index % 2 else doubled))
    position = 0
    while position <= len(digits) - 13:
        for length in _LENGTHS:
            stop = position + length
            if stop > len(digits):
                continue
            prefix = sums[(stop - 1) % 2]
            if (prefix[stop] - prefix[position]) % 10 == 0:
                _mask(masked, run, start + position, start + stop)
                position = stop
                break
        else:
            position += 1


def _mask(masked: list[str], run: str, start: int, end: int) -> None:
    """Dots over every digit in run[start:end] but the last four."""
    digit_positions = [i for i in range(start, end) if run[i].isdigit()]
    for i in digit_positions[:-4]:
        masked[i] = MASK


def mask_cards_in(value: Any) -> Any:
    """The same JSON-like value with card numbers masked in every string, keys included."""
    if isinstance(value, str):
        # Most keys and values are short: not worth a call.
        return value if len(value) < _SHORTEST_CARD else mask_card_numbers(value)
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
