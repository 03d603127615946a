"""Areas (admins): villages and street groups, routing rules, linked group chats — the same
operations as ``binhyen areas add`` and ``binhyen rules set|remove`` and the chat's /link,
through the same services."""

from __future__ import annotations

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import areas as areas_svc
from bot.services import groups, routing, waiting
from bot.web.console import labels
from bot.web.console.guard import page
from bot.web.console.site import Req, Site, see_other
from storage.repos import areas, people
from storage.tables import Area, GroupChat

STAFF_ROLES = ("officer", "leader", "admin", "team")


async def _page(req: Req, db: AsyncSession, error: str = "") -> web.Response:
    villages = (await db.execute(select(Area).where(Area.level == "village")
                                 .order_by(Area.code).limit(500))).scalars().all()
    communes = await labels.area_labels(db, {v.parent_id for v in villages})
    rules = await routing.list_rules(db)
    names = await labels.person_names(db, [x for r, _ in rules
                                           for x in (r.officer_id, r.backup_id)])
    chats = list((await db.execute(select(GroupChat).order_by(GroupChat.id))).scalars())
    chat_areas = await labels.area_labels(db, {g.area_id for g in chats})
    return req.render("areas.html", section="areas", villages=villages, communes=communes,
                      rules=rules, names=names, chats=chats, chat_areas=chat_areas,
                      categories=await labels.category_names(db, req.lang), error=error,
                      village_types=areas_svc.VILLAGE_TYPES)


async def _staff_on(db: AsyncSession, person: str, area: Area) -> int | None:
    """The person id if they hold a staff role on, above or below the area (as the CLI)."""
    if not person.isdigit():
        return None
    related = {a.id for a in await areas.ancestors(db, area)}
    related |= await areas.descendant_ids(db, [area.id])
    roles = await people.active_roles(db, int(person))
    return int(person) if any(r in STAFF_ROLES and a in related for r, a in roles) else None


def add_routes(app: web.Application, site: Site) -> None:
    @page(site, "areas")
    async def listing(req: Req) -> web.StreamResponse:
        async with req.rt.deps.db.read() as db:
            return await _page(req, db)

    async def _fail(req: Req, message: str) -> web.Response:
        async with req.rt.deps.db.read() as db:
            return await _page(req, db, error=message)

    @page(site, "areas")
    async def add_village(req: Req) -> web.StreamResponse:
        f = req.form
        try:
            async with req.rt.deps.db.uow() as db:
                await areas_svc.add_village(db, parent_code=f.get("parent", "").strip(),
                                            name=f.get("name", ""), type_=f.get("type") or None,
                                            at=req.now, actor=f"console:{req.person_id}")
        except ValueError as exc:
            return await _fail(req, str(exc))
        raise see_other("/console/areas", done="village_added")

    @page(site, "areas")
    async def set_rule(req: Req) -> web.StreamResponse:
        f = req.form
        async with req.rt.deps.db.uow() as db:
            area = await areas.by_code(db, f.get("area", "").strip())
            if area is None:
                return await _fail(req, req.t("console.areas.no_area"))
            category = f.get("category") or None
            officer = await _staff_on(db, f.get("officer", ""), area)
            backup = await _staff_on(db, f.get("backup", ""), area) if f.get("backup") else None
            group = f.get("group", "")
            chat = await db.get(GroupChat, int(group)) if group.isdigit() else None
            if (officer is None and chat is None) or (backup is not None and backup == officer) \
                    or (f.get("backup") and backup is None):
                return await _fail(req, req.t("console.areas.bad_rule"))
            await routing.set_rule(db, area=area, category=category, officer_id=officer,
                                   backup_id=backup, group_chat_id=chat.id if chat else None,
                                   actor_id=req.person_id, actor_label="console", at=req.now)
            routed = await waiting.route_waiting(db, area, req.now, trigger="rule.set")
        if routed:
            req.rt.deps.wake()
        raise see_other("/console/areas", done="rule_set")

    @page(site, "areas")
    async def remove_rule(req: Req) -> web.StreamResponse:
        async with req.rt.deps.db.uow() as db:
            area = await areas.by_code(db, req.form.get("area", ""))
            if area is not None:
                await routing.remove_rule(db, area=area, category=req.form.get("category") or None,
                                          actor_id=req.person_id, actor_label="console",
                                          at=req.now)
        raise see_other("/console/areas", done="rule_removed")

    @page(site, "areas")
    async def link_group(req: Req) -> web.StreamResponse:
        gid = req.request.match_info["group"]
        async with req.rt.deps.db.uow() as db:
            chat = await db.get(GroupChat, int(gid)) if gid.isdigit() else None
            area = await areas.by_code(db, req.form.get("area", "").strip())
            if chat is None or area is None:
                return await _fail(req, req.t("console.areas.no_area"))
            await groups.link(db, chat, area.id, req.person_id, req.now)
        raise see_other("/console/areas", done="group_linked")

    app.router.add_get("/console/areas", listing)
    app.router.add_post("/console/areas/villages", add_village)
    app.router.add_post("/console/areas/rules", set_rule)
    app.router.add_post("/console/areas/rules/remove", remove_rule)
    app.router.add_post("/console/areas/groups/{group}/link", link_group)
