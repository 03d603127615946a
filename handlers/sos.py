"""SOS: emergency numbers first, then one message of what and where; every on-duty
officer of the area is alerted at once and again until someone acknowledges."""

from __future__ import annotations

from enum import StrEnum

from bot.domain.messages import Ask, Kind
from bot.services import cases, categories, sos
from handlers.context import Ctx
from handlers.menu import main_menu
from handlers.router import Router
from storage.repos import areas

router = Router("sos")


class S(StrEnum):
    WHAT = "what"


@router.command("sos", "khancap", groups=True, menu_vi="Khẩn cấp", menu_en="Emergency",
                menu_name_en="sos")
async def start(ctx: Ctx) -> None:
    """Shows 113/114/115 before anything else; asks what and where in one message."""
    ctx.say(ctx.t("sos.numbers"))
    if not ctx.ev.is_private:
        ctx.end()
        return
    ctx.goto(S.WHAT)
    ctx.ask(ctx.t("sos.ask_what"), [(ctx.t("common.cancel"), "cancel")], ask=Ask.LOCATION,
            ask_label=ctx.t("tip.share_location"), cancel="cancel")


@router.step(S.WHAT)
async def what(ctx: Ctx) -> None:
    """Stores the SOS case (text and/or location) and alerts the on-duty officers."""
    if ctx.value == "cancel":
        ctx.end()
        ctx.say(ctx.t("help.cancelled"), remove_keyboard=True)
        return
    if ctx.ev.kind is Kind.LOCATION and ctx.ev.latitude is not None:
        ctx.data["lat"], ctx.data["lon"] = ctx.ev.latitude, ctx.ev.longitude
        if ctx.value != "send":
            ctx.ask(ctx.t("sos.ask_text_after_location"), [(ctx.t("sos.send_now"), "send")])
            return
    text = ctx.ev.text.strip() if ctx.ev.kind is Kind.TEXT else ""
    if not text and ctx.value != "send":
        ctx.say(ctx.t("errors.need_text"))
        return
    area_id = ctx.person.home_area_id if ctx.person else None
    if area_id is None and ctx.deps.config.bot.province:
        prov = await areas.by_code(ctx.db, ctx.deps.config.bot.province)
        area_id = prov.id if prov else None
    cat = await categories.get(ctx.db, "KHAN", None)
    assert cat is not None
    case = await cases.create(
        ctx.db, kind="sos", category=cat, area_id=area_id,
        description=text or ctx.t("sos.location_only"), place=None,
        latitude=ctx.data.get("lat"), longitude=ctx.data.get("lon"), occurred=None,
        anonymous=ctx.person is None, reporter_id=ctx.person.id if ctx.person else None,
        ev=ctx.ev, photos=[], now=ctx.now)
    alerted = await sos.alert(ctx.db, case, ctx.now)
    ctx.after_commit.append(ctx.deps.wake)
    ctx.end()
    key = "sos.sent" if alerted else "sos.no_officer"
    main_menu(ctx, ctx.t(key, ref=case.ref, n=alerted) + "\n\n" + ctx.t("sos.numbers"))
