"""The case board and one case's page (the thread, notes and the officer's actions)."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit, case_actions, cases, categories
from bot.web.console import case_query, labels
from bot.web.console.guard import page
from bot.web.console.scope import case_scope, nav, scope_areas
from bot.web.console.site import Req, Site, see_other
from storage.repos import areas, people
from storage.tables import Attachment, Case, Person

PHOTO_TTL = timedelta(hours=1)


async def _filter_areas(db: AsyncSession, req: Req) -> list[tuple[int, str]]:
    own = await areas.descendant_ids(db, [a for _, a in req.roles])
    return await scope_areas(db, own)


async def _visible(db: AsyncSession, req: Req, ref: str) -> tuple[Case, bool] | None:
    """The case if the viewer may see it, and whether they may act on it (as in chat)."""
    case = await cases.by_ref(db, ref)
    if case is None:
        return None
    cat = await categories.get(db, case.category_code, None)
    can_act = await cases.can_handle(db, case, req.roles, req.person_id,
                                     bool(cat and cat.team_visible))
    scope = await case_scope(db, req.roles, req.person_id)
    seen = await db.scalar(select(Case.id).where(Case.id == case.id, scope.where()))
    return (case, can_act) if can_act or seen else None


def add_routes(app: web.Application, site: Site) -> None:
    @page(site, "cases")
    async def board(req: Req) -> web.StreamResponse:
        f = case_query.Filters.parse(dict(req.request.query))
        async with req.rt.deps.db.read() as db:
            scope = await case_scope(db, req.roles, req.person_id)
            rows = await case_query.board(db, scope, f, req.now)
            area_names = await labels.area_labels(db, (c.area_id for c in rows))
            officer_ids = {p.id for p, _g, _a in await people.staff(
                db, None if scope.full is None else list(scope.full | scope.team))}
            names = await labels.person_names(db, officer_ids | {c.assignee_id for c in rows
                                                                 if c.assignee_id})
            return req.render(
                "cases.html", section="cases", f=f, rows=rows, area_names=area_names,
                names=names, cat_names=await labels.category_names(db, req.lang),
                officers=sorted(((i, names[i]) for i in officer_ids), key=lambda x: x[1]),
                filter_areas=await _filter_areas(db, req), statuses=case_query.STATUSES,
                ages=list(case_query.AGES), now=req.now, overdue=case_query.is_overdue,
                limit=case_query.LIMIT)

    @page(site, "cases")
    async def detail(req: Req) -> web.StreamResponse:
        ref = req.request.match_info["ref"]
        async with req.rt.deps.db.uow() as db:
            found = await _visible(db, req, ref)
            if found is None:
                return req.render("message.html", section="cases", status=404,
                                  key="console.case.not_found")
            case, can_act = found
            audit.record(db, "case.view", at=req.now, actor_id=req.person_id,
                         object_type="case", object_id=case.ref, via="console")
            thread = await cases.thread(db, case.id, staff=True)
            staff_names = await labels.person_names(db, (m.staff_id for m, _ in thread))
            colleagues = await case_actions.colleagues(db, case, exclude=case.assignee_id or 0)
            names = await labels.person_names(db, [*colleagues, case.assignee_id])
            named = await db.get(Person, case.reporter_id) \
                if case.reporter_id and not case.anonymous else None
            return req.render(
                "case.html", section="cases", case=case, can_act=can_act, thread=thread,
                staff_names=staff_names, colleagues=[(i, names[i]) for i in colleagues],
                assignee=names.get(case.assignee_id or 0, ""), named=named,
                where=await labels.chain_label(db, case.area_id),
                cat_names=await labels.category_names(db, req.lang),
                outcomes=cases.OUTCOMES, overdue=case_query.is_overdue(case, req.now),
                photo_url=lambda a: _photo_url(req, a), system_line=lambda b: _system(req, b))

    @page(site, "any")
    async def home(req: Req) -> web.StreamResponse:
        raise see_other(f"/console/{nav(req.roles)[0]}")

    app.router.add_get("/console/", home)
    app.router.add_get("/console", home)
    app.router.add_get("/console/cases", board)
    app.router.add_get("/console/cases/{ref}", detail)


def _photo_url(req: Req, att: Attachment) -> str:
    signer = req.rt.webchat.signer
    return signer.url(att.sha256, req.now, PHOTO_TTL) if signer is not None else ""


def _system(req: Req, body: str) -> str:
    """The case service's own log lines ("acknowledged", "closed: resolved: …") in words."""
    if body == "acknowledged":
        return req.t("console.case.sys_acknowledged")
    kind, _, rest = body.partition(": ")
    if kind == "closed":
        outcome, _, note = rest.partition(": ")
        name = req.t(f"outcome.{outcome}") if outcome in cases.OUTCOMES else outcome
        return req.t("console.case.sys_closed", outcome=name, note=note)
    return body
