"""Composing a notice in the console: a template, the areas and people to reach, when;
"Preview" renders exactly what recipients will read and counts them (on the server, no
script needed); "Send" creates it through the broadcasts feature's own services, so an
officer's notice waits for a leader's approval exactly as in chat."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.messages import to_plain
from bot.web.console.guard import page
from bot.web.console.scope import scope_areas
from bot.web.console.site import Req, Site, see_other
from broadcasts import audience, compose, review, schedule, templates

KINDS = ("now", "once", "daily", "weekly", "monthly")
Draft = compose.Draft


def draft_from(form: dict[str, str], multi: dict[str, list[str]]) -> Draft:
    """The form's fields as the broadcasts feature's draft (bad values dropped)."""
    kind = form.get("kind", "now") if form.get("kind") in KINDS else "now"
    spec: dict[str, Any] = {"kind": kind}
    if kind == "once":
        spec["at"] = form.get("at", "")
    elif kind != "now":
        spec["time"] = form.get("time", "08:00")
        if kind == "weekly":
            spec["weekdays"] = [int(d) for d in multi.get("weekdays", [])
                               if d.isdigit() and int(d) < 7]
        if kind == "monthly":
            spec["day"] = int(form["day"]) if form.get("day", "").isdigit() else 1
        if form.get("until"):
            spec["until"] = form["until"]
    name = form.get("template", "notice")
    return compose.Draft(
        template=name if name in templates.library() else "notice",
        text_vi=form.get("text_vi", "").strip(), text_en=form.get("text_en", "").strip(),
        note=form.get("note", "").strip()[:300],
        areas=[int(a) for a in multi.get("areas", []) if a.isdigit()],
        roles=[r for r in multi.get("roles", []) if r in audience.ROLES],
        groups=form.get("groups") == "1", schedule=spec, urgent=form.get("urgent") == "1",
        expires=form.get("expires", "") if kind in ("now", "once") else "")



async def _form(req: Req, db: AsyncSession, draft: Draft, **extra: Any) -> web.Response:
    allowed = await compose.jurisdiction(db, req.roles)
    return req.render("broadcast_new.html", section="broadcasts", draft=draft,
                      library=templates.library(), areas=await scope_areas(db, allowed),
                      roles=audience.ROLES, kinds=KINDS, to_plain=to_plain,
                      needs_approval=compose.needs_approval(req.roles, req.config), **extra)


def add_routes(app: web.Application, site: Site) -> None:
    @page(site, "broadcasts")
    async def new(req: Req) -> web.StreamResponse:
        if not compose.may_compose(req.roles):
            return req.render("message.html", section="broadcasts", status=403,
                              key="console.auth.forbidden")
        name = req.q("template", "notice")
        draft = Draft(template=name if name in templates.library() else "notice")
        async with req.rt.deps.db.read() as db:
            return await _form(req, db, draft)

    @page(site, "broadcasts")
    async def submit(req: Req) -> web.StreamResponse:
        if not compose.may_compose(req.roles):
            return req.render("message.html", section="broadcasts", status=403,
                              key="console.auth.forbidden")
        posted = await req.request.post()
        multi = {k: [str(v) for v in posted.getall(k, [])]
                 for k in ("areas", "roles", "weekdays")}
        draft = draft_from(dict(req.form), multi)
        async with req.rt.deps.db.read() as db:
            pv = await compose.preview(db, draft, req.lang, req.config, req.now)
            if req.form.get("do") != "send" or pv.problem:
                return await _form(req, db, draft, preview=pv)
        try:
            async with req.rt.deps.db.uow() as db:
                bc = await compose.create(db, draft, author_id=req.person_id, roles=req.roles,
                                          config=req.config, now=req.now, actor_label="console")
                if bc.status == "pending":
                    await review.request(db, bc, req.config, req.now)
                bid, status = bc.id, bc.status
        except (ValueError, schedule.ScheduleError) as exc:
            async with req.rt.deps.db.read() as db:
                return await _form(req, db, draft, preview=compose.Preview(problem=str(exc)))
        req.rt.deps.wake()
        req.rt.deps.wake_scheduler()
        raise see_other(f"/console/broadcasts/{bid}",
                        done="bc_pending" if status == "pending" else "bc_scheduled")

    app.router.add_get("/console/broadcasts/new", new)
    app.router.add_post("/console/broadcasts/new", submit)
