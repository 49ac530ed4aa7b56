"""Business time: a calendar's opening hours in its own time zone, and arithmetic over them.

A calendar is an IANA time zone, opening intervals per ISO weekday (several a day: a split
shift), and dated exceptions that replace a day's intervals (none: the day is closed). Times of
day are seconds after local midnight, 0 to 86400: 86400 is '24:00', the next midnight.

Every instant is an aware datetime; the arithmetic runs on UTC instants, so a local interval
on a daylight-saving day lasts what it really lasts (00:00-24:00 is 23 hours on the spring day
and 25 on the autumn one). A local time of day names an instant this way:
* a time the clocks skip (01:30 on the morning they spring forward) is the instant they jump,
  the first instant whose local reading is past it;
* a time the clocks show twice (01:30 on the morning they fall back) is its first occurrence.
Both keep the mapping monotonic, so a day's intervals stay ordered and never overlap.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from switchboard.errors import InvalidInput

DAY_SECONDS = 86400
# How far ahead a due time is looked for before the calendar is judged never to open.
SEARCH_DAYS = 3660

Interval = tuple[int, int]  # [opens, closes) in seconds after local midnight


@dataclass(frozen=True)
class Calendar:
    name: str
    zone: ZoneInfo
    # ISO weekday (1 = Monday) -> that weekday's intervals, ordered
    weekly: Mapping[int, tuple[Interval, ...]]
    # a local date -> that date's only intervals (empty: closed all day)
    exceptions: Mapping[date, tuple[Interval, ...]] = field(default_factory=dict)

    def intervals_on(self, day: date) -> tuple[Interval, ...]:
        if day in self.exceptions:
            return self.exceptions[day]
        return self.weekly.get(day.isoweekday(), ())

    def is_business_day(self, day: date) -> bool:
        return bool(self.intervals_on(day))


def calendar(
    name: str,
    time_zone: str,
    weekly: Mapping[int, list[Interval] | tuple[Interval, ...]],
    exceptions: Mapping[date, list[Interval] | tuple[Interval, ...]] | None = None,
) -> Calendar:
    """A checked Calendar: a known zone, weekdays 1-7, intervals within the day, ordered, merged
    where they overlap."""
    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"calendar {name}: {time_zone!r} is not an IANA time zone",
            hint="a name such as Europe/London or America/New_York",
        ) from None
    for weekday in weekly:
        if not 1 <= weekday <= 7:
            raise InvalidInput(f"calendar {name}: weekday {weekday} is not 1 (Monday) to 7")
    return Calendar(
        name=name,
        zone=zone,
        weekly={day: _checked(name, spans) for day, spans in weekly.items()},
        exceptions={day: _checked(name, spans) for day, spans in (exceptions or {}).items()},
    )


def _checked(name: str, spans: list[Interval] | tuple[Interval, ...]) -> tuple[Interval, ...]:
    """The day's intervals ordered, overlapping or touching ones merged (rows entered by hand
    may overlap: 09:00-12:00 and 11:00-13:00 are open 09:00-13:00)."""
    merged: list[Interval] = []
    for opens, closes in sorted(spans):
        if not 0 <= opens < closes <= DAY_SECONDS:
            raise InvalidInput(f"calendar {name}: interval {opens}-{closes} s is not in a day")
        if merged and opens <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], closes))
        else:
            merged.append((opens, closes))
    return tuple(merged)


def hours(*spans: tuple[str, str]) -> tuple[Interval, ...]:
    """Intervals from 'HH:MM' pairs ('24:00' closes at midnight), for tests and seeds."""

    def parse(text: str) -> int:
        hh, mm = text.split(":")
        return int(hh) * 3600 + int(mm) * 60

    return tuple((parse(opens), parse(closes)) for opens, closes in spans)


def local_instant(day: date, seconds: int, zone: ZoneInfo) -> datetime:
    """The UTC instant at which local `day` reaches `seconds` after its midnight (the module
    docstring says how skipped and repeated times resolve)."""
    if seconds >= DAY_SECONDS:
        day, seconds = day + timedelta(days=1), seconds - DAY_SECONDS
    wall = datetime.combine(day, time()) + timedelta(seconds=seconds)
    first = wall.replace(tzinfo=zone, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant  # exists (the first occurrence, if shown twice)
    # Skipped: fold=1 reads it with the offset after the jump, fold=0 with the one before;
    # the jump lies between the two readings.
    low = int(wall.replace(tzinfo=zone, fold=1).timestamp())
    high = int(instant.timestamp())
    while high - low > 1:  # whole seconds: offsets and jumps are whole seconds
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).replace(tzinfo=None) < wall:
            low = middle
        else:
            high = middle
    return datetime.fromtimestamp(high, UTC)


def open_spans(calendar: Calendar, day: date) -> list[tuple[datetime, datetime]]:
    """`day`'s opening intervals as UTC instants; empty spans (both ends skipped) left out."""
    spans = []
    for opens, closes in calendar.intervals_on(day):
        start = local_instant(day, opens, calendar.zone)
        end = local_instant(day, closes, calendar.zone)
        if end > start:
            spans.append((start, end))
    return spans


