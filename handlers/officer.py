"""Officer tools in chat: /viec, case detail, acknowledge, ask the tipster, reassign,
close with an outcome and a reason, staff-only notes. Limited to the officer's areas."""

from __future__ import annotations

from enum import StrEnum

from bot.domain.messages import Choice, Reply, esc
from bot.services import case_actions, cases, categories, handover, tips
from handlers import duty
from handlers.case_input import relay_content
from handlers.context import Ctx
from handlers.router import Router
from storage.tables import Case, Person

router = Router("officer")


class S(StrEnum):
    ASK = "ask"
    FORWARD = "forward"
    OUTCOME = "outcome"
    REASON = "reason"
    NOTE = "note"


async def load_case(ctx: Ctx, case_id: str) -> Case | None:
    """The case if this staff member may act on it; otherwise says why and returns None."""
    case = await ctx.db.get(Case, int(case_id)) if case_id.isdigit() else None
    if case is None or not await may_act(ctx, case):
        ctx.say(ctx.t("officer.not_allowed"))
        return None
    return case


async def may_act(ctx: Ctx, case: Case) -> bool:
    """Whether this staff member may act on the case (assignee, or staff of its area)."""
    if ctx.person is None or not ctx.is_staff:
        return False
    cat = await categories.get(ctx.db, case.category_code, None)
    team = bool(cat and cat.team_visible) and case.kind != "privacy"  # police only
    return await cases.can_handle(ctx.db, case, ctx.roles or [], ctx.person.id, team)


