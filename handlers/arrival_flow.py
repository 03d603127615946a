"""The declaration flow's skeleton: its router, step names, and how a step asks its
question, shared by handlers/arrival*.py.

The draft lives in ``ctx.data["draft"]``: ``place_id``, ``guests`` (complete guests),
``cur`` (the guest being entered), ``edit`` (``{"i": n}`` while one guest is edited),
``stay`` (reason and dates given once for everyone) and ``token`` (names the draft for
its reminder). ID and passport numbers in it are sealed with the data key, never plain.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from bot.services import arrival_timers
from bot.services.arrival_deadline import deadline
from handlers.context import MENU_KEY, Ctx
from handlers.router import Router

router = Router("arrival")
Ask = Callable[[Ctx], Awaitable[None]]
ASKS: dict[str, Ask] = {}
MIN_REMINDER_DELAY = timedelta(minutes=30)


class S(StrEnum):
    PLACE = "place"
    PLACE_KIND = "place_kind"
    PLACE_ADDRESS = "place_address"
    PLACE_PROVINCE = "place_province"
    PLACE_COMMUNE = "place_commune"
    PLACE_VILLAGE = "place_village"
    GUEST = "guest"
    NAME = "name"
    DOB = "dob"
    GENDER = "gender"
    IDNO = "idno"
    PHONE = "phone"
    NAT = "nat"
    PASSPORT = "passport"
    VISA_TYPE = "visa_type"
    VISA_NO = "visa_no"
    VISA_EXP = "visa_exp"
    ENTRY = "entry"
    RECHECK = "recheck"
    REASON = "reason"
    REASON_TEXT = "reason_text"
    FROM = "from"
    TO = "to"
    ROOM = "room"
    REVIEW = "review"
    EDIT_FIELD = "edit_field"
    DISCARD = "discard"


def asks(step: str) -> Callable[[Ask], Ask]:
    """Register the function that asks ``step``'s question."""
    def deco(fn: Ask) -> Ask:
        ASKS[str(step)] = fn
        return fn
    return deco


async def ask(ctx: Ctx, step: str) -> None:
    """Go to ``step`` and ask its question (a question without buttons clears the old
    ones, so a typed "1" or label is not taken for a button of an earlier step)."""
    ctx.goto(step)
    ctx.data.pop(MENU_KEY, None)
    await ASKS[str(step)](ctx)


def draft(ctx: Ctx) -> dict[str, Any]:
    return ctx.data.setdefault("draft", {"guests": [], "stay": {}})


def cur(ctx: Ctx) -> dict[str, Any]:
    """The guest being entered (created on first use)."""
    d = draft(ctx)
    if not d.get("cur"):
        d["cur"] = {"foreign": False}
    return d["cur"]  # type: ignore[no-any-return]


def editing(ctx: Ctx) -> int | None:
    edit = draft(ctx).get("edit")
    return int(edit["i"]) if edit else None


def local(ctx: Ctx, at: datetime) -> str:
    return f"{at.astimezone(ctx.deps.config.bot.tz):%H:%M %d/%m/%Y}"


async def remind_before_deadline(ctx: Ctx, arrived: datetime | None = None,
                                 foreign: bool = False) -> None:
    """(Re)arm the reminder for this unfinished draft, some time before its deadline; an
    arrival in the small hours (the law is ambiguous) is reminded at once instead."""
    assert ctx.person is not None
    cfg = ctx.deps.config
    due = deadline(arrived or ctx.now, foreign=foreign, tz=cfg.bot.tz,
                   foreign_hours=cfg.arrivals.foreigner_hours)
    soon = ctx.now + MIN_REMINDER_DELAY
    at = soon if due.early_morning else max(
        due.at - timedelta(minutes=cfg.arrivals.draft_reminder_minutes), soon)
    await arrival_timers.schedule_draft(ctx.db, ctx.person.id, draft(ctx)["token"], at,
                                        local(ctx, due.at))
