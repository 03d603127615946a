"""The main menu, help and cancel: what a resident sees between flows."""

from __future__ import annotations

from bot.domain.messages import Choice, Reply
from handlers.context import Ctx
from handlers.router import Router

router = Router("menu")


def main_menu(ctx: Ctx, prompt: str = "") -> None:
    """Show the main menu as action buttons (they work from any state)."""
    items = [("menu.report", "!go:baotin"), ("menu.sos", "!go:sos"),
             ("menu.arrival", "!go:khaibao"), ("menu.my_reports", "!go:tincuatoi"),
             ("menu.settings", "!go:caidat"), ("menu.help", "!go:trogiup")]
    buttons = [Choice(ctx.t(k), p) for k, p in items if ctx.has_command(p[4:])]
    rows = tuple(tuple(buttons[i:i + 2]) for i in range(0, len(buttons), 2))
    ctx.reply(Reply(text=prompt or ctx.t("menu.prompt"), choices=rows))


@router.command("trogiup", "help", keeps_flow=True, menu_vi="Trợ giúp", menu_en="Help")
async def show_help(ctx: Ctx) -> None:
    """Stores nothing; shows the commands and emergency numbers, keeps the current flow."""
    text = ctx.t("help.text")
    if ctx.is_staff:
        text += "\n\n" + ctx.t("help.staff")
    ctx.say(text + "\n\n" + ctx.t("common.emergency"))


@router.command("huy", "cancel", keeps_flow=True, menu_vi="Dừng việc đang làm",
                menu_en="Stop the current step")
async def cancel(ctx: Ctx) -> None:
    """Clears the flow state (a report draft only after confirmation); shows the menu."""
    if ctx.flow == "tip" and ctx.data.get("draft", {}).get("description") \
            and ctx.step != "discard":
        from handlers.tip_submit import ask_discard
        await ask_discard(ctx, resume=ctx.step or "")
        return
    had_flow = ctx.flow is not None
    ctx.end()
    ctx.say(ctx.t("help.cancelled" if had_flow else "help.nothing_to_cancel"),
            remove_keyboard=True)
    main_menu(ctx)


async def fallback(ctx: Ctx) -> None:
    """Anything outside a flow: unregistered people are sent to /start, others to the menu."""
    if ctx.person is None:
        from handlers.start import begin
        ctx.goto("consent", flow="start")
        await begin(ctx)
        return
    main_menu(ctx, ctx.t("errors.not_understood") if ctx.ev.text else "")


@router.action("go")
async def go(ctx: Ctx) -> None:
    """A main-menu button: runs the command it names, as if typed."""
    await ctx.run_command(ctx.arg)
