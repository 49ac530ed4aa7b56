"""What must never be stored in clear: card numbers in free text, and full addresses in logs."""

from __future__ import annotations

import re
from typing import Any

# 13 to 19 digits, each group separated by at most one space or dash.
_CARD_CANDIDATE = re.compile(r"(?<![\d-])\d(?:[ -]?\d){12,18}(?![\d])")
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
    """Every Luhn-valid 13-19 digit number becomes its last four digits behind dots,
    keeping its spaces and dashes: "4111 1111 1111 1111" → "•••• •••• •••• 1111"."""

    def mask(match: re.Match[str]) -> str:
        candidate = match.group(0)
        digits = re.sub(r"\D", "", candidate)
        if not 13 <= len(digits) <= 19 or not luhn_valid(digits):
            return candidate
        keep_from = len(digits) - 4
        seen = 0
        masked = []
        for char in candidate:
            if char.isdigit():
                masked.append(char if seen >= keep_from else MASK)
                seen += 1
            else:
                masked.append(char)
        return "".join(masked)

    return _CARD_CANDIDATE.sub(mask, text)


def mask_cards_in(value: Any) -> Any:
    """The same JSON-like value with card numbers masked in every string, keys included."""
    if isinstance(value, str):
        return mask_card_numbers(value)
    if isinstance(value, dict):
        return {mask_cards_in(k): mask_cards_in(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [mask_cards_in(v) for v in value]
    return value


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
