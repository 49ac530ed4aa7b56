"""Whether a message may be sent now: do-not-contact, allowed channels, quiet hours."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from switchboard.preferences.models import (
    ALWAYS_ALLOWED,
    QUIET_HOURS_END,
    QUIET_HOURS_START,
    ContactChannel,
    Preferences,
    Purpose,
    Verdict,
)


def may_send(
    preferences: Preferences | None,
    *,
    purpose: Purpose,
    channel: ContactChannel,
    now: datetime,
    responding: bool = False,
) -> Verdict:
    """The verdict for one message; `now` must be timezone-aware. A customer with no
    preferences on record gets the defaults: any channel, quiet hours in London. A response to
    a customer who has just written (`responding`) is not held back by quiet hours."""
    if purpose in ALWAYS_ALLOWED:
        return Verdict(True)
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if preferences is not None and preferences.do_not_contact:
        return Verdict(False, "do_not_contact", "the customer asked not to be contacted")
    if (
        preferences is not None
        and preferences.allowed_channels is not None
        and channel not in preferences.allowed_channels
    ):
        allowed = ", ".join(sorted(preferences.allowed_channels)) or "none"
        return Verdict(False, "channel_not_allowed", f"{channel} is not allowed ({allowed} are)")
    if responding:
        return Verdict(True)
    zone = ZoneInfo(preferences.timezone if preferences else "Europe/London")
    local = now.astimezone(zone)
    if not QUIET_HOURS_END <= local.time() < QUIET_HOURS_START:
        return Verdict(
            False,
            "quiet_hours",
            f"it is {local:%H:%M} in {zone.key}; {purpose} messages go out 08:00-21:00",
        )
    return Verdict(True)
