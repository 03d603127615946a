"""The officer's actions on a case, posted from its page.

Each calls the same service function as the chat buttons (``bot.services.case_actions``
and ``handover``), so an action taken here or in chat is the same use case, recorded
once, and the resident hears about it the same way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit, case_actions, cases, categories, handover
from bot.web.console.guard import page
from bot.web.console.site import Req, Site, see_other
from storage.tables import Case

Action = Callable[[AsyncSession, Req, Case], Awaitable[str]]


async def _ack(db: AsyncSession, req: Req, case: Case) -> str:
    done = await case_actions.acknowledge(db, case, req.person_id, req.now)
    return "acked" if done else "already_acked"


async def _ask(db: AsyncSession, req: Req, case: Case) -> str:
    text = req.form.get("text", "").strip()[:2000]
    if not text:
        return "need_text"
    reached = await case_actions.ask_reporter(db, case, req.person_id, text, req.now)
    return "asked" if reached else "unreachable"


async def _reassign(db: AsyncSession, req: Req, case: Case) -> str:
    choice = req.form.get("officer", "")
    allowed = await case_actions.colleagues(db, case, exclude=case.assignee_id or 0)
    if not choice.isdigit() or int(choice) not in allowed:
        return "need_choice"
    await handover.reassign(db, case, int(choice), req.person_id, req.now)
    return "reassigned"


async def _close(db: AsyncSession, req: Req, case: Case) -> str:
    outcome, reason = req.form.get("outcome", ""), req.form.get("reason", "").strip()
    if case.status == "closed":
        return "already_closed"
    if outcome not in cases.OUTCOMES:
        return "need_choice"
    if len(reason) < 3:
        return "reason_needed"
    await case_actions.close(db, case, outcome, reason[:1000], req.person_id, req.now)
    return "closed"


async def _note(db: AsyncSession, req: Req, case: Case) -> str:
    text = req.form.get("text", "").strip()
    if not text:
        return "need_text"
    await cases.add_message(db, case, author="note", body=text[:2000], now=req.now,
                            staff_id=req.person_id)
    return "noted"


async def _publish(db: AsyncSession, req: Req, case: Case) -> str:
    """Admins choose which cases the public Open311 feed lists (category, status, area)."""
    case.publishable = req.form.get("publishable") == "1"
    audit.record(db, "case.publish", at=req.now, actor_id=req.person_id, object_type="case",
                 object_id=case.ref, publishable=case.publishable)
    return "published" if case.publishable else "unpublished"


ACTIONS: dict[str, Action] = {"ack": _ack, "ask": _ask, "reassign": _reassign,
                              "close": _close, "note": _note, "publish": _publish}


def add_routes(app: web.Application, site: Site) -> None:
    @page(site, "cases")
    async def act(req: Req) -> web.StreamResponse:
        ref, verb = req.request.match_info["ref"], req.request.match_info["action"]
        action = ACTIONS.get(verb)
        if action is None:
            raise web.HTTPNotFound()
        async with req.rt.deps.db.uow() as db:
            case = await cases.by_ref(db, ref)
            cat = await categories.get(db, case.category_code, None) if case else None
            allowed = case is not None and (req.is_admin if verb == "publish" else
                                            await cases.can_handle(
                                                db, case, req.roles, req.person_id,
                                                bool(cat and cat.team_visible)))
            if case is None or not allowed:
                return req.render("message.html", section="cases", status=403,
                                  key="console.auth.forbidden")
            done = await action(db, req, case)
        req.rt.deps.wake()  # send the resident's and colleagues' messages now
        raise see_other(f"/console/cases/{ref}", done=done)

    app.router.add_post("/console/cases/{ref}/{action}", act)
