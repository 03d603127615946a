"""When a stay must be notified (Residence Law Art. 30 as amended, docs/domain.md §2).

All in local time (Asia/Ho_Chi_Minh by default): before 23:00 of the day the stay
starts; a guest arriving after 23:00, before 08:00 the next day; an arrival between 00:00
and 08:00 is ambiguous in the law, so 23:00 the same day and the host is reminded at once;
foreigners within a configured number of hours (12, or 24 in remote areas).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

EVENING = time(23, 0)
MORNING = time(8, 0)
DAYTIME = time(12, 0)  # assumed when a past day is given without a time


@dataclass(frozen=True)
class Deadline:
    at: datetime  # UTC
    early_morning: bool  # arrived 00:00–08:00: remind at once
    foreign: bool


def deadline(arrived: datetime, *, foreign: bool, tz: ZoneInfo,
             foreign_hours: int = 12) -> Deadline:
    """The moment by which the stay must be notified, for a guest arriving at ``arrived``."""
    local = arrived.astimezone(tz)
    if foreign:
        return Deadline(arrived + timedelta(hours=foreign_hours), False, True)
    if local.time() >= EVENING:
        due = datetime.combine(local.date() + timedelta(days=1), MORNING, tz)
        return Deadline(due.astimezone(arrived.tzinfo), False, False)
    due = datetime.combine(local.date(), EVENING, tz)
    return Deadline(due.astimezone(arrived.tzinfo), local.time() < MORNING, False)


def arrival_moment(day: date, at: time | None, now: datetime, tz: ZoneInfo) -> datetime:
    """The arrival time in UTC: the given time; today without a time means "just now"; a
    past or future day without a time means midday (the ordinary deadline applies)."""
    if at is not None:
        return datetime.combine(day, at, tz).astimezone(now.tzinfo)
    if day == now.astimezone(tz).date():
        return now
    return datetime.combine(day, DAYTIME, tz).astimezone(now.tzinfo)


def earliest(deadlines: list[Deadline]) -> Deadline:
    return min(deadlines, key=lambda d: d.at)
