"""Guests staying now, by village, with masked ID numbers; showing a number is an explicit,
audited POST; acknowledge a declaration; export CSV/XLSX through the declarations
feature's own export service (audited there)."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import quote

from aiohttp import web
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import arrival_export, arrival_notify, arrival_query, arrivals, audit
from bot.web.console import labels
from bot.web.console.guard import page
from bot.web.console.site import Req, Site, see_other
from storage.repos import areas
from storage.tables import Arrival, Guest

EXPORT_DAYS = 30


async def _page(req: Req, db: AsyncSession, revealed: dict[int, str] | None = None
                ) -> web.Response:
    scope = await arrival_query.scope_of(db, req.roles)
    today = arrivals.local_today(req.now, req.config.bot.tz)
    village = req.q("village")
    rows = await arrival_query.current(db, scope.all, today)
    names = await labels.area_labels(db, {r.arrival.area_id for r in rows})
    shown = [r for r in rows if not village or str(r.arrival.area_id) == village]
    by_area: dict[int, list[arrival_query.Row]] = {}
    for r in shown:
        by_area.setdefault(r.arrival.area_id, []).append(r)
    export_areas = await labels.area_labels(db, [a for r, a in req.roles
                                                 if r in arrival_query.FULL_ROLES])
    return req.render(
        "arrivals.html", section="arrivals", by_area=by_area, names=names, today=today,
        village=village, full=scope.full, revealed=revealed or {}, export_areas=export_areas,
        formats=arrival_export.FORMATS, start=today - timedelta(days=EXPORT_DAYS))


async def _full_guest(db: AsyncSession, req: Req, guest_id: str
                      ) -> tuple[Guest, Arrival] | None:
    guest = await db.get(Guest, int(guest_id)) if guest_id.isdigit() else None
    arrival = await db.get(Arrival, guest.arrival_id) if guest else None
    if guest is None or arrival is None or await arrival_query.access(
            db, arrival, req.roles, req.person_id) != "full":
        return None
    return guest, arrival


def add_routes(app: web.Application, site: Site) -> None:
    @page(site, "arrivals")
    async def listing(req: Req) -> web.StreamResponse:
        async with req.rt.deps.db.read() as db:
            return await _page(req, db)

    @page(site, "arrivals")
    async def reveal(req: Req) -> web.StreamResponse:
        """The full ID number of one guest, for an officer of the area; audited as in chat."""
        async with req.rt.deps.db.uow() as db:
            found = await _full_guest(db, req, req.request.match_info["guest"])
            if found is None:
                return req.render("message.html", section="arrivals", status=403,
                                  key="console.auth.forbidden")
            guest, arrival = found
            number = req.rt.deps.cipher.decrypt(guest.id_cipher, arrivals.ID_CONTEXT,
                                                guest.key_id)
            audit.record(db, "arrival.show_id", at=req.now, actor_id=req.person_id,
                         object_type="guest", object_id=guest.id, ref=arrival.ref,
                         via="console")
            return await _page(req, db, {guest.id: number})

    @page(site, "arrivals")
    async def ack(req: Req) -> web.StreamResponse:
        async with req.rt.deps.db.uow() as db:
            arrival = await db.get(Arrival, int(req.request.match_info["arrival"])) \
                if req.request.match_info["arrival"].isdigit() else None
            if arrival is None or await arrival_query.access(
                    db, arrival, req.roles, req.person_id) != "full":
                return req.render("message.html", section="arrivals", status=403,
                                  key="console.auth.forbidden")
            done = await arrival_notify.acknowledge(db, arrival, req.person_id, req.now)
        req.rt.deps.wake()
        raise see_other("/console/arrivals", done="arr_acked" if done else "arr_already")

    @page(site, "arrivals")
    async def export(req: Req) -> web.StreamResponse:
        f = req.form
        try:
            start, end = date.fromisoformat(f.get("start", "")), date.fromisoformat(
                f.get("end", ""))
        except ValueError:
            raise see_other("/console/arrivals", done="bad_dates") from None
        async with req.rt.deps.db.uow() as db:
            scope = await arrival_query.scope_of(db, req.roles)
            area = await areas.by_id(db, int(f["area"])) if f.get("area", "").isdigit() else None
            if area is None or area.id not in scope.full or f.get("fmt") not in \
                    arrival_export.FORMATS or end < start:
                return req.render("message.html", section="arrivals", status=403,
                                  key="console.auth.forbidden")
            out = await arrival_export.export(
                db, req.rt.deps.cipher, req.config.bot.tz, area=area, start=start, end=end,
                fmt=f["fmt"], now=req.now, actor_id=req.person_id, actor_label="console")
        mime = "text/csv" if f["fmt"] == "csv" else \
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
        return web.Response(body=out.data, headers={
            "Content-Type": mime, "Cache-Control": "no-store",
            "Content-Disposition": f"attachment; filename*=UTF-8''{quote(out.name)}"})

    app.router.add_get("/console/arrivals", listing)
    app.router.add_post("/console/arrivals/guests/{guest}/reveal", reveal)
    app.router.add_post("/console/arrivals/{arrival}/ack", ack)
    app.router.add_post("/console/arrivals/export", export)
