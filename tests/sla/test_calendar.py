"""Business-time arithmetic: opening hours, split shifts, holidays, midnight and both
daylight-saving changes of 2026 and 2027 in London and New York, and its laws (hypothesis)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from switchboard.errors import InvalidInput
from switchboard.sla.calendar import (
    Calendar,
    add_business_days,
    add_business_time,
    add_calendar_days,
    business_time_between,
    calendar,
    hours,
    local_instant,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
H = timedelta(hours=1)
WEEKDAYS = range(1, 6)
EVERY_DAY = range(1, 8)

# The days the clocks change: (zone, spring forward, fall back) per year.
DST_DAYS = [
    ("Europe/London", date(2026, 3, 29), date(2026, 10, 25)),
    ("Europe/London", date(2027, 3, 28), date(2027, 10, 31)),
    ("America/New_York", date(2026, 3, 8), date(2026, 11, 1)),
    ("America/New_York", date(2027, 3, 14), date(2027, 11, 7)),
]


def office(zone: str = "America/New_York") -> Calendar:
    """Monday to Friday 09:00-17:00."""
    return calendar("office", zone, {d: hours(("09:00", "17:00")) for d in WEEKDAYS})


def always(zone: str) -> Calendar:
    return calendar("always", zone, {d: hours(("00:00", "24:00")) for d in EVERY_DAY})


def at(zone: ZoneInfo, *parts: int) -> datetime:
    return datetime(*parts, tzinfo=zone)  # type: ignore[misc]


def test_friday_1630_plus_an_hour_is_monday_0930() -> None:
    friday = at(NEW_YORK, 2026, 12, 4, 16, 30)

    due = add_business_time(friday, H, office())

    assert due == at(NEW_YORK, 2026, 12, 7, 9, 30)
    assert business_time_between(friday, due, office()) == H


def test_a_duration_ending_as_the_day_closes_is_due_at_the_close() -> None:
    assert add_business_time(at(NEW_YORK, 2026, 12, 4, 16), H, office()) == at(
        NEW_YORK, 2026, 12, 4, 17
    )


def test_a_start_before_opening_counts_from_the_opening() -> None:
    assert add_business_time(at(NEW_YORK, 2026, 12, 7, 6), H, office()) == at(
        NEW_YORK, 2026, 12, 7, 10
    )


def test_a_split_shift_skips_the_lunch_break() -> None:
    split = calendar(
        "split",
        "Europe/London",
        {d: hours(("09:00", "12:00"), ("13:30", "17:00")) for d in WEEKDAYS},
    )
    start = at(LONDON, 2026, 12, 7, 11, 30)

    due = add_business_time(start, H, split)

    assert due == at(LONDON, 2026, 12, 7, 14, 0)
    assert business_time_between(start, due, split) == H
    assert business_time_between(at(LONDON, 2026, 12, 7), at(LONDON, 2026, 12, 8), split) == (
        6.5 * H
    )


def test_a_holiday_on_monday_moves_the_due_time_to_tuesday() -> None:
    holiday = calendar(
        "office",
        "America/New_York",
        {d: hours(("09:00", "17:00")) for d in WEEKDAYS},
        {date(2026, 12, 7): ()},
    )

    due = add_business_time(at(NEW_YORK, 2026, 12, 4, 16, 30), H, holiday)

    assert due == at(NEW_YORK, 2026, 12, 8, 9, 30)


def test_an_exception_with_hours_is_that_days_only_hours() -> None:
    short = calendar(
        "office",
        "America/New_York",
        {d: hours(("09:00", "17:00")) for d in WEEKDAYS},
        {date(2026, 12, 24): hours(("09:00", "12:00"))},
    )

    due = add_business_time(at(NEW_YORK, 2026, 12, 24, 11), 2 * H, short)

    assert due == at(NEW_YORK, 2026, 12, 25, 10)  # an hour on the 24th, an hour on the 25th


def test_round_the_clock_runs_across_midnight_without_closing_a_minute() -> None:
    """'24:00' closes at midnight: 00:00-23:59 would close a minute a night (Zammad #3180)."""
    clock = always("America/New_York")
    start = at(NEW_YORK, 2026, 12, 7, 23, 30)

    assert add_business_time(start, H, clock) == at(NEW_YORK, 2026, 12, 8, 0, 30)
    assert business_time_between(start, start + 72 * H, clock) == 72 * H


def test_overlapping_rows_are_merged() -> None:
    merged = calendar("m", "UTC", {1: hours(("09:00", "12:00"), ("11:00", "13:00"))})

    assert merged.weekly[1] == hours(("09:00", "13:00"))


@pytest.mark.parametrize(("zone", "spring", "autumn"), DST_DAYS)
def test_a_whole_day_lasts_23_hours_in_spring_and_25_in_autumn(
    zone: str, spring: date, autumn: date
) -> None:
    clock, tz = always(zone), ZoneInfo(zone)
    for day, length in ((spring, 23 * H), (autumn, 25 * H)):
        midnight = datetime.combine(day, datetime.min.time(), tz)
        next_midnight = datetime.combine(day + timedelta(days=1), datetime.min.time(), tz)

        assert business_time_between(midnight, next_midnight, clock) == length
        assert add_business_time(midnight, length, clock) == next_midnight


@pytest.mark.parametrize(("zone", "spring", "autumn"), DST_DAYS)
def test_office_hours_across_a_dst_weekend_keep_local_opening_times(
    zone: str, spring: date, autumn: date
) -> None:
    """Friday 16:00 + 2 h is Monday 10:00 local, whatever the offset did over the weekend
    (UTC arithmetic on Friday's offset would be an hour off)."""
    tz = ZoneInfo(zone)
    for sunday in (spring, autumn):
        friday = datetime.combine(sunday - timedelta(days=2), datetime.min.time(), tz) + 16 * H
        monday_ten = datetime.combine(sunday + timedelta(days=1), datetime.min.time(), tz) + 10 * H

        assert add_business_time(friday, 2 * H, office(zone)) == monday_ten
        assert business_time_between(friday, monday_ten, office(zone)) == 2 * H


@pytest.mark.parametrize(("zone", "spring", "autumn"), DST_DAYS)
def test_a_night_shift_on_a_dst_day_has_its_real_length(
    zone: str, spring: date, autumn: date
) -> None:
    """00:00-03:00 lasts 2 h the night the clocks skip an hour, 4 h the night they repeat one."""
    tz = ZoneInfo(zone)
    night = calendar("night", zone, {d: hours(("00:00", "03:00")) for d in EVERY_DAY})
    for day, length in ((spring, 2 * H), (autumn, 4 * H)):
        midnight = datetime.combine(day, datetime.min.time(), tz)

        assert business_time_between(midnight, midnight + 12 * H, night) == length
        assert add_business_time(midnight, length, night) == datetime.combine(
            day, datetime.min.time().replace(hour=3), tz
        )


def test_a_skipped_opening_time_opens_when_the_clocks_jump() -> None:
    """New York, 2026-03-08: 02:00 EST jumps to 03:00 EDT (07:00 UTC). 02:30 never shows."""
    assert local_instant(date(2026, 3, 8), 2 * 3600 + 1800, NEW_YORK) == datetime(
        2026, 3, 8, 7, 0, tzinfo=UTC
    )
    late = calendar("late", "America/New_York", {7: hours(("02:30", "04:00"))})
    sunday = at(NEW_YORK, 2026, 3, 8)

    assert business_time_between(sunday, sunday + 12 * H, late) == H  # 03:00-04:00 EDT


def test_a_repeated_time_is_its_first_occurrence() -> None:
    """London, 2026-10-25: 01:00-02:00 shows twice (BST, then GMT); 01:30 is the BST one."""
    assert local_instant(date(2026, 10, 25), 5400, LONDON) == datetime(
        2026, 10, 25, 0, 30, tzinfo=UTC
    )
    early = calendar("early", "Europe/London", {7: hours(("01:30", "03:00"))})
    sunday = at(LONDON, 2026, 10, 25)

    assert business_time_between(sunday, sunday + 12 * H, early) == 2.5 * H


def test_between_is_negative_when_the_end_is_first() -> None:
    a, b = at(NEW_YORK, 2026, 12, 4, 16, 30), at(NEW_YORK, 2026, 12, 7, 9, 30)

    assert business_time_between(b, a, office()) == -H


def test_business_days_skip_weekends_and_holidays_and_end_at_midnight() -> None:
    """Notice on Friday 2026-12-18: the 10th business day after it is Tuesday 2027-01-05
    (Christmas and New Year's Day closed), so it is due at that day's end."""
    days = calendar(
        "reg_e",
        "America/New_York",
        {d: hours(("00:00", "24:00")) for d in WEEKDAYS},
        {date(2026, 12, 25): (), date(2027, 1, 1): ()},
    )

    due = add_business_days(at(NEW_YORK, 2026, 12, 18, 15), 10, days)

    assert due == at(NEW_YORK, 2027, 1, 6)


def test_calendar_days_end_at_local_midnight_across_a_dst_change() -> None:
    """Received 2026-10-20 in New York: 15 days end with 2026-11-04, after the clocks went
    back on 2026-11-01, so at 05:00 UTC, not 04:00."""
    due = add_calendar_days(at(NEW_YORK, 2026, 10, 20, 23, 59), 15, office())

    assert due == datetime(2026, 11, 5, 5, 0, tzinfo=UTC)


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no time zone"):
        add_business_time(datetime(2026, 12, 7, 9), H, office())


def test_an_unknown_zone_is_refused() -> None:
    with pytest.raises(InvalidInput, match="not an IANA time zone"):
        calendar("x", "Mars/Olympus_Mons", {})


def test_a_calendar_that_never_opens_says_so() -> None:
    with pytest.raises(InvalidInput, match="no business time"):
        add_business_time(at(NEW_YORK, 2026, 12, 7), H, calendar("never", "UTC", {}))


# -- Laws -----------------------------------------------------------------------------------

ZONES = ["Europe/London", "America/New_York", "UTC", "Australia/Lord_Howe", "Asia/Kolkata"]
QUARTERS = st.integers(min_value=0, max_value=96).map(lambda q: q * 900)


@st.composite
def intervals(draw: st.DrawFn) -> tuple[tuple[int, int], ...]:
    edges = sorted(set(draw(st.lists(QUARTERS, min_size=0, max_size=6))))
    return tuple(zip(edges[::2], edges[1::2], strict=False))


@st.composite
def calendars(draw: st.DrawFn) -> Calendar:
    weekly = {day: draw(intervals()) for day in EVERY_DAY}
    if not any(weekly.values()):
        weekly[draw(st.sampled_from(list(EVERY_DAY)))] = hours(("09:00", "17:00"))
    holidays = draw(
        st.dictionaries(st.dates(date(2026, 1, 1), date(2027, 12, 31)), intervals(), max_size=20)
    )
    return calendar("drawn", draw(st.sampled_from(ZONES)), weekly, holidays)


instants = st.datetimes(datetime(2026, 1, 1), datetime(2027, 12, 31)).map(
    lambda naive: naive.replace(tzinfo=UTC)
)
durations = st.integers(min_value=0, max_value=60 * 3600).map(lambda s: timedelta(seconds=s))


@settings(max_examples=150, deadline=None)
@given(calendars(), instants, durations)
def test_the_business_time_to_the_due_time_is_the_duration(
    cal: Calendar, start: datetime, duration: timedelta
) -> None:
    due = add_business_time(start, duration, cal)

    assert due >= start
    assert business_time_between(start, due, cal) == duration


@settings(max_examples=150, deadline=None)
@given(calendars(), instants, durations, durations)
def test_a_longer_duration_is_never_due_sooner(
    cal: Calendar, start: datetime, d1: timedelta, d2: timedelta
) -> None:
    short, long = sorted((d1, d2))

    assert add_business_time(start, short, cal) <= add_business_time(start, long, cal)


@settings(max_examples=100, deadline=None)
@given(calendars(), instants, st.integers(min_value=0, max_value=14 * 24 * 3600))
def test_the_due_time_is_the_earliest_instant_with_that_much_business_time(
    cal: Calendar, start: datetime, seconds: int
) -> None:
    end = start + timedelta(seconds=seconds)
    spent = business_time_between(start, end, cal)

    assert add_business_time(start, spent, cal) <= end
