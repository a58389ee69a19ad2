"""The firm's calendar: which days a ``YYYY-MM`` billing period holds, which day it is at an instant.

Workflows and activities alike ask these functions, and nothing else, what day it is for the firm.
Workflows import this module passed through the sandbox (``workflow.unsafe.imports_passed_through``),
so ``ZoneInfo`` here is the real one: the sandbox's own stand-in is a proxy that ``astimezone`` refuses.
"""

from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from canonical._types import DateRange

_PERIOD = re.compile(r"(\d{4})-(\d{2})")


def billing_period(label: str) -> DateRange:
    """The days of a ``YYYY-MM`` billing period.

    Raises:
        ValueError: ``label`` is not a month written as ``YYYY-MM``.
    """
    match = _PERIOD.fullmatch(label.strip())
    if match is None or not 1 <= int(match[2]) <= 12:
        raise ValueError(f"period {label!r} is not a month written as YYYY-MM, e.g. 2026-10")
    start = date(int(match[1]), int(match[2]), 1)
    return DateRange(start=start, end=(start + timedelta(days=31)).replace(day=1) - timedelta(days=1))


def period_of(day: date) -> str:
    """The ``YYYY-MM`` period containing ``day``."""
    return f"{day:%Y-%m}"


def previous_period(day: date) -> str:
    """The ``YYYY-MM`` period before the one containing ``day``."""
    return period_of(day.replace(day=1) - timedelta(days=1))


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"time zone {name!r} is unknown: use an IANA name such as Europe/London") from None


def firm_day(instant: datetime, time_zone: str) -> date:
    """The firm's calendar day at ``instant`` in the IANA ``time_zone``, also in an hour the clocks repeat.

    Raises:
        ValueError: The time zone is unknown.
    """
    return instant.astimezone(_zone(time_zone)).date()


def firm_midnight(day: date, time_zone: str) -> datetime:
    """The instant ``day`` begins in the IANA ``time_zone``.

    Raises:
        ValueError: The time zone is unknown.
    """
    return datetime.combine(day, time(0), tzinfo=_zone(time_zone))


def add_business_days(instant: datetime, days: int, time_zone: str) -> datetime:
    """The instant ``days`` business days (Monday to Friday in the firm's zone) after ``instant``.

    The wall-clock time is kept: Friday 15:00 plus one business day is Monday 15:00, also across a
    change of the clocks. An instant on a Saturday or Sunday counts from the Monday after it, 00:00.
    There is no holiday calendar yet: a public holiday counts as a business day.

    Raises:
        ValueError: The time zone is unknown, or ``days`` is negative.
    """
    if days < 0:
        raise ValueError(f"business days must not be negative, got {days}")
    zone = _zone(time_zone)
    local = instant.astimezone(zone)
    day, at = local.date(), local.time().replace(tzinfo=None)
    if day.weekday() >= 5:
        day, at = day + timedelta(days=7 - day.weekday()), time(0)
    left = days
    while left:
        day += timedelta(days=1)
        if day.weekday() < 5:
            left -= 1
    return datetime.combine(day, at, tzinfo=zone)
