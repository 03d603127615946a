"""Telegram's swipe-to-reply on a case message: the reply continues the case its text
names (``BY-yy-nnnnnn``), as "✍️ Trả lời" / "➕ Bổ sung thông tin" do for the reporter
(found through the relay mapping) and "❓ Hỏi thêm" for staff who may act on the case.

Only when no step waits for free text: a reply while typing a tip's description, a
closing reason, a form… answers that step as before, and the person is told it did not
go to the case. Otherwise the conversation is left as it was: a tip draft waiting at its
review screen is still there after the reply has been relayed."""

from __future__ import annotations

import re

from bot.services import cases, relay
from handlers import mycases, officer
from handlers.case_input import relay_content
from handlers.context import Ctx
from storage.tables import Case

REF = re.compile(r"\bBY-\d{2}-\d{6}\b")


async def on_reply(ctx: Ctx, free: bool) -> bool:
    """Relays a reply to a case message (stores nothing in the conversation); False when
    the quoted message names no case this person may continue, or a step wants the text."""
    m = REF.search(ctx.ev.reply_to_text)
    case = await cases.by_ref(ctx.db, m.group(0)) if m else None
    if case is None:
        return False
    # A staff member who reported the case answers as its reporter, not as its officer.
    reporter = await mycases.own_case(ctx, str(case.id)) is not None
    if not reporter and not await officer.may_act(ctx, case):
        return False
    if not free:
        ctx.say(ctx.t("case_reply.busy", ref=case.ref))
        return False
    if _relaying(ctx, case):
        return False  # the step is already passing messages on for this very case
    if reporter:
        await _reporter_adds(ctx, case)
    else:
        content = relay_content(ctx)
        if content is not None:
            await officer.ask_reporter(ctx, case, *content)
    if ctx.flow:
        ctx.say(ctx.t("case_reply.kept"))
    return True


def _relaying(ctx: Ctx, case: Case) -> bool:
    steps = {(mycases.router.flow, str(mycases.S.ANSWER)),
             (officer.router.flow, str(officer.S.ASK))}
    return (ctx.flow, ctx.step) in steps and ctx.data.get("case_id") == case.id


async def _reporter_adds(ctx: Ctx, case: Case) -> None:
    if case.status == "closed":
        ctx.say(ctx.t("mycases.closed"))
        return
    content = relay_content(ctx)
    if content is None:
        return
    reached = await relay.reporter_says(ctx.db, case, content[0], ctx.now, content[1])
    ctx.after_commit.append(ctx.deps.wake)
    ctx.say(mycases.sent_text(ctx, case, reached))
