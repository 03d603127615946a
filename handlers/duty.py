"""Duty shifts (/truc): police staff go on or off duty; SOS alerts go to those on duty.

``/truc`` shows the state with one button to change it; ``/truc vao`` / ``/truc het``
(``on`` / ``off``) change it at once. The buttons are global actions naming the wanted
state, so an old button pressed twice does no harm.
"""

from __future__ import annotations

from bot.domain.messages import Choice, Reply, esc
from bot.services import duty
from bot.text import fold
from handlers.context import Ctx
from handlers.router import Router
from storage.repos import areas

router = Router("duty")
ON_WORDS = ("vao", "vao ca", "bat", "on", "start")
OFF_WORDS = ("het", "het ca", "nghi", "tat", "off", "stop")


async def status_line(ctx: Ctx) -> str:
    """The "on duty" / "off duty" line of /viec; empty for staff without a police role."""
    assert ctx.person is not None
    on = await duty.state(ctx.db, ctx.person.id)
    return "" if on is None else ctx.t("duty.line_on" if on else "duty.line_off")


@router.command("truc", "duty", staff_only=True, menu_vi="Ca trực (cán bộ)",
                menu_en="Duty shift (staff)")
async def show(ctx: Ctx) -> None:
    """Stores nothing (or the state named in the command); shows the state and a button."""
    ctx.end()
    wanted = fold(ctx.args)
    if wanted in ON_WORDS or wanted in OFF_WORDS:
        await _set(ctx, wanted in ON_WORDS)
        return
    assert ctx.person is not None
    on = await duty.state(ctx.db, ctx.person.id)
    if on is None:
        ctx.say(ctx.t("duty.not_police"))
        return
    button = Choice(ctx.t("duty.stop"), "!duty:off") if on else \
        Choice(ctx.t("duty.start"), "!duty:on")
    ctx.reply(Reply(text=ctx.t("duty.on" if on else "duty.off"), choices=((button,),)))


@router.action("duty")
async def change(ctx: Ctx) -> None:
    """Stores the new duty state on every police role of the person."""
    if ctx.person is None or not ctx.is_staff or ctx.arg not in ("on", "off"):
        ctx.say(ctx.t("errors.staff_only"))
        return
    await _set(ctx, ctx.arg == "on")


async def _set(ctx: Ctx, on: bool) -> None:
    assert ctx.person is not None
    if await duty.state(ctx.db, ctx.person.id) is None:
        ctx.say(ctx.t("duty.not_police"))
        return
    await duty.set_state(ctx.db, ctx.person.id, on, ctx.now)
    text = ctx.t("duty.started" if on else "duty.stopped")
    if not on:
        uncovered = await duty.areas_left_uncovered(ctx.db, ctx.person.id)
        if uncovered:
            text += "\n" + ctx.t("duty.nobody_left", areas=esc(", ".join(
                areas.label(a) for a in uncovered)))
    ctx.say(text)
