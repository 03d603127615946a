"""Onboarding (/start): notice and consent → language → province → commune → village → phone.

Also the entry for deep links: ``/start inv_<token>`` (staff invitations) and
``/start tip-<area>`` (a report opened from a group chat, area preset).
"""

from __future__ import annotations

from enum import StrEnum

from bot.domain.messages import Ask
from bot.services import people as people_svc
from handlers import areas_step
from handlers.context import Ctx
from handlers.menu import main_menu
from handlers.router import Router

router = Router("start")


class S(StrEnum):
    CONSENT = "consent"
    LANGUAGE = "language"
    PROVINCE = "province"
    COMMUNE = "commune"
    VILLAGE = "village"
    PHONE = "phone"


@router.command("start", "batdau", menu_vi="Bắt đầu", menu_en="Start",
                menu_name_en="start")
async def start(ctx: Ctx) -> None:
    """Routes deep links; a known person gets the menu, a new one the consent notice."""
    payload = ctx.args.strip()
    if payload.startswith("inv_"):
        await ctx.run_command("nhanvaitro", payload)
        return
    if payload.startswith("tip-"):
        ctx.data["after"] = {"command": "baotin", "args": payload}
    if ctx.person is not None and ctx.person.consent:
        after = ctx.data.pop("after", None)
        if after and ctx.has_command(after["command"]):
            await ctx.run_command(after["command"], after["args"])
            return
        await welcome_back(ctx)
        return
    ctx.goto(S.CONSENT)
    await begin(ctx)


async def begin(ctx: Ctx) -> None:
    """Stores nothing yet; shows the greeting and asks for consent."""
    if not ctx.data.get("lang_set") and ctx.ev.language in ("vi", "en"):
        ctx.lang = ctx.ev.language
    ctx.say(ctx.t("onboard.greeting") + "\n\n" + ctx.t("common.never_ask"))
    ctx.ask(ctx.t("onboard.notice", version=ctx.deps.config.bot.notice_version),
            [(ctx.t("onboard.agree"), "yes"), (ctx.t("onboard.disagree"), "no"),
             (ctx.t("onboard.switch_en"), "lang")])


async def welcome_back(ctx: Ctx) -> None:
    assert ctx.person is not None
    area = await people_svc.area_label(ctx.db, ctx.person.home_area_id, ctx.lang)
    text = ctx.t("onboard.welcome_back", area=area)
    if ctx.roles:
        names = await people_svc.role_areas(ctx.db, ctx.roles)
        text += "\n" + ctx.t("onboard.your_roles",
                             roles=people_svc.roles_text(ctx.roles, names, ctx.lang))
    ctx.end()
    main_menu(ctx, text)


@router.step(S.CONSENT)
async def consent(ctx: Ctx) -> None:
    """Stores the person and the consent (version, time) on "agree"; asks the language."""
    if await on_consent(ctx):
        ctx.goto(S.LANGUAGE)
        ask_language(ctx)


async def on_consent(ctx: Ctx) -> bool:
    """Answers the notice's buttons (also for invitations); True once consent is stored.

    "English" shows the notice again in the other language; "disagree" ends the flow, so
    nothing about the chat is kept; anything else asks again.
    """
    if ctx.value == "lang":
        ctx.lang = "en" if ctx.lang == "vi" else "vi"
        ctx.data["lang_set"] = True
        await begin(ctx)
        return False
    if ctx.value == "no":
        ctx.end()
        ctx.say(ctx.t("onboard.refused") + "\n\n" + ctx.t("common.emergency"))
        return False
    if ctx.value != "yes":
        ctx.say(ctx.t("errors.need_choice"))
        await begin(ctx)
        return False
    ctx.person = await people_svc.register(
        ctx.db, ctx.ev, language=ctx.lang, notice_version=ctx.deps.config.bot.notice_version,
        at=ctx.now)
    return True


def ask_language(ctx: Ctx) -> None:
    ctx.ask(ctx.t("onboard.choose_language"), [("Tiếng Việt", "vi"), ("English", "en")],
            per_row=2)


@router.step(S.LANGUAGE)
async def language(ctx: Ctx) -> None:
    """Stores the language; asks the home province (or commune if the deployment has one)."""
    if ctx.value not in ("vi", "en"):
        ctx.say(ctx.t("errors.need_choice"))
        ask_language(ctx)
        return
    assert ctx.person is not None
    ctx.person.language = ctx.lang = ctx.value
    await areas_step.ask_province(ctx, next_step=S.PROVINCE, commune_step=S.COMMUNE)


@router.step(S.PROVINCE)
async def province(ctx: Ctx) -> None:
    """Stores the chosen province; asks the commune."""
    await areas_step.on_province(ctx, commune_step=S.COMMUNE)


@router.step(S.COMMUNE)
async def commune(ctx: Ctx) -> None:
    """Stores the commune as home area; asks the village if the commune has any."""
    if await areas_step.on_commune(ctx, village_step=S.VILLAGE):
        await after_area(ctx)


@router.step(S.VILLAGE)
async def village(ctx: Ctx) -> None:
    """Stores the village (or keeps the commune); asks the phone number."""
    if await areas_step.on_village(ctx):
        await after_area(ctx)


async def after_area(ctx: Ctx) -> None:
    assert ctx.person is not None
    ctx.person.home_area_id = ctx.data["area_id"]
    if ctx.data.get("settings"):
        await ctx.run_command("caidat")
        return
    ctx.goto(S.PHONE)
    ask_phone(ctx)


def ask_phone(ctx: Ctx) -> None:
    ctx.ask(ctx.t("onboard.ask_phone"), [(ctx.t("common.skip"), "skip")],
            ask=Ask.CONTACT, ask_label=ctx.t("onboard.share_phone"))


@router.step(S.PHONE)
async def phone(ctx: Ctx) -> None:
    """Stores the phone in E.164 (shared contact or typed); finishes with the menu."""
    assert ctx.person is not None
    if ctx.value != "skip":
        raw = ctx.ev.phone or ctx.ev.text
        if ctx.ev.phone and not ctx.ev.contact_is_own:
            ctx.say(ctx.t("onboard.not_own_contact"))
            ask_phone(ctx)
            return
        number = people_svc.normalise_phone(raw) if raw else None
        if number is None:
            ctx.say(ctx.t("onboard.bad_phone", phone=raw or "—"))
            ask_phone(ctx)
            return
        ctx.person.phone = number
    if ctx.data.get("settings"):
        await ctx.run_command("caidat")
        return
    area = await people_svc.area_label(ctx.db, ctx.person.home_area_id, ctx.lang)
    after = ctx.data.get("after")
    ctx.end()
    ctx.say(ctx.t("onboard.done", area=area), remove_keyboard=True)
    if after and ctx.has_command(after["command"]):
        await ctx.run_command(after["command"], after["args"])
        return
    main_menu(ctx)
