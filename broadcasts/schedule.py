"""When a notice goes out: now, once, daily, weekly, monthly or by a cron expression, with
an optional end date, all in local time ([bot] timezone); and the quiet hours.

A schedule is a small JSON object on the broadcast row, e.g. ``{"kind": "weekly",
"weekdays": [0], "time": "08:00", "until": "2027-02-28"}`` (0 is Monday). The times are
computed with APScheduler's triggers, the same ones the scheduler's jobs use.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

KINDS = ("now", "once", "daily", "weekly", "monthly", "cron")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CRON_DAY = {str(i): d for i, d in enumerate(("sun", *DAYS[:6], "sun"))}  # crontab: 0=Sunday


class ScheduleError(ValueError):
    """A schedule that cannot be used; the message says why."""


def hhmm(text: str) -> time:
    m = re.fullmatch(r"\s*(\d{1,2})[:hg.](\d{2})\s*", text)
    if not m or int(m.group(1)) > 23 or int(m.group(2)) > 59:
        raise ScheduleError(f"not a time (HH:MM): {text!r}")
    return time(int(m.group(1)), int(m.group(2)))


def _end(spec: dict[str, Any], tz: tzinfo) -> datetime | None:
    until = spec.get("until")
    return datetime.combine(date.fromisoformat(until), time(23, 59, 59), tz) if until else None


def _cron_days(field: str) -> str:
    """Standard crontab weekday numbers (0 or 7 = Sunday) as names APScheduler reads."""
    return re.sub(r"\d+", lambda m: _CRON_DAY.get(m.group(0), m.group(0)), field)


def trigger(spec: dict[str, Any], tz: tzinfo) -> BaseTrigger | None:
    """The APScheduler trigger of a schedule (None for "now")."""
    kind = spec.get("kind", "now")
    try:
        if kind == "now":
            return None
        if kind == "once":
            return DateTrigger(datetime.fromisoformat(spec["at"]).replace(tzinfo=tz), timezone=tz)
        common: dict[str, Any] = {"timezone": tz, "end_date": _end(spec, tz)}
        if spec.get("start"):
            common["start_date"] = datetime.combine(date.fromisoformat(spec["start"]), time(), tz)
        if kind == "cron":
            fields = spec["expr"].split()
            if len(fields) != 5:
                raise ScheduleError("a cron expression has 5 fields: minute hour day month "
                                    "weekday")
            minute, hour, day, month, dow = fields
            return CronTrigger(minute=minute, hour=hour, day=day, month=month,
                               day_of_week=_cron_days(dow), **common)
        at = hhmm(spec["time"])
        if kind == "daily":
            return CronTrigger(hour=at.hour, minute=at.minute, **common)
        if kind == "weekly":
            days = ",".join(DAYS[int(d)] for d in spec["weekdays"])
            return CronTrigger(day_of_week=days, hour=at.hour, minute=at.minute, **common)
        if kind == "monthly":
            return CronTrigger(day=int(spec["day"]), hour=at.hour, minute=at.minute, **common)
    except ScheduleError:
        raise
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise ScheduleError(f"bad {kind} schedule: {exc}") from None
    raise ScheduleError(f"unknown schedule kind {kind!r}")


def next_due(spec: dict[str, Any], after: datetime, tz: tzinfo) -> datetime | None:
    """The first due time strictly after ``after`` (UTC), or None when none is left."""
    if spec.get("kind", "now") == "now":
        return None
    trig = trigger(spec, tz)
    if isinstance(trig, DateTrigger):
        at = trig.run_date.astimezone(UTC)
        return at if at > after else None
    assert trig is not None
    nxt = trig.get_next_fire_time(None, after.astimezone(tz) + timedelta(microseconds=1))
    return nxt.astimezone(UTC) if nxt is not None else None


def first_due(spec: dict[str, Any], now: datetime, tz: tzinfo) -> datetime | None:
    """The first due time at or after ``now`` ("now" is ``now``)."""
    if spec.get("kind", "now") == "now":
        return now
    return next_due(spec, now - timedelta(microseconds=1), tz)


def validate(spec: dict[str, Any], now: datetime, tz: tzinfo) -> datetime:
    """The first due time; raises :class:`ScheduleError` when there is none."""
    first = first_due(spec, now, tz)
    if first is None:
        raise ScheduleError("the schedule has no time left before its end date")
    return first


def quiet_until(at: datetime, start: str, end: str, tz: tzinfo) -> datetime | None:
    """When quiet hours that contain ``at`` end (UTC), or None when ``at`` is not quiet."""
    s, e = hhmm(start), hhmm(end)
    if s == e:
        return None
    local = at.astimezone(tz)
    t = local.time()
    quiet = (s <= t < e) if s < e else (t >= s or t < e)
    if not quiet:
        return None
    day = local.date() + timedelta(days=1) if (s > e and t >= s) else local.date()
    return datetime.combine(day, e, tz).astimezone(UTC)


def describe(spec: dict[str, Any], lang: str) -> str:
    """The schedule in words ("hàng tuần vào Thứ Hai lúc 08:00, đến hết 28/02/2027")."""
    from bot.i18n import t

    kind = spec.get("kind", "now")
    if kind == "once":
        at = datetime.fromisoformat(spec["at"])
        return t(lang, "bc_when.once_text", at=f"{at:%H:%M %d/%m/%Y}")
    if kind not in KINDS or kind == "now":
        return t(lang, "bc_when.now_text")
    days = ", ".join(t(lang, f"bc_day.{int(d)}") for d in spec.get("weekdays", []))
    text = t(lang, f"bc_when.{kind}_text", time=spec.get("time", ""), days=days,
             day=spec.get("day", ""), expr=spec.get("expr", ""))
    if spec.get("until"):
        text += t(lang, "bc_when.until_text", date=f"{date.fromisoformat(spec['until']):%d/%m/%Y}")
    return text
