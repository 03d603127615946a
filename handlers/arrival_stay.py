"""Why and how long: reason, stay from (with the arrival time: it sets the deadline), stay
until, room. Asked once for every guest of the declaration; from the review, for one."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from bot.domain.messages import esc
from bot.services import arrival_input as inp
from bot.services.arrival_deadline import arrival_moment, deadline
from bot.services.arrivals import REASONS, local_today
from handlers.arrival_flow import (
    S,
    ask,
    asks,
    draft,
    editing,
    local,
    remind_before_deadline,
    router,
)
from handlers.context import Ctx

NIGHTS = (("1", 1), ("2", 2), ("7", 7), ("30", 30))


def targets(ctx: Ctx) -> list[dict[str, Any]]:
    """The guest being edited, or every guest and the shared stay."""
    d = draft(ctx)
    i = editing(ctx)
    return [d["guests"][i]] if i is not None else [*d["guests"], d["stay"]]


def put(ctx: Ctx, **values: Any) -> None:
    for g in targets(ctx):
        g.update(values)


async def next_or_review(ctx: Ctx, step: str) -> None:
    """Go on to ``step`` while collecting; when editing one guest, back to the review."""
    d = draft(ctx)
    if editing(ctx) is not None or step == S.REVIEW:
        d.pop("edit", None)
        d["stay_done"] = True
        step = S.REVIEW
    await ask(ctx, step)


@asks(S.REASON)
async def ask_reason(ctx: Ctx) -> None:
    ctx.ask(ctx.t("arrival.stay.ask_reason"),
            [(ctx.t(f"arrival.reason.{r}"), r) for r in REASONS], per_row=2)


@router.step(S.REASON)
async def reason(ctx: Ctx) -> None:
    """Stores the reason of stay (or asks it in words for "other"); asks the start."""
    if ctx.value == "other":
        await ask(ctx, S.REASON_TEXT)
    elif ctx.value in REASONS:
        put(ctx, reason=ctx.value, reason_note="")
        await next_or_review(ctx, S.FROM)
    else:
        ctx.say(ctx.t("errors.need_choice"))
        await ask_reason(ctx)


@asks(S.REASON_TEXT)
async def ask_reason_text(ctx: Ctx) -> None:
    ctx.say(ctx.t("arrival.stay.ask_reason_text"))


@router.step(S.REASON_TEXT)
async def reason_text(ctx: Ctx) -> None:
    """Stores the reason in the host's words; asks the start."""
    text = " ".join(ctx.ev.text.split())
    if len(text) < 2:
        ctx.say(ctx.t("errors.need_text"))
        return
    put(ctx, reason="other", reason_note=text[:200])
    await next_or_review(ctx, S.FROM)


@asks(S.FROM)
async def ask_from(ctx: Ctx) -> None:
    ctx.ask(ctx.t("arrival.stay.ask_from"), [(ctx.t("arrival.stay.today"), "today")])


@router.step(S.FROM)
async def stay_from(ctx: Ctx) -> None:
    """Stores the first day and arrival time (deadline shown); asks the last day."""
    cfg = ctx.deps.config
    today = local_today(ctx.now, cfg.bot.tz)
    when = (today, None) if ctx.value == "today" else inp.parse_when(ctx.ev.text)
    problem = "date" if when is None else inp.from_problem(when[0], today,
                                                            cfg.arrivals.late_days_back)
    if when is None or problem:
        ctx.say(ctx.t(f"arrival.bad.from_{problem}", text=esc(ctx.ev.text[:40])))
        await ask_from(ctx)
        return
    arrived = arrival_moment(when[0], when[1], ctx.now, cfg.bot.tz)
    put(ctx, **{"from": when[0].isoformat(), "arrived": arrived.isoformat()})
    foreign = any(g.get("foreign") for g in targets(ctx))
    due = deadline(arrived, foreign=foreign, tz=cfg.bot.tz,
                   foreign_hours=cfg.arrivals.foreigner_hours)
    if due.at < ctx.now:
        ctx.say(ctx.t("arrival.stay.already_late", due=local(ctx, due.at)))
    elif due.early_morning:
        ctx.say(ctx.t("arrival.stay.early_morning", due=local(ctx, due.at)))
    await remind_before_deadline(ctx, arrived, foreign)
    i = editing(ctx)
    if i is not None and draft(ctx)["guests"][i].get("to", "") < when[0].isoformat():
        await ask(ctx, S.TO)
        return
    await next_or_review(ctx, S.TO)


@asks(S.TO)
async def ask_to(ctx: Ctx) -> None:
    ctx.ask(ctx.t("arrival.stay.ask_to"),
            [(ctx.t(f"arrival.stay.nights_{v}"), v) for v, _ in NIGHTS], per_row=2)


@router.step(S.TO)
async def stay_to(ctx: Ctx) -> None:
    """Stores the expected last day; asks the room (rented places) or shows the review."""
    start = date.fromisoformat(targets(ctx)[0]["from"])
    nights = dict(NIGHTS).get(ctx.value)
    day = start + timedelta(days=nights) if nights else inp.parse_date(ctx.ev.text)
    problem = "date" if day is None else inp.to_problem(day, start)
    if day is None or problem:
        ctx.say(ctx.t(f"arrival.bad.to_{problem}", text=esc(ctx.ev.text[:40]),
                      start=f"{start:%d/%m/%Y}"))
        await ask_to(ctx)
        return
    put(ctx, to=day.isoformat())
    kind = draft(ctx).get("place_kind", "household")
    await next_or_review(ctx, S.ROOM if kind != "household" else S.REVIEW)


@asks(S.ROOM)
async def ask_room(ctx: Ctx) -> None:
    ctx.ask(ctx.t("arrival.stay.ask_room"), [(ctx.t("common.skip"), "skip")], cancel="skip")


@router.step(S.ROOM)
async def room(ctx: Ctx) -> None:
    """Stores the room or unit (optional); shows the review."""
    text = "" if ctx.value == "skip" else " ".join(ctx.ev.text.split())
    if ctx.value != "skip" and not text:
        ctx.say(ctx.t("errors.need_text"))
        await ask_room(ctx)
        return
    put(ctx, room=text[:40])
    await next_or_review(ctx, S.REVIEW)
