"""Staff invitations opened from a deep link: confirm, then the role is granted.

Someone not yet registered sees the personal-data notice first (as at /start); the token
waits in the flow's data and the invitation is taken up as soon as they agree.
"""

from __future__ import annotations

from enum import StrEnum

from bot.services import invites
from handlers import start
from handlers.context import Ctx
from handlers.router import Router
from storage.repos import areas

router = Router("invite")


class S(StrEnum):
    CONFIRM = "confirm"
    CONSENT = "consent"


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
    """Grants the role to a registered person; asks anyone else for consent first."""
    if ctx.value == "no":
        ctx.end()
        ctx.say(ctx.t("invite.declined"))
        return
    if ctx.value != "yes":
        ctx.say(ctx.t("errors.need_choice"))
        return
    if ctx.person is not None and ctx.person.consent:
        await take_up(ctx)
        return
    try:  # no notice for an invitation that can no longer be used
        await invites.lookup(ctx.db, ctx.data.get("token", ""), ctx.now)
    except invites.InviteError as exc:
        ctx.end()
        ctx.say(ctx.t(exc.reason))
        return
    ctx.goto(S.CONSENT)
    await start.begin(ctx)


@router.step(S.CONSENT)
async def consent(ctx: Ctx) -> None:
    """Stores the person and the consent on "agree", then grants the role; else as /start."""
    if await start.on_consent(ctx) and not await take_up(ctx):
        # The invitation lapsed while they read the notice: a registered person without
        # a language or an area would be stuck, so the usual onboarding goes on.
        ctx.goto(start.S.LANGUAGE, flow=start.router.flow)
        start.ask_language(ctx)


async def take_up(ctx: Ctx) -> bool:
    """Redeem the invitation kept in the flow for the registered person; False if refused."""
    assert ctx.person is not None
    try:
        role, area, routed = await invites.redeem(ctx.db, ctx.data.get("token", ""),
                                                  ctx.person, ctx.now)
    except invites.InviteError as exc:
        ctx.end()
        ctx.say(ctx.t(exc.reason))
        return False
    if ctx.person.home_area_id is None:
        ctx.person.home_area_id = area.id
    ctx.end()
    text = ctx.t("invite.granted", role=ctx.t(f"roles.{role}"), area=areas.label(area))
    if routed:
        text += "\n" + ctx.t("waiting.passed_on", n=routed)
        ctx.after_commit.append(ctx.deps.wake)
    ctx.say(text + "\n\n" + ctx.t("help.staff"))
    return True
