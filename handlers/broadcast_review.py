"""Leaders approve or reject officers' notices: the buttons on the request (a delivery
row), then a reason for a rejection, which the author reads."""

from __future__ import annotations

from enum import StrEnum

from bot.domain.messages import esc
from bot.i18n import t
from broadcasts import review, schedule
from handlers.context import Ctx
from handlers.router import Router
from storage.tables import Broadcast

router = Router("bcreview")


class S(StrEnum):
    REJECT_NOTE = "reject_note"


async def load_broadcast(ctx: Ctx) -> Broadcast | None:
    bc = await ctx.db.get(Broadcast, int(ctx.arg)) if ctx.arg.isdigit() else None
    if bc is None or ctx.person is None:
        ctx.say(ctx.t("bc.not_reviewer"))
        return None
    return bc


def status_name(lang: str, bc: Broadcast) -> str:
    return t(lang, f"bc_status.{bc.status}")


@router.action("bcok")
async def approve(ctx: Ctx) -> None:
    """Approves a pending notice (first leader wins); the author is told."""
    bc = await load_broadcast(ctx)
    if bc is None:
        return
    assert ctx.person is not None
    if not await review.may_review(ctx.db, bc, ctx.person.id, ctx.roles or []):
        ctx.say(ctx.t("bc.not_reviewer"))
        return
    if bc.status != "pending":
        ctx.say(ctx.t("bc.already_reviewed", id=bc.id, status=status_name(ctx.lang, bc)))
        return
    try:
        await review.approve(ctx.db, bc, ctx.person.id, ctx.deps.config, ctx.now)
    except schedule.ScheduleError as exc:
        ctx.say(ctx.t("bc.template_error", error=esc(str(exc))))
        return
    ctx.after_commit.extend([ctx.deps.wake, ctx.deps.wake_scheduler])
    ctx.say(ctx.t("bc.approved", id=bc.id))


@router.action("bcno")
async def reject(ctx: Ctx) -> None:
    """Stores which notice; asks the reason for rejecting it."""
    bc = await load_broadcast(ctx)
    if bc is None:
        return
    assert ctx.person is not None
    if not await review.may_review(ctx.db, bc, ctx.person.id, ctx.roles or []):
        ctx.say(ctx.t("bc.not_reviewer"))
        return
    if bc.status != "pending":
        ctx.say(ctx.t("bc.already_reviewed", id=bc.id, status=status_name(ctx.lang, bc)))
        return
    ctx.end()
    ctx.flow = router.flow
    ctx.goto(S.REJECT_NOTE)
    ctx.data["broadcast_id"] = bc.id
    ctx.ask(ctx.t("bc.ask_reject_note", id=bc.id), [(ctx.t("common.cancel"), "cancel")],
            cancel="cancel")


@router.step(S.REJECT_NOTE)
async def reject_note(ctx: Ctx) -> None:
    """Rejects the notice with the typed reason; the author reads it."""
    bc = await ctx.db.get(Broadcast, int(ctx.data.get("broadcast_id", 0)))
    if ctx.value == "cancel" or bc is None or ctx.person is None:
        ctx.end()
        return
    note = ctx.ev.text.strip()
    if len(note) < 3:
        ctx.say(ctx.t("bc.need_reject_note"))
        return
    ctx.end()
    if bc.status != "pending":
        ctx.say(ctx.t("bc.already_reviewed", id=bc.id, status=status_name(ctx.lang, bc)))
        return
    await review.reject(ctx.db, bc, ctx.person.id, note[:1000], ctx.now)
    ctx.after_commit.append(ctx.deps.wake)
    ctx.say(ctx.t("bc.rejected", id=bc.id))
