"""Residents and notices: /huydangky (/unsubscribe) stops routine notices, /dangky
(/subscribe) restarts them, and /caidat → "Chủ đề nhận tin" picks the topics."""

from __future__ import annotations

from enum import StrEnum

from broadcasts import subscriptions, templates
from handlers.broadcast_flow import mark
from handlers.context import Ctx
from handlers.router import Router

router = Router("subs")


class S(StrEnum):
    TOPICS = "topics"


@router.command("huydangky", "unsubscribe", menu_vi="Ngừng nhận thông báo",
                menu_en="Stop notices")
async def unsubscribe(ctx: Ctx) -> None:
    """Stores the opt-out; urgent notices still come."""
    ctx.end()
    if ctx.person is None:
        ctx.say(ctx.t("bc_sub.need_start"))
        return
    changed = subscriptions.set_opt_out(ctx.db, ctx.person, True, ctx.now)
    ctx.say(ctx.t("bc_sub.unsubscribed" if changed else "bc_sub.already"))


@router.command("dangky", "subscribe")
async def subscribe(ctx: Ctx) -> None:
    """Clears the opt-out."""
    ctx.end()
    if ctx.person is None:
        ctx.say(ctx.t("bc_sub.need_start"))
        return
    subscriptions.set_opt_out(ctx.db, ctx.person, False, ctx.now)
    ctx.say(ctx.t("bc_sub.subscribed"))


async def show_topics(ctx: Ctx) -> None:
    """Asks which topics to receive (toggles); shows the opt-out if it is on."""
    assert ctx.person is not None
    ctx.goto(S.TOPICS, flow=router.flow)
    on = await subscriptions.chosen(ctx.db, ctx.person.id)
    options = [(mark(topic in on, ctx.t(f"bc_topic.{topic}")), topic)
               for topic in templates.topics()]
    text = ctx.t("bc_sub.title")
    if ctx.person.broadcasts_opt_out:
        text += "\n" + ctx.t("bc_sub.all_off")
        options.append((ctx.t("bc_sub.resume"), "resume"))
    ctx.ask(text, [*options, (ctx.t("bc_sub.back"), "back")], per_row=2, cancel="back")


@router.step(S.TOPICS)
async def on_topic(ctx: Ctx) -> None:
    """Stores the switched topic (or the restart); asks again, or back to settings."""
    if ctx.person is None or ctx.value == "back":
        await ctx.run_command("caidat")
        return
    if ctx.value == "resume":
        subscriptions.set_opt_out(ctx.db, ctx.person, False, ctx.now)
    elif ctx.value in templates.topics():
        await subscriptions.toggle(ctx.db, ctx.person.id, ctx.value)
    await show_topics(ctx)
