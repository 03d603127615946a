"""/web (/console): a staff member asks for a one-time sign-in link to the web console."""

from __future__ import annotations

from datetime import timedelta

from bot.domain.messages import Choice, Reply
from bot.services import console_auth
from handlers.context import Ctx
from handlers.router import Router

router = Router("console")


@router.command("web", "console", staff_only=True, menu_vi="Trang quản lý (cán bộ)",
                menu_en="Staff console (staff)")
async def web_link(ctx: Ctx) -> None:
    """Stores a one-time sign-in link (its hash only); sends it, valid for a few minutes."""
    ctx.end()
    if ctx.person is None:
        ctx.say(ctx.t("console.chat.not_staff"))
        return
    minutes = ctx.deps.config.console.link_minutes
    try:
        token = await console_auth.issue_link(ctx.db, ctx.person.id, ctx.now,
                                              timedelta(minutes=minutes))
    except console_auth.SigninError:
        ctx.say(ctx.t("console.chat.not_staff"))
        return
    url = console_auth.link_url(ctx.deps.links.web_url, token)
    ctx.reply(Reply(text=ctx.t("console.chat.link", minutes=minutes),
                    choices=((Choice(ctx.t("console.chat.open"), "", url=url),),)))
