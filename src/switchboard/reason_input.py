"""Reading a reason an agent states for what they do (a transfer, a reveal of contact details,
a customer's preferences changed at their request): it is audited, and read later by whoever
asks why, so it must say something."""

from __future__ import annotations

from switchboard.errors import InvalidInput
from switchboard.privacy import mask_card_numbers

MIN_REASON = 10
# Letters or digits among them: "..........", "-- -- -- --" or "xx" say nothing.
MIN_WORD_CHARS = 5
STATED_REASON = f"at least {MIN_REASON} characters, {MIN_WORD_CHARS} of them letters or digits"


def stated_reason(text: str, *, max_chars: int) -> str:
    """The reason, stripped and with card numbers masked; InvalidInput unless it is at least
    MIN_REASON characters, MIN_WORD_CHARS of them letters or digits, and at most `max_chars`."""
    reason = mask_card_numbers(text.strip())
    if len(reason) < MIN_REASON or sum(c.isalnum() for c in reason) < MIN_WORD_CHARS:
        raise InvalidInput(
            f"say why, in at least {MIN_REASON} characters",
            hint="a few words a colleague reading the audit later would understand",
        )
    if len(reason) > max_chars:
        raise InvalidInput(f"the reason is longer than {max_chars} characters")
    return reason
