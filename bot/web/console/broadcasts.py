"""Broadcasts: the notices of the staff member's units, and one notice with its controls,
its text, and its delivery report (delivered, failed by reason, unreachable, rate)."""

from __future__ import annotations

import pygal
from aiohttp import web
from sqlalchemy import select

from bot.domain.messages import to_plain
from bot.services import open_data
from bot.web.console import broadcast_report, labels
from bot.web.console.broadcast_forms import may_publish
from bot.web.console.charts import _config
from bot.web.console.guard import page
from bot.web.console.site import Req, Site
from bot.web.console.stats import SVG_HEADERS
from broadcasts import compose, control, review, schedule, templates
from storage.tables import Broadcast

LIST_LIMIT = 100


def add_routes(app: web.Application, site: Site) -> None:
    @page(site, "broadcasts")
    async def listing(req: Req) -> web.StreamResponse:
        async with req.rt.deps.db.read() as db:
            if req.is_admin:
                rows = list((await db.execute(select(Broadcast).order_by(
                    Broadcast.id.desc()).limit(LIST_LIMIT))).scalars())
            else:
                rows = await control.visible(db, req.roles, limit=LIST_LIMIT)
            names = await labels.person_names(db, (b.author_id for b in rows))
            areas = await labels.area_labels(db, (b.area_id for b in rows))
        return req.render("broadcasts.html", section="broadcasts", rows=rows, names=names,
                          areas=areas, library=templates.library(),
                          may_compose=compose.may_compose(req.roles))

    async def _load(req: Req) -> Broadcast:
        """The notice, if it belongs to the viewer's units (admins: any)."""
        bid = req.request.match_info["id"]
        async with req.rt.deps.db.read() as db:
            b = await db.get(Broadcast, int(bid)) if bid.isdigit() else None
            mine = b is not None and (req.is_admin or b.author_id == req.person_id or (
                b.area_id is not None and b.area_id in await compose.jurisdiction(db, req.roles)))
        if b is None or not mine:
            raise web.HTTPNotFound()
        return b

    @page(site, "broadcasts")
    async def detail(req: Req) -> web.StreamResponse:
        b = await _load(req)
        async with req.rt.deps.db.read() as db:
            rep = await broadcast_report.report(db, b.id, req.config.bot.tz)
            names = await labels.person_names(db, [b.author_id, b.approved_by])
            text = to_plain(await open_data.notice_text(db, b, req.lang, req.config))
            draft = compose.draft_of(b, req.config)
            targets = await labels.area_labels(db, draft.areas)
            can = {"review": b.status == "pending" and await review.may_review(
                       db, b, req.person_id, req.roles),
                   "manage": await control.may_manage(db, b, req.person_id, req.roles),
                   "publish": await may_publish(db, req, b)}
        return req.render("broadcast.html", section="broadcasts", b=b, rep=rep, names=names,
                          text=text, draft=draft, targets=targets, can=can,
                          when=schedule.describe(draft.schedule, req.lang),
                          library=templates.library())

    @page(site, "broadcasts")
    async def rate_svg(req: Req) -> web.StreamResponse:
        b = await _load(req)
        async with req.rt.deps.db.read() as db:
            rep = await broadcast_report.report(db, b.id, req.config.bot.tz)
        chart = pygal.Bar(**_config(req.t("console.bc.rate"), show_legend=False))
        chart.x_labels = [row[0][11:] for row in rep.rate.rows]
        chart.add(req.t("console.bc.sent_per_minute"), [row[1] for row in rep.rate.rows])
        return web.Response(body=bytes(chart.render()), content_type="image/svg+xml",
                            headers=SVG_HEADERS)

    @page(site, "broadcasts")
    async def rate_csv(req: Req) -> web.StreamResponse:
        b = await _load(req)
        async with req.rt.deps.db.read() as db:
            rep = await broadcast_report.report(db, b.id, req.config.bot.tz)
        return web.Response(body=rep.rate.to_csv(), content_type="text/csv", charset="utf-8",
                            headers={"Content-Disposition":
                                     f'attachment; filename="broadcast-{b.id}-rate.csv"'})

    app.router.add_get("/console/broadcasts", listing)
    app.router.add_get("/console/broadcasts/{id}", detail)
    app.router.add_get("/console/broadcasts/{id}/rate.svg", rate_svg)
    app.router.add_get("/console/broadcasts/{id}/rate.csv", rate_csv)
