"""A notice's controls: approve or reject (a leader of its unit, not the author), pause,
resume, cancel (the author or a leader or admin of its unit), and publish on the CAP feed
(a leader or admin of its unit) — each through the broadcasts feature's own services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from bot.web.console.guard import page
from bot.web.console.site import Req, Site, see_other
from broadcasts import control, review, schedule
from storage.tables import Broadcast

Action = Callable[[AsyncSession, Req, Broadcast], Awaitable[str]]
PUBLISHERS = ("leader", "admin")


async def may_publish(db: AsyncSession, req: Req, bc: Broadcast) -> bool:
    return req.is_admin or (any(r in PUBLISHERS for r, _ in req.roles)
                            and await control.may_manage(db, bc, req.person_id, req.roles))


async def _approve(db: AsyncSession, req: Req, bc: Broadcast) -> str:
    if bc.status != "pending" or not await review.may_review(db, bc, req.person_id, req.roles):
        return "forbidden"
    try:
        await review.approve(db, bc, req.person_id, req.config, req.now)
    except schedule.ScheduleError:
        return "bc_too_late"
    return "bc_approved"


async def _reject(db: AsyncSession, req: Req, bc: Broadcast) -> str:
    if bc.status != "pending" or not await review.may_review(db, bc, req.person_id, req.roles):
        return "forbidden"
    note = req.form.get("note", "").strip()
    if len(note) < 3:
        return "reason_needed"
    await review.reject(db, bc, req.person_id, note[:1000], req.now)
    return "bc_rejected"


def _control(fn: Callable[..., Awaitable[int]], done: str) -> Action:
    async def act(db: AsyncSession, req: Req, bc: Broadcast) -> str:
        if not await control.may_manage(db, bc, req.person_id, req.roles):
            return "forbidden"
        try:
            await fn(db, bc, req.now, req.person_id, actor_label="console")
        except control.NotAllowed:
            return "bc_not_now"
        return done
    return act


async def _publish(db: AsyncSession, req: Req, bc: Broadcast) -> str:
    if not await may_publish(db, req, bc):
        return "forbidden"
    bc.publishable = req.form.get("publishable") == "1"
    audit.record(db, "broadcast.publish", at=req.now, actor_id=req.person_id,
                 object_type="broadcast", object_id=bc.id, publishable=bc.publishable)
    return "published" if bc.publishable else "unpublished"


ACTIONS: dict[str, Action] = {
    "approve": _approve, "reject": _reject, "publish": _publish,
    "pause": _control(control.pause, "bc_paused"),
    "resume": _control(control.resume, "bc_resumed"),
    "cancel": _control(control.cancel, "bc_cancelled")}


def add_routes(app: web.Application, site: Site) -> None:
    @page(site, "broadcasts")
    async def act(req: Req) -> web.StreamResponse:
        bid, verb = req.request.match_info["id"], req.request.match_info["action"]
        action = ACTIONS.get(verb)
        if action is None or not bid.isdigit():
            raise web.HTTPNotFound()
        async with req.rt.deps.db.uow() as db:
            bc = await db.get(Broadcast, int(bid))
            if bc is None:
                raise web.HTTPNotFound()
            done = await action(db, req, bc)
        if done == "forbidden":
            return req.render("message.html", section="broadcasts", status=403,
                              key="console.auth.forbidden")
        req.rt.deps.wake()
        req.rt.deps.wake_scheduler()
        raise see_other(f"/console/broadcasts/{bid}", done=done)

    app.router.add_post("/console/broadcasts/{id}/{action}", act)
