"""Staff and their units' notices: the list ("📋" on /thongbao), one notice with pause,
resume and cancel, and /thongke — how recent sends went."""

from __future__ import annotations

from bot.domain.messages import Choice, Reply, esc
from broadcasts import compose, control, reports, schedule
from handlers.broadcast_review import load_broadcast, status_name
from handlers.context import Ctx
from handlers.router import Router
from storage.repos import areas

router = Router("bcmanage")


@router.action("bcm")
async def listing(ctx: Ctx) -> None:
    """Lists the notices of the staff member's units (newest first) as buttons."""
    if not compose.may_compose(ctx.roles or []):
        ctx.say(ctx.t("bc.not_allowed"))
        return
    rows = await control.visible(ctx.db, ctx.roles or [])
    if not rows:
        ctx.say(ctx.t("bc.list_empty"))
        return
    buttons = tuple((Choice(ctx.t("bc.item", id=b.id, title=reports.title(b, ctx.lang),
                                  status=status_name(ctx.lang, b)), f"!bcd:{b.id}"),) for b in rows)
    ctx.reply(Reply(text=ctx.t("bc.list_title"), choices=buttons))


@router.action("bcd")
async def detail(ctx: Ctx) -> None:
    """One notice: areas, schedule, next time, and what may be done with it."""
    bc = await load_broadcast(ctx)
    if bc is None:
        return
    tz = ctx.deps.config.bot.tz
    targets = [a for a in [await areas.by_id(ctx.db, i) for i in bc.audience.get("areas", [])]
               if a is not None]
    nxt = f"{bc.next_due_at.astimezone(tz):%H:%M %d/%m/%Y}" if bc.next_due_at \
        else ctx.t("bc.never")
    text = ctx.t("bc.detail", id=bc.id, title=reports.title(bc, ctx.lang),
                 status=status_name(ctx.lang, bc), when=schedule.describe(bc.schedule, ctx.lang),
                 areas=esc(", ".join(areas.label(a) for a in targets)), next=nxt)
    acts = {"scheduled": ("bcp", "bc.pause"), "paused": ("bcr", "bc.resume")}
    buttons = [Choice(ctx.t(acts[bc.status][1]), f"!{acts[bc.status][0]}:{bc.id}")] \
        if bc.status in acts else []
    if bc.status in control.ACTIVE:
        buttons.append(Choice(ctx.t("bc.cancel"), f"!bcx:{bc.id}"))
    ctx.reply(Reply(text=text, choices=(tuple(buttons),) if buttons else ()))


async def _control(ctx: Ctx, verb: str) -> None:
    bc = await load_broadcast(ctx)
    if bc is None:
        return
    assert ctx.person is not None
    if not await control.may_manage(ctx.db, bc, ctx.person.id, ctx.roles or []):
        ctx.say(ctx.t("bc.not_reviewer"))
        return
    action = {"paused": control.pause, "resumed": control.resume,
              "cancelled": control.cancel}[verb]
    try:
        n = await action(ctx.db, bc, ctx.now, ctx.person.id)
    except control.NotAllowed:
        ctx.say(ctx.t("bc.cannot", id=bc.id, status=status_name(ctx.lang, bc)))
        return
    ctx.after_commit.extend([ctx.deps.wake, ctx.deps.wake_scheduler])
    ctx.say(ctx.t(f"bc.{verb}", id=bc.id, n=n))


@router.action("bcp")
async def pause(ctx: Ctx) -> None:
    """Holds the notice's unsent messages and its next times."""
    await _control(ctx, "paused")


@router.action("bcr")
async def resume(ctx: Ctx) -> None:
    """Releases a paused notice."""
    await _control(ctx, "resumed")


@router.action("bcx")
async def cancel(ctx: Ctx) -> None:
    """Cancels the notice: unsent messages are dropped, no more times."""
    await _control(ctx, "cancelled")


@router.command("thongke", "stats", staff_only=True, menu_vi="Thống kê thông báo (cán bộ)",
                menu_en="Notice statistics (staff)")
async def stats(ctx: Ctx) -> None:
    """Stores nothing; lists recent notices in the staff member's units with their figures."""
    ctx.end()
    scope = await compose.jurisdiction(ctx.db, ctx.roles or [])
    rows = await reports.recent(ctx.db, scope)
    if not rows:
        ctx.say(ctx.t("bc.stats_empty"))
        return
    tz = ctx.deps.config.bot.tz
    lines = [ctx.t("bc.stats_title")]
    for bc, occ, f in rows:
        lines.append(ctx.t("bc.stats_line", id=bc.id, title=reports.title(bc, ctx.lang),
                           due=f"{occ.due_at.astimezone(tz):%d/%m %H:%M}",
                           recipients=f.recipients, delivered=f.delivered, failed=f.failed,
                           unreachable=f.unreachable,
                           duration=reports.duration(ctx.lang, f.duration)))
    ctx.say("\n".join(lines))
