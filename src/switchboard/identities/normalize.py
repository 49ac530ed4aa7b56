"""Addresses in one canonical form: phones in E.164, emails lower-cased."""

from __future__ import annotations

from email.utils import parseaddr
from functools import lru_cache

import phonenumbers

WHATSAPP_PREFIX = "whatsapp:"


# Parsing a number is the costliest step of reading a webhook, and the same few numbers (our
# own, and each customer's) come back again and again.
@lru_cache(maxsize=4096)
def normalize_phone(raw: str, default_region: str) -> str | None:
    """E.164 for a valid number ("07700 900123" in GB → "+447700900123"), else None.

    A WhatsApp address ("whatsapp:+44…") normalises to its number; the channel is kept by
    the caller.
    """
    text = raw.strip().removeprefix(WHATSAPP_PREFIX)
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_email(raw: str) -> str | None:
    """The bare address, lower-cased ("Jane <Jane@Example.COM>" → "jane@example.com")."""
    _, address = parseaddr(raw)
    address = address.strip().lower()
    if "@" not in address or address.startswith("@") or address.endswith("@"):
        return None
    return address
