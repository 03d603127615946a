"""Staff and invitations (admins): the same operations as ``binhyen invite`` and
``binhyen staff list|revoke``, through the same services."""

from __future__ import annotations

from datetime import timedelta

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit, console_auth, invites
from bot.web.console import labels
from bot.web.console.guard import page
from bot.web.console.site import Req, Site, see_other
from storage.repos import people
from storage.tables import Invite, Person

INVITE_DAYS = (1, 3, 7, 14)


async def _page(req: Req, db: AsyncSession, new_invite: dict[str, str] | None = None,
                error: str = "") -> web.Response:
    staff = await people.staff(db)
    recent = list((await db.execute(select(Invite).order_by(Invite.id.desc()).limit(20)
                                    )).scalars())
    names = await labels.area_labels(db, {i.area_id for i in recent})
    return req.render("people.html", section="people", staff=staff, invites=recent,
                      invite_areas=names, roles=invites.ROLES, days=INVITE_DAYS,
                      new_invite=new_invite, error=error, now=req.now)


def add_routes(app: web.Application, site: Site) -> None:
    @page(site, "people")
    async def listing(req: Req) -> web.StreamResponse:
        async with req.rt.deps.db.read() as db:
            return await _page(req, db)

    @page(site, "people")
    async def invite(req: Req) -> web.StreamResponse:
        f = req.form
        days = int(f["days"]) if f.get("days", "").isdigit() and int(f["days"]) in \
            INVITE_DAYS else 7
        try:
            async with req.rt.deps.db.uow() as db:
                new = await invites.create(db, role=f.get("role", ""),
                                           area_code=f.get("area", "").strip(),
                                           name=f.get("name", "").strip()[:200] or None,
                                           valid_for=timedelta(days=days), now=req.now,
                                           actor=f"console:{req.person_id}")
        except ValueError as exc:
            async with req.rt.deps.db.read() as db:
                return await _page(req, db, error=str(exc))
        payload = f"{invites.PREFIX}{new.token}"
        links = req.rt.deps.links
        shown = {"telegram": links.telegram_start(payload), "web": links.web_start(payload),
                 "code": f"/start {payload}", "role": new.role, "area": new.area.code}
        async with req.rt.deps.db.read() as db:
            return await _page(req, db, new_invite=shown)

    @page(site, "people")
    async def revoke(req: Req) -> web.StreamResponse:
        pid = req.request.match_info["person"]
        async with req.rt.deps.db.uow() as db:
            person = await db.get(Person, int(pid)) if pid.isdigit() else None
            if person is None:
                raise web.HTTPNotFound()
            n = await people.revoke_all(db, person.id, req.now)
            audit.record(db, "role.revoke", at=req.now, actor_id=req.person_id,
                         object_type="person", object_id=person.id, grants=n)
            await console_auth.end_sessions(db, person.id, req.now)
        raise see_other("/console/people", done="revoked")

    app.router.add_get("/console/people", listing)
    app.router.add_post("/console/people/invite", invite)
    app.router.add_post("/console/people/{person}/revoke", revoke)
