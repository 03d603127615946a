"""Entering one guest: a whole line ("Nguyễn Văn An, 01/02/1990, 001090012345, nam"),
or a name and then each missing field; wrong parts are explained and asked again, the
rest is kept. An ID that disagrees with the birth year or gender asks for a re-check."""

from __future__ import annotations

from bot.domain.messages import esc
from handlers import arrival_submit
from handlers.arrival_fields import apply_line, set_dob, set_gender, set_id, set_name, set_phone
from handlers.arrival_flow import S, ask, asks, cur, draft, router
from handlers.arrival_next import continue_guest, finish_guest, on_field
from handlers.context import Ctx


@asks(S.GUEST)
async def ask_guest(ctx: Ctx) -> None:
    d = draft(ctx)
    n = len(d["guests"])
    if n == 0:
        text = ctx.t("arrival.place.using", address=esc(d.get("address", ""))) + "\n\n" + \
            ctx.t("arrival.guest.ask", n=n + 1)
    else:
        last = d["guests"][-1]
        text = ctx.t("arrival.guest.next", name=esc(last["name"]), mask=last["id_mask"], n=n + 1)
    options = [(ctx.t("arrival.guest.done", n=n), "done")] if n else []
    options.append((ctx.t("arrival.guest.foreign"), "foreign"))
    if n == 0:
        options.append((ctx.t("arrival.place.change"), "place"))
    options.append((ctx.t("arrival.discard"), "discard"))
    ctx.ask(text, options, per_row=2)


@router.step(S.GUEST)
async def guest(ctx: Ctx) -> None:
    """Stores a guest from one line (or starts one from a name); or moves on."""
    d = draft(ctx)
    if ctx.value == "done" and d["guests"]:
        await ask(ctx, S.REVIEW if d.get("stay_done") else S.REASON)
    elif ctx.value == "foreign":
        d["cur"] = {"foreign": True, "visa": {}}
        await ask(ctx, S.NAME)
    elif ctx.value in ("place", "discard"):
        if ctx.value == "place":
            await ask(ctx, S.PLACE)
        else:
            await arrival_submit.ask_discard(ctx)
    elif ctx.ev.text.strip():
        d["cur"] = {"foreign": False}
        problems = apply_line(ctx, ctx.ev.text)
        if problems:
            ctx.say("\n".join(problems))
        await continue_guest(ctx)
    else:
        ctx.say(ctx.t("errors.need_text"))
        await ask_guest(ctx)


@asks(S.NAME)
async def ask_name(ctx: Ctx) -> None:
    key = "arrival.guest.ask_foreign" if cur(ctx).get("foreign") else "arrival.guest.ask_name"
    ctx.say(ctx.t(key))


@router.step(S.NAME)
async def name(ctx: Ctx) -> None:
    """Stores the name (a foreigner's whole line is accepted too); asks what is missing."""
    text = ctx.ev.text
    if cur(ctx).get("foreign") and ("," in text or ";" in text):
        problems = apply_line(ctx, text)
        if problems:
            ctx.say("\n".join(problems))
        await continue_guest(ctx)
        return
    await on_field(ctx, set_name(ctx, text), S.NAME)


@asks(S.DOB)
async def ask_dob(ctx: Ctx) -> None:
    ctx.say(ctx.t("arrival.guest.ask_dob", name=esc(cur(ctx).get("name", ""))))


@router.step(S.DOB)
async def dob(ctx: Ctx) -> None:
    """Stores the date of birth; asks what is missing."""
    await on_field(ctx, set_dob(ctx, ctx.ev.text), S.DOB)


@asks(S.GENDER)
async def ask_gender(ctx: Ctx) -> None:
    ctx.ask(ctx.t("arrival.guest.ask_gender"), [(ctx.t("arrival.gender.m"), "nam"),
                                                 (ctx.t("arrival.gender.f"), "nu")], per_row=2)


@router.step(S.GENDER)
async def gender(ctx: Ctx) -> None:
    """Stores the gender; asks what is missing."""
    await on_field(ctx, set_gender(ctx, ctx.value or ctx.ev.text), S.GENDER)


@asks(S.IDNO)
async def ask_idno(ctx: Ctx) -> None:
    ctx.say(ctx.t("arrival.guest.ask_id", name=esc(cur(ctx).get("name", ""))))


@router.step(S.IDNO)
async def idno(ctx: Ctx) -> None:
    """Stores the 12-digit ID number, sealed; asks what is missing."""
    await on_field(ctx, set_id(ctx, ctx.ev.text), S.IDNO)


@asks(S.PHONE)
async def ask_phone(ctx: Ctx) -> None:
    ctx.ask(ctx.t("arrival.guest.ask_phone"), [(ctx.t("common.skip"), "skip")], cancel="skip")


@router.step(S.PHONE)
async def phone(ctx: Ctx) -> None:
    """Stores the guest's phone (optional); finishes the guest."""
    if ctx.value == "skip":
        cur(ctx)["phone"] = ""
        await continue_guest(ctx)
        return
    await on_field(ctx, set_phone(ctx, ctx.ev.text), S.PHONE)


@asks(S.RECHECK)
async def ask_recheck(ctx: Ctx) -> None:
    c = cur(ctx)
    year, female = c["id_info"]
    says = ctx.t("arrival.recheck.says", year=year,
                 gender=ctx.t(f"arrival.gender.{'f' if female else 'm'}"))
    typed = ctx.t("arrival.recheck.says", year=c["dob"][:4],
                  gender=ctx.t(f"arrival.gender.{c['gender']}"))
    ctx.ask(ctx.t("arrival.recheck.ask", mask=c["id_mask"], says=says, typed=typed),
            [(ctx.t("arrival.recheck.keep"), "keep"), (ctx.t("arrival.recheck.fix_id"), "id"),
             (ctx.t("arrival.recheck.fix_dob"), "dob"),
             (ctx.t("arrival.recheck.fix_gender"), "gender")])


@router.step(S.RECHECK)
async def recheck(ctx: Ctx) -> None:
    """Keeps the guest as typed (confirmed by the host) or re-asks one field."""
    c = cur(ctx)
    if ctx.value == "keep":
        c["id_confirmed"] = True
        await finish_guest(ctx)
    elif ctx.value in ("id", "dob", "gender"):
        c.pop("id_enc" if ctx.value == "id" else ctx.value, None)
        await continue_guest(ctx)
    else:
        ctx.say(ctx.t("errors.need_choice"))
        await ask_recheck(ctx)
