"""Staff invitations opened from a deep link: confirm, then the role is granted."""

from __future__ import annotations

from enum import StrEnum

from bot.services import invites
from bot.services import people as people_svc
from handlers.context import Ctx
from handlers.router import Router
from storage.repos import areas

router = Router("invite")


class S(StrEnum):
    CONFIRM = "confirm"


@router.command("nhanvaitro", "acceptrole")
async def offer(ctx: Ctx) -> None:
    """Stores the token in the flow; asks to confirm the offered role and area."""
    token = ctx.args.removeprefix("inv_").strip()
    try:
        inv, area = await invites.lookup(ctx.db, token, ctx.now)
    except invites.InviteError as exc:
        ctx.end()
        ctx.say(ctx.t(exc.reason))
        return
    ctx.flow = router.flow
    ctx.goto(S.CONFIRM)
    ctx.data["token"] = token
    ctx.ask(ctx.t("invite.offer", role=ctx.t(f"roles.{inv.role}"), area=areas.label(area)),
            [(ctx.t("invite.accept"), "yes"), (ctx.t("invite.decline"), "no")], cancel="no")


@router.step(S.CONFIRM)
async def confirm(ctx: Ctx) -> None:
    """Grants the role (registering the person if new); shows it."""
    token = ctx.data.get("token", "")
    if ctx.value == "no":
        ctx.end()
        ctx.say(ctx.t("invite.declined"))
        return
    if ctx.value != "yes":
        ctx.say(ctx.t("errors.need_choice"))
        return
    if ctx.person is None:
        ctx.person = await people_svc.register(
            ctx.db, ctx.ev, language=ctx.lang,
            notice_version=ctx.deps.config.bot.notice_version, at=ctx.now)
    try:
        role, area = await invites.redeem(ctx.db, token, ctx.person, ctx.now)
    except invites.InviteError as exc:
        ctx.end()
        ctx.say(ctx.t(exc.reason))
        return
    if ctx.person.home_area_id is None:
        ctx.person.home_area_id = area.id
    ctx.end()
    ctx.say(ctx.t("invite.granted", role=ctx.t(f"roles.{role}"), area=areas.label(area))
            + "\n\n" + ctx.t("help.staff"))
