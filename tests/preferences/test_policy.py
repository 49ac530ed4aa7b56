"""Sending rules: do-not-contact, allowed channels, quiet hours in the customer's time zone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from switchboard.preferences.models import ContactChannel, Preferences, Purpose
from switchboard.preferences.policy import may_send


def prefs(
    *, dnc: bool = False, channels: set[str] | None = None, tz: str = "Europe/London"
) -> Preferences:
    allowed = None if channels is None else frozenset(ContactChannel(c) for c in channels)
    return Preferences(uuid.uuid4(), dnc, allowed, tz)


NOON_UTC = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("purpose", [Purpose.OTP, Purpose.FRAUD_ALERT])
def test_codes_and_fraud_alerts_go_out_whatever_the_preferences(purpose: Purpose) -> None:
    midnight = datetime(2026, 11, 25, 0, 0, tzinfo=UTC)

    verdict = may_send(
        prefs(dnc=True, channels=set()), purpose=purpose, channel=ContactChannel.SMS, now=midnight
    )

    assert verdict.allowed


@pytest.mark.parametrize("purpose", [Purpose.SERVICE, Purpose.MARKETING])
def test_do_not_contact_refuses_service_and_marketing(purpose: Purpose) -> None:
    verdict = may_send(prefs(dnc=True), purpose=purpose, channel=ContactChannel.SMS, now=NOON_UTC)

    assert (verdict.allowed, verdict.rule) == (False, "do_not_contact")


def test_a_channel_outside_the_allowed_ones_is_refused() -> None:
    verdict = may_send(
        prefs(channels={"email"}), purpose=Purpose.SERVICE, channel=ContactChannel.SMS, now=NOON_UTC
    )

    assert (verdict.allowed, verdict.rule) == (False, "channel_not_allowed")
    assert verdict.detail == "sms is not allowed (email are)"


@pytest.mark.parametrize(
    ("tz", "utc_hour", "allowed"),
    [
        ("Europe/London", 12, True),
        ("Europe/London", 7, False),  # 07:00 in London, winter
        ("Europe/London", 21, False),  # 21:00 exactly: quiet hours have begun
        ("America/New_York", 12, False),  # 07:00 in New York
        ("America/New_York", 13, True),  # 08:00 in New York
        ("America/New_York", 2, False),  # 21:00 in New York the evening before
        ("Asia/Tokyo", 12, False),  # 21:00 in Tokyo
        ("Asia/Tokyo", 0, True),  # 09:00 in Tokyo
    ],
)
def test_quiet_hours_follow_the_customers_time_zone(tz: str, utc_hour: int, allowed: bool) -> None:
    now = datetime(2026, 11, 25, utc_hour, 0, tzinfo=UTC)

    verdict = may_send(
        prefs(tz=tz), purpose=Purpose.MARKETING, channel=ContactChannel.EMAIL, now=now
    )

    assert verdict.allowed is allowed
    if not allowed:
        assert verdict.rule == "quiet_hours"


def test_no_preferences_on_record_means_any_channel_and_london_hours() -> None:
    late = datetime(2026, 11, 25, 22, 30, tzinfo=UTC)

    assert may_send(None, purpose=Purpose.SERVICE, channel=ContactChannel.SMS, now=NOON_UTC).allowed
    assert may_send(None, purpose=Purpose.SERVICE, channel=ContactChannel.SMS, now=late).rule == (
        "quiet_hours"
    )