def _spans_from(calendar: Calendar, moment: datetime) -> Iterator[tuple[datetime, datetime]]:
    """Every opening interval that ends after `moment`, in order, for SEARCH_DAYS days."""
    day = moment.astimezone(calendar.zone).date() - timedelta(days=1)
    for offset in range(SEARCH_DAYS):
        for start, end in open_spans(calendar, day + timedelta(days=offset)):
            if end > moment:
                yield start, end


def _aware(moment: datetime, what: str) -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise InvalidInput(f"{what} has no time zone", hint="pass an aware datetime (UTC)")
    return moment.astimezone(UTC)


def add_business_time(start: datetime, duration: timedelta, calendar: Calendar) -> datetime:
    """When `duration` of the calendar's business time has passed since `start` (in UTC).
    Nothing added is `start` itself; a duration that ends as an interval closes is due at
    the close (16:00 + 1 h in 09:00-17:00 is 17:00 the same day, not the next opening)."""
    start = _aware(start, "start")
    if duration < timedelta(0):
        raise InvalidInput("a business duration cannot be negative")
    if duration == timedelta(0):
        return start
    remaining = duration
    for span_start, span_end in _spans_from(calendar, start):
        begin = max(span_start, start)
        available = span_end - begin
        if remaining <= available:
            return begin + remaining
        remaining -= available
    raise InvalidInput(
        f"calendar {calendar.name} has no business time for {duration} after {start}",
        hint="give it opening hours, or remove the exceptions that close every day",
    )


def business_time_between(a: datetime, b: datetime, calendar: Calendar) -> timedelta:
    """The business time from `a` to `b`; negative when `b` is before `a` (how overdue)."""
    a, b = _aware(a, "a"), _aware(b, "b")
    if b < a:
        return -business_time_between(b, a, calendar)
    total = timedelta(0)
    day = a.astimezone(calendar.zone).date() - timedelta(days=1)
    last = b.astimezone(calendar.zone).date()
    while day <= last:
        for start, end in open_spans(calendar, day):
            overlap = min(end, b) - max(start, a)
            if overlap > timedelta(0):
                total += overlap
        day += timedelta(days=1)
    return total


def end_of_local_day(day: date, calendar: Calendar) -> datetime:
    """The instant `day` ends in the calendar's zone (the next local midnight)."""
    return local_instant(day, DAY_SECONDS, calendar.zone)


def add_business_days(start: datetime, days: int, calendar: Calendar) -> datetime:
    """The end (next local midnight) of the `days`-th business day after `start`'s local date:
    the day of `start` does not count, as in "within 10 business days of receiving notice"
    (12 CFR 1005.11(c)(1)). A business day is a local date the calendar opens at all."""
    start = _aware(start, "start")
    if days < 0:
        raise InvalidInput("a number of business days cannot be negative")
    if days == 0:
        return start
    day = start.astimezone(calendar.zone).date()
    counted = 0
    for _ in range(SEARCH_DAYS):
        day += timedelta(days=1)
        if calendar.is_business_day(day):
            counted += 1
            if counted == days:
                return end_of_local_day(day, calendar)
    raise InvalidInput(f"calendar {calendar.name} has no business day in {SEARCH_DAYS} days")


def add_calendar_days(start: datetime, days: int, calendar: Calendar) -> datetime:
    """The end of the `days`-th calendar day after `start`'s local date in the calendar's
    zone ("within 45 calendar days after receipt": the day of receipt does not count)."""
    start = _aware(start, "start")
    if days < 0:
        raise InvalidInput("a number of days cannot be negative")
    if days == 0:
        return start
    return end_of_local_day(start.astimezone(calendar.zone).date() + timedelta(days=days), calendar)
