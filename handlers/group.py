"""Group chats: the bot introduces itself, staff link the group to an area, and reports
are always moved to a private chat so nobody's tip is exposed to the group."""

from __future__ import annotations

from enum import StrEnum

from bot.domain.messages import Choice, Reply
from bot.services import groups
from handlers.context import Ctx
from handlers.router import Router
from storage.repos import areas

router = Router("group")
REPORT_COMMANDS = ("baotin", "report", "sos")


class S(StrEnum):
    AREA = "area"


@router.action("joined_group")
async def joined(ctx: Ctx) -> None:
    """Stores the group; introduces the bot."""
    await groups.joined(ctx.db, ctx.ev.channel, ctx.ev.chat_id, ctx.ev.chat_title)
    ctx.say(ctx.t("group.intro"))


@router.action("left_group")
async def left(ctx: Ctx) -> None:
    """Marks the group inactive (no more broadcasts to it)."""
    await groups.left(ctx.db, ctx.ev.channel, ctx.ev.chat_id)


@router.action("group_private_only")
async def private_only(ctx: Ctx) -> None:
    """A private-only command typed in a group: reports get a private deep link."""
    if ctx.ev.command not in REPORT_COMMANDS:
        ctx.say(ctx.t("group.private_only"))
        return
    group = await groups.find(ctx.db, ctx.ev.channel, ctx.ev.chat_id)
    area = await areas.by_id(ctx.db, group.area_id) if group and group.area_id else None
    payload = f"tip-{area.code}" if area else "tip"
    url = ctx.deps.links.telegram_start(payload) if ctx.ev.channel == "telegram" else ""
    if not url:
        ctx.say(ctx.t("group.private_only"))
        return
    ctx.reply(Reply(text=ctx.t("group.report_private"),
                    choices=((Choice(ctx.t("group.open_private"), "", url=url),),)))


@router.command("lienket", "link", staff_only=True, groups=True)
async def link(ctx: Ctx) -> None:
    """Asks which of the officer's areas (or their villages) the group belongs to."""
    if ctx.ev.is_private:
        ctx.end()
        ctx.say(ctx.t("group.group_only"))
        return
    options: list[tuple[str, str]] = []
    for _, area_id in ctx.roles or []:
        area = await areas.by_id(ctx.db, area_id)
        if area is None:
            continue
        options.append((areas.label(area), str(area.id)))
        options += [(areas.label(v), str(v.id)) for v in await areas.children(ctx.db, area.id)
                    if area.level == "commune"]
    if not options:
        ctx.end()
        ctx.say(ctx.t("group.not_staff_area"))
        return
    ctx.goto(S.AREA)
    ctx.ask(ctx.t("group.choose_area"), options[:20], per_row=2)


@router.step(S.AREA)
async def choose_area(ctx: Ctx) -> None:
    """Stores the group's area; confirms in the group."""
    allowed = {a for _, a in ctx.roles or []}
    area = await areas.by_id(ctx.db, int(ctx.value)) if ctx.value.isdigit() else None
    if area is None or not ctx.person or (area.id not in allowed
                                          and area.parent_id not in allowed):
        ctx.say(ctx.t("errors.need_choice"))
        return
    group = await groups.joined(ctx.db, ctx.ev.channel, ctx.ev.chat_id, ctx.ev.chat_title)
    await groups.link(ctx.db, group, area.id, ctx.person.id, ctx.now)
    ctx.end()
    ctx.say(ctx.t("group.linked", area=areas.label(area)))
