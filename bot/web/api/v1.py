"""The read-only JSON API under /api/v1: aggregates, areas, categories and broadcasts, with
no personal data. The contract is :mod:`bot.web.api.openapi`."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import statistics as st
from bot.services import statistics_reach as reach
from bot.web.api.access import Buckets, error, keyed, ok
from bot.web.api.openapi import document
from bot.web.console import labels
from bot.web.console.site import runtime
from bot.web.console.stats_data import TABLES, table
from storage.repos import areas
from storage.tables import Area, Broadcast

MAX_DAYS = 366


class BadParam(Exception):
    """A query parameter the API cannot serve: ``status`` is 400 (malformed) or 404."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def _days(request: web.Request, default: int = 30) -> int:
    raw = request.query.get("days", str(default))
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_DAYS:
        raise BadParam(f"days must be a whole number from 1 to {MAX_DAYS}")
    return int(raw)


async def _scope(db: AsyncSession, request: web.Request) -> tuple[set[int] | None, str | None]:
    code = request.query.get("area")
    if code is None:
        return None, None
    area = await areas.by_code(db, code)
    if area is None:
        raise BadParam(f"no area with code {code!r}", 404)
    return await areas.descendant_ids(db, [area.id]), area.code


def _area(a: Area, parent: str | None) -> dict[str, Any]:
    return {"code": a.code, "name": a.name, "type": a.type, "level": a.level,
            "parent": parent}


async def _tables(request: web.Request, names: tuple[str, ...]
                  ) -> tuple[dict[str, Any], dict[str, st.Table]]:
    """The period's metadata and the named tables (area ids replaced by area codes)."""
    rt = runtime(request)
    days = _days(request)
    async with rt.deps.db.read() as db:
        scope, code = await _scope(db, request)
        period = st.Period.last_days(days, rt.deps.clock(), rt.deps.config.bot.tz)
        meta: dict[str, Any] = {"area": code, "days": days, "start": period.start.isoformat(),
                                "end": period.end.isoformat()}
        tables = {n: await table(db, n, scope, period) for n in names}
        if "tips_per_area" in tables:
            tb = tables["tips_per_area"]
            codes = dict((await db.execute(select(Area.id, Area.code).where(
                Area.id.in_([r[0] for r in tb.rows if r[0] is not None])))).all())
            tb.columns[0] = "area"
            tb.rows = [[codes.get(a), n] for a, n in tb.rows]
    return meta, tables


def _summary(meta: dict[str, Any], tb: dict[str, st.Table]) -> dict[str, Any]:
    times = tb["response_times"].as_dicts()
    every = times[0]
    ratings = {str(r[0]): r[1] for r in tb["ratings"].rows}
    rated = sum(ratings.values())
    return meta | {
        "received": every["received"], "acknowledged": every["acknowledged"],
        "closed": every["closed"],
        "ack_minutes": {"median": every["ack_median_min"], "p90": every["ack_p90_min"]},
        "close_hours": {"median": every["close_median_h"], "p90": every["close_p90_h"]},
        "by_category": [{"code": r["category"], "received": r["received"],
                         "acknowledged": r["acknowledged"], "closed": r["closed"]}
                        for r in times[1:]],
        "outcomes": {str(o or "none"): n for o, n in tb["outcomes"].rows},
        "ratings": ratings,
        "rating_average": round(sum(int(k) * v for k, v in ratings.items()) / rated, 2)
        if rated else None}


def add_routes(app: web.Application, buckets: Buckets) -> None:
    guard = keyed(buckets)

    def safe(fn: Any) -> Any:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                return await fn(request)
            except BadParam as exc:
                return error(exc.status, str(exc))
        return guard(wrapped)

    async def openapi(request: web.Request) -> web.StreamResponse:
        base = runtime(request).deps.links.web_url
        return web.json_response(document(base), headers={"Access-Control-Allow-Origin": "*"})

    async def get_areas(request: web.Request) -> web.StreamResponse:
        rt = runtime(request)
        parent_code = request.query.get("parent")
        async with rt.deps.db.read() as db:
            if parent_code is None:
                rows, parent = await areas.by_level(db, "province"), None
            else:
                parent_area = await areas.by_code(db, parent_code)
                if parent_area is None:
                    raise BadParam(f"no area with code {parent_code!r}", 404)
                rows, parent = await areas.children(db, parent_area.id), parent_area.code
        return ok([_area(a, parent) for a in rows])

    async def get_categories(request: web.Request) -> web.StreamResponse:
        async with runtime(request).deps.db.read() as db:
            cats = await labels.category_list(db)
        return ok([{"code": c.code, "name_vi": c.name_vi, "name_en": c.name_en,
                    "ack_minutes": c.ack_minutes, "close_days": c.close_days,
                    "emergency": c.emergency} for c in cats])

    async def summary(request: web.Request) -> web.StreamResponse:
        meta, tables = await _tables(request, ("response_times", "outcomes", "ratings"))
        return ok(_summary(meta, tables))

    async def statistics(request: web.Request) -> web.StreamResponse:
        meta, tables = await _tables(request, TABLES)
        return ok(meta | {"tables": {n: {"columns": tb.columns, "rows": tb.rows}
                                     for n, tb in tables.items()}})

    async def get_broadcasts(request: web.Request) -> web.StreamResponse:
        rt = runtime(request)
        days = _days(request)
        period = st.Period.last_days(days, rt.deps.clock(), rt.deps.config.bot.tz)
        async with rt.deps.db.read() as db:
            counts = {r[0]: r for r in (await reach.broadcast_reach(db, None, period)).rows}
            rows = (await db.execute(select(Broadcast).where(
                Broadcast.created_at >= period.start).order_by(Broadcast.id.desc())
                .limit(500))).scalars().all()
        return ok([_broadcast(b, counts.get(b.id)) for b in rows])

    app.router.add_get("/api/v1/openapi.json", openapi)
    app.router.add_get("/api/v1/areas", safe(get_areas))
    app.router.add_get("/api/v1/categories", safe(get_categories))
    app.router.add_get("/api/v1/cases/summary", safe(summary))
    app.router.add_get("/api/v1/statistics", safe(statistics))
    app.router.add_get("/api/v1/broadcasts", safe(get_broadcasts))


def _broadcast(b: Broadcast, c: list[Any] | None) -> dict[str, Any]:
    """A notice's counts; its text only when it was published (as in the CAP feed)."""
    recipients, sent, failed, unreachable = (c[2], c[3], c[4], c[5]) if c else (0, 0, 0, 0)
    return {"id": b.id, "topic": b.topic, "template": b.template, "status": b.status,
            "urgent": b.urgent, "created_at": b.created_at.isoformat(),
            "published": b.publishable, "recipients": recipients, "delivered": sent,
            "failed": failed, "unreachable": unreachable,
            "text_vi": b.body_vi if b.publishable else None,
            "text_en": (b.body_en or None) if b.publishable else None}
