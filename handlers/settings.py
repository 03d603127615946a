"""Settings (/caidat): name, language, home area, phone, notice topics."""

from __future__ import annotations

from enum import StrEnum

from bot.domain.messages import esc
from bot.services import people as people_svc
from bot.text import nfc
from handlers import areas_step, start
from handlers.context import Ctx
from handlers.menu import main_menu
from handlers.router import Router

router = Router("settings")


class S(StrEnum):
    MENU = "menu"
    LANGUAGE = "language"
    NAME = "name"


NAME_MAX = 100


@router.command("caidat", "settings", menu_vi="Cài đặt", menu_en="Settings")
async def show(ctx: Ctx) -> None:
    """Stores nothing; shows current settings and asks which to change."""
    if ctx.person is None:
        ctx.end()
        ctx.say(ctx.t("settings.need_start"))
        return
    ctx.end()
    ctx.flow = router.flow
    ctx.goto(S.MENU)
    p = ctx.person
    area = await people_svc.area_label(ctx.db, p.home_area_id, ctx.lang)
    title = ctx.t("settings.title", language="Tiếng Việt" if ctx.lang == "vi" else "English",
                  area=area, phone=p.phone or ctx.t("settings.no_phone"))
    title += "\n" + ctx.t("settings.name_line", name=esc(p.display_name or "—"))
    ctx.ask(title, [(ctx.t("settings.name"), "name"),
                    (ctx.t("settings.language"), "language"), (ctx.t("settings.area"), "area"),
                    (ctx.t("settings.phone"), "phone"), (ctx.t("bc_sub.entry"), "topics"),
                    (ctx.t("settings.done"), "done")],
            per_row=2, cancel="done")


@router.step(S.MENU)
async def pick(ctx: Ctx) -> None:
    """Asks for the chosen setting; the onboarding steps store it and come back here."""
    if ctx.value == "language":
        ctx.goto(S.LANGUAGE)
        start.ask_language(ctx)
    elif ctx.value == "name":
        ctx.goto(S.NAME)
        ctx.ask(ctx.t("settings.ask_name"), [(ctx.t("common.cancel"), "cancel")],
                cancel="cancel")
    elif ctx.value == "area":
        ctx.data["settings"] = True
        ctx.goto(start.S.PROVINCE, flow="start")
        ctx.data["settings"] = True
        await areas_step.ask_province(ctx, next_step=start.S.PROVINCE,
                                      commune_step=start.S.COMMUNE)
    elif ctx.value == "phone":
        ctx.goto(start.S.PHONE, flow="start")
        ctx.data["settings"] = True
        start.ask_phone(ctx)
    elif ctx.value == "topics":
        from handlers import subscriptions  # it comes back here: imported late
        await subscriptions.show_topics(ctx)
    elif ctx.value == "done":
        ctx.end()
        main_menu(ctx)
    else:
        await show(ctx)


@router.step(S.LANGUAGE)
async def language(ctx: Ctx) -> None:
    """Stores the language; shows the settings again."""
    if ctx.value in ("vi", "en") and ctx.person is not None:
        ctx.person.language = ctx.lang = ctx.value
        ctx.say(ctx.t("settings.saved"))
        await show(ctx)
        return
    ctx.say(ctx.t("errors.need_choice"))
    start.ask_language(ctx)


@router.step(S.NAME)
async def name(ctx: Ctx) -> None:
    """Stores the corrected display name (NFC, single spaces); shows the settings again."""
    if ctx.value == "cancel" or ctx.person is None:
        await show(ctx)
        return
    typed = " ".join(nfc(ctx.ev.text).split())
    if not 2 <= len(typed) <= NAME_MAX or not any(ch.isalpha() for ch in typed):
        ctx.say(ctx.t("settings.bad_name", max=NAME_MAX))
        return
    ctx.person.display_name = typed
    ctx.say(ctx.t("settings.saved"))
    await show(ctx)
