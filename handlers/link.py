"""Linking accounts (/lienketzalo): one person on Telegram and Zalo, roles and history kept.

``/lienketzalo`` on a registered account shows a one-time code (10 minutes);
``/lienketzalo CODE`` on the other channel joins that account to the same person.
"""

from __future__ import annotations

from bot.services import linking
from bot.services import people as people_svc
from handlers.context import Ctx
from handlers.menu import main_menu
from handlers.router import Router
from storage.repos import people

router = Router("link")
CHANNEL_NAMES = {"telegram": "Telegram", "zalo": "Zalo", "web": "web"}


@router.command("lienketzalo", "linkaccount", menu_vi="Liên kết tài khoản Zalo/Telegram",
                menu_en="Link your Zalo/Telegram account")
async def link(ctx: Ctx) -> None:
    """Stores a code's hash (no argument) or joins this account to the code's person."""
    ctx.end()
    code = linking.normalise(ctx.args)
    if not code:
        await show_code(ctx)
        return
    try:
        person = await linking.redeem(ctx.db, ctx.deps.cipher, code, ctx.ev, ctx.now)
    except linking.LinkError as exc:
        ctx.say(ctx.t(exc.reason))
        return
    ctx.person, ctx.lang = person, person.language
    ctx.roles = await people.active_roles(ctx.db, person.id)
    channels = sorted({CHANNEL_NAMES.get(i.channel, i.channel)
                       for i in await people.identities_of(ctx.db, person.id)})
    text = ctx.t("link.done", channels=", ".join(channels))
    if ctx.roles:
        names = await people_svc.role_areas(ctx.db, ctx.roles)
        text += "\n" + ctx.t("onboard.your_roles",
                             roles=people_svc.roles_text(ctx.roles, names, ctx.lang))
    main_menu(ctx, text)


async def show_code(ctx: Ctx) -> None:
    """A new code for a registered person; otherwise how linking works."""
    if ctx.person is None or not ctx.person.consent:
        ctx.say(ctx.t("link.how"))
        return
    code = await linking.new_code(ctx.db, ctx.deps.cipher, ctx.person, ctx.now)
    other = "Zalo" if ctx.ev.channel != "zalo" else "Telegram"
    ctx.say(ctx.t("link.code", code=code, other=other) + "\n\n" + ctx.t("link.never_share"))
