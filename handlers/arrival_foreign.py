"""A foreign guest's papers: nationality, passport, visa (type, number, expiry) and the
date of entry into Viet Nam. Declared within ``[arrivals] foreigner_hours`` (12 h)."""

from __future__ import annotations

from bot.domain.messages import esc
from bot.services import arrival_input as inp
from bot.services import id_numbers
from bot.services.arrivals import DRAFT_CONTEXT, local_today, seal
from handlers.arrival_fields import set_id, set_nat
from handlers.arrival_flow import S, ask, asks, cur, router
from handlers.arrival_next import continue_guest, on_field
from handlers.context import Ctx

COMMON = ("KR", "CN", "US", "JP", "TW", "FR")


def _visa(ctx: Ctx) -> dict[str, str]:
    return cur(ctx).setdefault("visa", {})  # type: ignore[no-any-return]


@asks(S.NAT)
async def ask_nat(ctx: Ctx) -> None:
    ctx.ask(ctx.t("arrival.foreign.ask_nat"),
            [(ctx.t(f"arrival.country.{c}"), c) for c in COMMON], per_row=3)


@router.step(S.NAT)
async def nat(ctx: Ctx) -> None:
    """Stores the nationality (a button, a country name or a 2-letter code)."""
    await on_field(ctx, set_nat(ctx, ctx.value or ctx.ev.text), S.NAT)


@asks(S.PASSPORT)
async def ask_passport(ctx: Ctx) -> None:
    ctx.say(ctx.t("arrival.foreign.ask_passport", name=esc(cur(ctx).get("name", ""))))


@router.step(S.PASSPORT)
async def passport(ctx: Ctx) -> None:
    """Stores the passport number, sealed; asks the visa."""
    await on_field(ctx, set_id(ctx, ctx.ev.text), S.PASSPORT)


@asks(S.VISA_TYPE)
async def ask_visa_type(ctx: Ctx) -> None:
    ctx.ask(ctx.t("arrival.foreign.ask_visa_type"),
            [(ctx.t(f"arrival.visa.{v}"), v) for v in inp.VISA_TYPES], per_row=2)


@router.step(S.VISA_TYPE)
async def visa_type(ctx: Ctx) -> None:
    """Stores the kind of visa (or exemption); asks its number."""
    if ctx.value not in inp.VISA_TYPES:
        ctx.say(ctx.t("errors.need_choice"))
        await ask_visa_type(ctx)
        return
    _visa(ctx)["type"] = ctx.value
    await continue_guest(ctx)


@asks(S.VISA_NO)
async def ask_visa_no(ctx: Ctx) -> None:
    ctx.say(ctx.t("arrival.foreign.ask_visa_no"))


@router.step(S.VISA_NO)
async def visa_no(ctx: Ctx) -> None:
    """Stores the visa number, sealed like the passport; asks its expiry."""
    number = id_numbers.clean(ctx.ev.text)
    if not (4 <= len(number) <= 20 and number.isalnum()):
        ctx.say(ctx.t("arrival.bad.visa_no"))
        await ask_visa_no(ctx)
        return
    _visa(ctx)["no_enc"] = seal(ctx.deps.cipher, number, DRAFT_CONTEXT)
    _visa(ctx)["no_mask"] = id_numbers.mask(number)
    await continue_guest(ctx)


@asks(S.VISA_EXP)
async def ask_visa_exp(ctx: Ctx) -> None:
    ctx.say(ctx.t("arrival.foreign.ask_visa_exp"))


@router.step(S.VISA_EXP)
async def visa_exp(ctx: Ctx) -> None:
    """Stores the date the visa (or exemption) runs out; an expired one is flagged."""
    day = inp.parse_date(ctx.ev.text)
    if day is None:
        ctx.say(ctx.t("arrival.bad.date", text=esc(ctx.ev.text[:40])))
        await ask_visa_exp(ctx)
        return
    if day < local_today(ctx.now, ctx.deps.config.bot.tz):
        ctx.say(ctx.t("arrival.foreign.expired", day=f"{day:%d/%m/%Y}"))
    _visa(ctx)["expiry"] = day.isoformat()
    await continue_guest(ctx)


@asks(S.ENTRY)
async def ask_entry(ctx: Ctx) -> None:
    ctx.ask(ctx.t("arrival.foreign.ask_entry"), [(ctx.t("arrival.stay.today"), "today")])


@router.step(S.ENTRY)
async def entry(ctx: Ctx) -> None:
    """Stores the date of entry into Viet Nam (today, or a past date)."""
    today = local_today(ctx.now, ctx.deps.config.bot.tz)
    day = today if ctx.value == "today" else inp.parse_date(ctx.ev.text)
    if day is None or day > today or inp.birth_problem(day, today):
        ctx.say(ctx.t("arrival.bad.entry"))
        await ask(ctx, S.ENTRY)
        return
    _visa(ctx)["entry"] = day.isoformat()
    await continue_guest(ctx)
