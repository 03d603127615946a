"""When a notice goes out: now, once at a time, daily, weekly, monthly, or a cron
expression, with an end date for repeating ones (local time)."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from bot.domain.messages import esc
from broadcasts import schedule
from handlers import broadcast_preview
from handlers.broadcast_flow import S, draft, router, save
from handlers.context import Ctx

TIMES = ("07:00", "08:00", "17:00", "19:30")


async def ask_when(ctx: Ctx) -> None:
    """Asks how often (the kinds of schedule)."""
    ctx.goto(S.WHEN)
    ctx.ask(ctx.t("bc.ask_when"), [(ctx.t(f"bc_when.{k}"), k) for k in schedule.KINDS],
            per_row=2)


@router.step(S.WHEN)
async def on_when(ctx: Ctx) -> None:
    """Stores the kind; "now" goes to the preview, the others ask their details."""
    if ctx.value not in schedule.KINDS:
        await ask_when(ctx)
        return
    d = draft(ctx)
    d.schedule = {"kind": ctx.value}
    save(ctx, d)
    if ctx.value == "now":
        await broadcast_preview.show(ctx)
    elif ctx.value == "once":
        ctx.goto(S.AT)
        ctx.say(ctx.t("bc.ask_at"))
    elif ctx.value == "weekly":
        ctx.goto(S.WEEKDAY)
        ctx.ask(ctx.t("bc.ask_weekday"), [(ctx.t(f"bc_day.{i}"), str(i)) for i in range(7)],
                per_row=2)
    elif ctx.value == "monthly":
        ctx.goto(S.DAY)
        ctx.ask(ctx.t("bc.ask_day"), [(str(n), str(n)) for n in (1, 5, 10, 15, 20, 25)],
                per_row=3)
    elif ctx.value == "daily":
        ask_time(ctx)
    else:
        ctx.goto(S.CRON)
        ctx.say(ctx.t("bc.ask_cron"))


def parse_at(text: str, today: date) -> datetime | None:
    """"25/11 08:00", "25/11/2026 17:30", "2026-11-25 08:00" → a naive local datetime."""
    m = re.fullmatch(r"\s*(\d{1,2})/(\d{1,2})(?:/(\d{4}))?\s+(\d{1,2}[:hg.]\d{2})\s*", text)
    try:
        if m:
            at = schedule.hhmm(m.group(4))
            year = int(m.group(3)) if m.group(3) else today.year
            return datetime(year, int(m.group(2)), int(m.group(1)), at.hour, at.minute)  # noqa: DTZ001
        return datetime.fromisoformat(text.strip()).replace(tzinfo=None, second=0)
    except (ValueError, schedule.ScheduleError):
        return None


@router.step(S.AT)
async def on_at(ctx: Ctx) -> None:
    """Stores the one-off time (local, in the future); shows the preview."""
    tz = ctx.deps.config.bot.tz
    local_now = ctx.now.astimezone(tz)
    at = parse_at(ctx.ev.text, local_now.date())
    if at is not None and not re.search(r"/\d{4}|^\s*\d{4}-", ctx.ev.text) \
            and at.replace(tzinfo=tz) < local_now:
        at = at.replace(year=at.year + 1)  # "05/01" typed in December means next January
    if at is None:
        ctx.say(ctx.t("bc.bad_at", text=esc(ctx.ev.text[:40])))
        return
    if at.replace(tzinfo=tz) <= local_now:
        ctx.say(ctx.t("bc.past"))
        return
    d = draft(ctx)
    d.schedule = {"kind": "once", "at": at.isoformat(timespec="minutes")}
    save(ctx, d)
    await broadcast_preview.show(ctx)


@router.step(S.WEEKDAY)
async def on_weekday(ctx: Ctx) -> None:
    """Stores the weekday; asks the time."""
    if not (ctx.value.isdigit() and int(ctx.value) < 7):
        ctx.say(ctx.t("errors.need_choice"))
        return
    d = draft(ctx)
    d.schedule["weekdays"] = [int(ctx.value)]
    save(ctx, d)
    ask_time(ctx)


@router.step(S.DAY)
async def on_day(ctx: Ctx) -> None:
    """Stores the day of the month (1–28, so every month has it); asks the time."""
    raw = ctx.value or ctx.ev.text.strip()
    if not (raw.isdigit() and 1 <= int(raw) <= 28):
        ctx.say(ctx.t("bc.bad_day"))
        return
    d = draft(ctx)
    d.schedule["day"] = int(raw)
    save(ctx, d)
    ask_time(ctx)


def ask_time(ctx: Ctx) -> None:
    ctx.goto(S.TIME)
    ctx.ask(ctx.t("bc.ask_time"), [(t, t) for t in TIMES], per_row=4)


@router.step(S.TIME)
async def on_time(ctx: Ctx) -> None:
    """Stores the time of day; asks the end date."""
    raw = ctx.value or ctx.ev.text
    try:
        at = schedule.hhmm(raw)
    except schedule.ScheduleError:
        ctx.say(ctx.t("bc.bad_time", text=esc(raw[:20])))
        return
    d = draft(ctx)
    d.schedule["time"] = f"{at:%H:%M}"
    save(ctx, d)
    ask_until(ctx)


@router.step(S.CRON)
async def on_cron(ctx: Ctx) -> None:
    """Stores a cron expression that has a next time; asks the end date."""
    spec = {"kind": "cron", "expr": " ".join(ctx.ev.text.split())}
    try:
        schedule.validate(spec, ctx.now, ctx.deps.config.bot.tz)
    except schedule.ScheduleError as exc:
        ctx.say(ctx.t("bc.bad_cron", error=esc(str(exc))))
        return
    d = draft(ctx)
    d.schedule = spec
    save(ctx, d)
    ask_until(ctx)


def ask_until(ctx: Ctx) -> None:
    ctx.goto(S.UNTIL)
    ctx.ask(ctx.t("bc.ask_until"), [(ctx.t(f"bc.until_{k}"), k)
                                    for k in ("1m", "3m", "6m", "year")], per_row=2)


@router.step(S.UNTIL)
async def on_until(ctx: Ctx) -> None:
    """Stores the end date; shows the preview."""
    today = ctx.now.astimezone(ctx.deps.config.bot.tz).date()
    days = {"1m": 30, "3m": 91, "6m": 182}
    if ctx.value in days:
        until = today + timedelta(days=days[ctx.value])
    elif ctx.value == "year":
        until = date(today.year, 12, 31)
    else:
        at = parse_at(f"{ctx.ev.text.strip()} 00:00", today)
        if at is None or at.date() < today:
            ctx.say(ctx.t("bc.bad_until", text=esc(ctx.ev.text[:40])))
            return
        until = at.date()
    d = draft(ctx)
    d.schedule["until"] = until.isoformat()
    save(ctx, d)
    await broadcast_preview.show(ctx)
