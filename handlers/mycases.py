"""The reporter's side of a case: /tincuatoi, answering the officer, adding details, rating."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import select

from bot.domain.messages import Choice, Reply, esc
from bot.services import cases, relay
from handlers.case_input import relay_content
from handlers.context import Ctx
from handlers.menu import main_menu
from handlers.router import Router
from storage.tables import Case, CaseRelay

router = Router("relay")


class S(StrEnum):
    ANSWER = "answer"


async def own_case(ctx: Ctx, case_id: str) -> Case | None:
    """The case if this chat reported it (the relay mapping decides, not the person row)."""
    if not case_id.isdigit():
        return None
    relay = (await ctx.db.execute(select(CaseRelay).where(
        CaseRelay.case_id == int(case_id), CaseRelay.channel == ctx.ev.channel,
        CaseRelay.chat_id == ctx.ev.chat_id, CaseRelay.ended_at.is_(None)))).scalar_one_or_none()
    if relay is None and ctx.person is not None:
        case = await ctx.db.get(Case, int(case_id))
        return case if case is not None and case.reporter_id == ctx.person.id else None
    return await ctx.db.get(Case, int(case_id)) if relay else None


def shown_status(case: Case) -> str:
    """The status as the reporter may hear it: "routed" only once the officer really got it."""
    return "new" if case.status == "routed" and case.delivered_at is None else case.status


@router.command("tincuatoi", "myreports", menu_vi="Tin tôi đã gửi", menu_en="My reports")
async def my_reports(ctx: Ctx) -> None:
    """Stores nothing; lists the person's cases with their status."""
    ctx.end()
    if ctx.person is None:
        ctx.say(ctx.t("settings.need_start"))
        return
    rows = (await ctx.db.execute(select(Case).where(Case.reporter_id == ctx.person.id)
                                 .order_by(Case.created_at.desc()).limit(20))).scalars().all()
    if not rows:
        ctx.say(ctx.t("mycases.none"))
        return
    buttons = tuple((Choice(f"{c.ref} · {ctx.t(f'status_name.{shown_status(c)}')}",
                            f"!mycase:{c.id}"),) for c in rows)
    ctx.reply(Reply(text=ctx.t("mycases.title"), choices=buttons))


@router.action("mycase")
async def detail(ctx: Ctx) -> None:
    """Shows the case thread as the reporter sees it (no staff notes, no officer names)."""
    case = await own_case(ctx, ctx.arg)
    if case is None:
        ctx.say(ctx.t("officer.not_allowed"))
        return
    lines = [f"<b>{case.ref}</b> · {ctx.t(f'status_name.{shown_status(case)}')}"]
    for msg, atts in await cases.thread(ctx.db, case.id, staff=False):
        if msg.author == "system":
            continue
        who = ctx.t("mycases.you") if msg.author == "reporter" else ctx.t("mycases.officer")
        lines.append(f"{who}: {esc(msg.body)}{' 📷' * len(atts)}")
    choices = () if case.status == "closed" else (
        (Choice(ctx.t("mycases.add"), f"!reply:{case.id}"),),)
    ctx.reply(Reply(text="\n".join(lines), choices=choices))


@router.action("reply")
async def reply(ctx: Ctx) -> None:
    """Stores which case the next message belongs to; asks for it."""
    case = await own_case(ctx, ctx.arg)
    if case is None or case.status == "closed":
        ctx.say(ctx.t("mycases.closed" if case else "officer.not_allowed"))
        return
    ctx.end()
    ctx.flow = router.flow
    ctx.goto(S.ANSWER)
    ctx.data["case_id"] = case.id
    ctx.ask(ctx.t("mycases.answer_prompt", ref=case.ref), [(ctx.t("common.cancel"), "cancel")],
            cancel="cancel")


@router.step(S.ANSWER, case_replies=True)
async def answer(ctx: Ctx) -> None:
    """Relays the reporter's text or photo anonymously; asks for more until "Xong"."""
    case = await own_case(ctx, str(ctx.data.get("case_id", "")))
    if case is None or ctx.value in ("cancel", "done"):
        ctx.end()
        if ctx.value == "done":
            main_menu(ctx)
        return
    if case.status == "closed":
        ctx.end()
        ctx.say(ctx.t("mycases.closed"))
        return
    content = relay_content(ctx)  # a refused photo is explained; the step stays
    if content is None:
        return
    reached = await relay.reporter_says(ctx.db, case, content[0], ctx.now, content[1])
    ctx.after_commit.append(ctx.deps.wake)
    # Stay on this step: a text and then a photo or two (one burst) all reach the officer.
    ctx.ask(sent_text(ctx, case, reached) + "\n" + ctx.t("relay.more"),
            [(ctx.t("relay.done"), "done")], cancel="done")


def sent_text(ctx: Ctx, case: Case, reached: bool) -> str:
    """What the reporter reads after an answer: sent, or kept until someone can read it."""
    return ctx.t("mycases.sent" if reached else "mycases.sent_nobody", ref=case.ref)


@router.action("rate")
async def rate(ctx: Ctx) -> None:
    """Stores the 1–5 rating of a closed case."""
    case_id, _, stars = ctx.arg.partition(":")
    case = await own_case(ctx, case_id)
    if case is None or not stars.isdigit() or not 1 <= int(stars) <= 5:
        ctx.stale = True
        return
    case.rating = int(stars)
    ctx.say(ctx.t("mycases.thanks"))