def _age(ctx: Ctx, case: Case) -> str:
    minutes = int((ctx.now - case.created_at).total_seconds() // 60)
    from handlers.tip_submit import duration_text
    return duration_text(ctx, max(minutes, 0))


@router.command("viec", "tasks", staff_only=True, menu_vi="Việc của tôi (cán bộ)",
                menu_en="My cases (staff)")
async def my_cases(ctx: Ctx) -> None:
    """Stores nothing; lists the open cases this person may open, oldest first."""
    assert ctx.person is not None
    open_cases = await cases.openable_for(ctx.db, ctx.roles or [], ctx.person.id)
    ctx.end()
    head = await duty.status_line(ctx)  # on or off duty, for police staff
    head = f"{head}\n\n" if head else ""
    if not open_cases:
        ctx.say(head + ctx.t("officer.no_cases"))
        return
    rows = []
    for c in open_cases[:20]:
        overdue = "⏰ " if c.ack_due_at and c.acknowledged_at is None and c.ack_due_at < ctx.now \
            else ""
        rows.append((Choice(f"{overdue}{c.ref} · {c.category_code} · {_age(ctx, c)}",
                            f"!case:{c.id}"),))
    ctx.reply(Reply(text=head + ctx.t("officer.cases_title", n=len(open_cases)),
                    choices=tuple(rows)))


@router.action("case")
async def detail(ctx: Ctx) -> None:
    """Shows the whole thread (notes included) with the action buttons."""
    case = await load_case(ctx, ctx.arg)
    if case is None:
        return
    lines = [await tips.summary(ctx.db, case, ctx.lang, heading=ctx.t(
        f"status_name.{case.status}"))]
    for msg, atts in await cases.thread(ctx.db, case.id, staff=True):
        who = ctx.t(f"officer.author_{msg.author}")
        photo = f" 📷×{len(atts)}" if atts else ""
        lines.append(f"<i>{msg.created_at.astimezone(ctx.deps.config.bot.tz):%d/%m %H:%M}</i> "
                     f"{who}: {esc(msg.body)}{photo}")
    buttons = (*tips.officer_buttons(case, ctx.lang),
               (Choice(ctx.t("officer.note"), f"!note:{case.id}"),))
    ctx.reply(Reply(text="\n".join(lines), choices=buttons))


@router.action("ack")
async def ack(ctx: Ctx) -> None:
    """Marks the case acknowledged (first press wins); the reporter is told."""
    case = await load_case(ctx, ctx.arg)
    if case is None:
        return
    assert ctx.person is not None
    done = await case_actions.acknowledge(ctx.db, case, ctx.person.id, ctx.now)
    ctx.after_commit.append(ctx.deps.wake)
    ctx.say(ctx.t("officer.acked" if done else "officer.already_acked", ref=case.ref))


@router.action("ask")
async def ask(ctx: Ctx) -> None:
    """Stores the case in the officer's flow; asks for the question to relay."""
    case = await load_case(ctx, ctx.arg)
    if case is None:
        return
    ctx.end()
    ctx.flow = router.flow
    ctx.goto(S.ASK)
    ctx.data["case_id"] = case.id
    ctx.ask(ctx.t("officer.ask_prompt", ref=case.ref), [(ctx.t("common.cancel"), "cancel")],
            cancel="cancel")


@router.step(S.ASK, case_replies=True)
async def ask_text(ctx: Ctx) -> None:
    """Relays the question (text or photo) to the tipster; a refused photo keeps the step."""
    case = await load_case(ctx, str(ctx.data.get("case_id", "")))
    if case is None or ctx.value == "cancel":
        ctx.end()
        return
    content = relay_content(ctx)
    if content is None:
        return
    await ask_reporter(ctx, case, *content)
    ctx.end()


async def ask_reporter(ctx: Ctx, case: Case, text: str,
                       photo: tuple[str, str, int] | None) -> None:
    """Relays an officer's question and says whether it could reach the tipster."""
    assert ctx.person is not None
    reached = await case_actions.ask_reporter(ctx.db, case, ctx.person.id, text, ctx.now, photo)
    ctx.after_commit.append(ctx.deps.wake)
    ctx.say(ctx.t("officer.asked" if reached else "officer.unreachable", ref=case.ref))


@router.action("fwd")
async def forward(ctx: Ctx) -> None:
    """Asks which colleague of the area takes the case over."""
    case = await load_case(ctx, ctx.arg)
    if case is None:
        return
    assert ctx.person is not None
    ids = await case_actions.colleagues(ctx.db, case, exclude=case.assignee_id or 0)
    if not ids:
        ctx.say(ctx.t("officer.no_colleagues"))
        return
    ctx.end()
    ctx.flow = router.flow
    ctx.goto(S.FORWARD)
    ctx.data["case_id"] = case.id
    options = []
    for pid in ids[:10]:
        p = await ctx.db.get(Person, pid)
        options.append((p.display_name or f"#{pid}" if p else f"#{pid}", str(pid)))
    ctx.ask(ctx.t("officer.forward_to", ref=case.ref),
            [*options, (ctx.t("common.cancel"), "cancel")], cancel="cancel")


@router.step(S.FORWARD, case_replies=True)
async def forward_to(ctx: Ctx) -> None:
    """Stores the new assignee (notified; tipster told; ack timer restarted); asks nothing."""
    case = await load_case(ctx, str(ctx.data.get("case_id", "")))
    if case is None or ctx.value == "cancel":
        ctx.end()
        return
    assert ctx.person is not None
    allowed = await case_actions.colleagues(ctx.db, case, exclude=case.assignee_id or 0)
    if not ctx.value.isdigit() or int(ctx.value) not in allowed:
        ctx.say(ctx.t("errors.need_choice"))
        return
    await handover.reassign(ctx.db, case, int(ctx.value), ctx.person.id, ctx.now)
    ctx.after_commit.append(ctx.deps.wake)
    ctx.end()
    ctx.say(ctx.t("officer.forwarded_done", ref=case.ref))


@router.action("close")
async def close(ctx: Ctx) -> None:
    """Asks the outcome of the case."""
    case = await load_case(ctx, ctx.arg)
    if case is None:
        return
    if case.status == "closed":
        ctx.say(ctx.t("officer.already_closed", ref=case.ref))
        return
    ctx.end()
    ctx.flow = router.flow
    ctx.goto(S.OUTCOME)
    ctx.data["case_id"] = case.id
    ctx.ask(ctx.t("officer.outcome_prompt", ref=case.ref),
            [*[(ctx.t(f"outcome.{o}"), o) for o in cases.OUTCOMES],
             (ctx.t("common.cancel"), "cancel")], cancel="cancel")


@router.step(S.OUTCOME, case_replies=True)
async def outcome(ctx: Ctx) -> None:
    """Stores the outcome; asks for the reason (what was done)."""
    if ctx.value == "cancel":
        ctx.end()
        return
    if ctx.value not in cases.OUTCOMES:
        ctx.say(ctx.t("errors.need_choice"))
        return
    ctx.data["outcome"] = ctx.value
    ctx.goto(S.REASON)
    ctx.say(ctx.t("officer.reason_prompt"))


@router.step(S.REASON)
async def reason(ctx: Ctx) -> None:
    """Closes the case with outcome and reason; the reporter is told and asked to rate."""
    case = await load_case(ctx, str(ctx.data.get("case_id", "")))
    if case is None:
        ctx.end()
        return
    text = ctx.ev.text.strip()
    if len(text) < 3:
        ctx.say(ctx.t("officer.reason_needed"))
        return
    assert ctx.person is not None
    await case_actions.close(ctx.db, case, ctx.data["outcome"], text[:1000], ctx.person.id,
                             ctx.now)
    ctx.after_commit.append(ctx.deps.wake)
    ctx.end()
    ctx.say(ctx.t("officer.closed", ref=case.ref))


@router.action("note")
async def note(ctx: Ctx) -> None:
    """Asks for a note only staff will see."""
    case = await load_case(ctx, ctx.arg)
    if case is None:
        return
    ctx.end()
    ctx.flow = router.flow
    ctx.goto(S.NOTE)
    ctx.data["case_id"] = case.id
    ctx.say(ctx.t("officer.note_prompt", ref=case.ref))


@router.step(S.NOTE)
async def note_text(ctx: Ctx) -> None:
    """Stores the staff-only note on the case."""
    case = await load_case(ctx, str(ctx.data.get("case_id", "")))
    text = ctx.ev.text.strip()
    if case is None or not text:
        ctx.end()
        return
    assert ctx.person is not None
    await cases.add_message(ctx.db, case, author="note", body=text[:2000], now=ctx.now,
                            staff_id=ctx.person.id)
    ctx.end()
    ctx.say(ctx.t("officer.note_saved", ref=case.ref))
