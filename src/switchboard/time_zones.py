"""Reading a time zone someone typed: a customer's preference, an agent's own."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from switchboard.errors import InvalidInput


def iana_zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`; InvalidInput for anything else (a folder of tzdata such as
    "Europe" is not a zone, nor is a path)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidInput(
            f"{name!r} is not an IANA time zone", hint="for example Europe/London"
        ) from None
