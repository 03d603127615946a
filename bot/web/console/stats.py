"""The statistics page: each chart (SVG drawn on the server) with its numbers and a CSV."""

from __future__ import annotations

from aiohttp import web

from bot.services.statistics import Period, Table
from bot.web.console import stats_data
from bot.web.console.guard import page
from bot.web.console.scope import area_scope, scope_areas
from bot.web.console.site import Req, Site
from storage.repos import areas

SVG_HEADERS = {"Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'",
               "Cache-Control": "private, max-age=60", "X-Content-Type-Options": "nosniff"}


def _days(req: Req) -> int:
    value = req.q("days", "7")
    return int(value) if value.isdigit() and int(value) in stats_data.DAYS else 7


async def _tables(req: Req, names: list[str]) -> tuple[list[Table], stats_data.Labels]:
    period = Period.last_days(_days(req), req.now, req.config.bot.tz)
    async with req.rt.deps.db.read() as db:
        scope = await stats_data.scoped(db, await area_scope(db, req.roles, "stats"),
                                        req.q("area"))
        tables = [await stats_data.table(db, n, scope, period) for n in names]
        return tables, await stats_data.make_labels(db, req.lang, tables)


def add_routes(app: web.Application, site: Site) -> None:
    @page(site, "stats")
    async def overview(req: Req) -> web.StreamResponse:
        tables, lb = await _tables(req, list(stats_data.TABLES))
        async with req.rt.deps.db.read() as db:
            own = await area_scope(db, req.roles, "stats")
            if own is None:
                own = await areas.descendant_ids(db, [a for _, a in req.roles])
            filter_areas = await scope_areas(db, own)
        query = f"days={_days(req)}" + (f"&area={req.q('area')}" if req.q("area") else "")
        return req.render("stats.html", section="stats", tables={tb.name: tb for tb in tables},
                          lb=lb, charts=stats_data.CHARTS, days=_days(req),
                          day_options=stats_data.DAYS, area=req.q("area"),
                          filter_areas=filter_areas, query=query)

    @page(site, "stats")
    async def chart(req: Req) -> web.StreamResponse:
        name = req.request.match_info["name"]
        if name not in stats_data.CHARTS:
            raise web.HTTPNotFound()
        tables, lb = await _tables(req, [stats_data.CHARTS[name]])
        return web.Response(body=stats_data.svg(name, tables[0], lb),
                            content_type="image/svg+xml", headers=SVG_HEADERS)

    @page(site, "stats")
    async def csv(req: Req) -> web.StreamResponse:
        name = req.request.match_info["name"]
        if name not in stats_data.TABLES:
            raise web.HTTPNotFound()
        tables, _ = await _tables(req, [name])
        filename = f"{name}-{_days(req)}d.csv"
        return web.Response(body=tables[0].to_csv(), content_type="text/csv", charset="utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{filename}"',
                                     "Cache-Control": "no-store"})

    app.router.add_get("/console/stats", overview)
    app.router.add_get("/console/stats/{name}.svg", chart)
    app.router.add_get("/console/stats/{name}.csv", csv)
