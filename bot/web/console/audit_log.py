"""The audit log (admins): who saw or changed what, filterable, newest first."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

from aiohttp import web
from sqlalchemy import select

from bot.web.console import labels
from bot.web.console.guard import page
from bot.web.console.site import Req, Site
from storage.tables import AuditEntry

PER_PAGE = 100


def _day(text: str, tz: object) -> datetime | None:
    try:
        return datetime.combine(date.fromisoformat(text), time(0), tz).astimezone(UTC)  # type: ignore[arg-type]
    except ValueError:
        return None


def add_routes(app: web.Application, site: Site) -> None:
    @page(site, "audit")
    async def listing(req: Req) -> web.StreamResponse:
        tz = req.config.bot.tz
        action, actor, obj = req.q("action"), req.q("actor"), req.q("object")
        start, end = _day(req.q("from"), tz), _day(req.q("to"), tz)
        page_no = int(req.q("page")) if req.q("page").isdigit() else 1
        stmt = select(AuditEntry)
        if action:
            stmt = stmt.where(AuditEntry.action.startswith(action, autoescape=True))
        if actor.isdigit():
            stmt = stmt.where(AuditEntry.actor_id == int(actor))
        elif actor:
            stmt = stmt.where(AuditEntry.actor_label.startswith(actor, autoescape=True))
        if obj:
            kind, _, ident = obj.partition(":")
            stmt = stmt.where(AuditEntry.object_type == kind)
            if ident:
                stmt = stmt.where(AuditEntry.object_id == ident)
        if start is not None:
            stmt = stmt.where(AuditEntry.at >= start)
        if end is not None:
            stmt = stmt.where(AuditEntry.at < end + timedelta(days=1))
        stmt = stmt.order_by(AuditEntry.id.desc()).offset((page_no - 1) * PER_PAGE)
        async with req.rt.deps.db.read() as db:
            rows = list((await db.execute(stmt.limit(PER_PAGE + 1))).scalars())
            actions = list((await db.execute(select(AuditEntry.action).distinct()
                                             .order_by(AuditEntry.action))).scalars())
            names = await labels.person_names(db, (r.actor_id for r in rows))
        query = {k: req.q(k) for k in ("action", "actor", "object", "from", "to") if req.q(k)}
        return req.render("audit.html", section="audit", rows=rows[:PER_PAGE], names=names,
                          actions=actions, query=query, page_no=page_no,
                          more=len(rows) > PER_PAGE)

    app.router.add_get("/console/audit", listing)
