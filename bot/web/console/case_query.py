"""The case board's filters (area, category, status, age, officer) as one SQL query."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.cases import OPEN
from bot.web.console.scope import CaseScope
from storage.repos import areas
from storage.tables import Case

STATUSES = ("open", "new", "routed", "acknowledged", "closed", "all")
AGES = {"lt1d": (None, timedelta(days=1)), "1to3d": (timedelta(days=1), timedelta(days=3)),
        "3to7d": (timedelta(days=3), timedelta(days=7)), "gt7d": (timedelta(days=7), None)}
LIMIT = 200


@dataclass(frozen=True)
class Filters:
    area: str = ""  # area id
    category: str = ""
    status: str = "open"
    age: str = ""
    officer: str = ""  # person id, or "none" for unassigned
    overdue: bool = False

    @classmethod
    def parse(cls, q: dict[str, str]) -> Filters:
        status = q.get("status", "open")
        return cls(area=q.get("area", "") if q.get("area", "").isdigit() else "",
                   category=q.get("category", "")[:16],
                   status=status if status in STATUSES else "open",
                   age=q.get("age", "") if q.get("age", "") in AGES else "",
                   officer=q.get("officer", "") if q.get("officer", "").isdigit()
                   or q.get("officer") == "none" else "",
                   overdue=q.get("overdue", "") == "1")


def overdue_clause(now: datetime):  # type: ignore[no-untyped-def]
    """Open and past a deadline: not acknowledged in time, or not closed in time."""
    return and_(Case.status.in_(OPEN), or_(
        and_(Case.acknowledged_at.is_(None), Case.ack_due_at < now), Case.close_due_at < now))


def is_overdue(case: Case, now: datetime) -> bool:
    if case.status not in OPEN:
        return False
    late_ack = case.acknowledged_at is None and case.ack_due_at is not None \
        and case.ack_due_at < now
    return late_ack or (case.close_due_at is not None and case.close_due_at < now)


async def board(db: AsyncSession, scope: CaseScope, f: Filters, now: datetime) -> list[Case]:
    stmt = select(Case).where(scope.where())
    if f.area:
        stmt = stmt.where(Case.area_id.in_(await areas.descendant_ids(db, [int(f.area)])))
    if f.category:
        stmt = stmt.where(Case.category_code == f.category)
    if f.status == "open":
        stmt = stmt.where(Case.status.in_(OPEN))
    elif f.status != "all":
        stmt = stmt.where(Case.status == f.status)
    if f.age:
        older, younger = AGES[f.age]
        if older is not None:
            stmt = stmt.where(Case.created_at <= now - older)
        if younger is not None:
            stmt = stmt.where(Case.created_at > now - younger)
    if f.officer == "none":
        stmt = stmt.where(Case.assignee_id.is_(None))
    elif f.officer:
        stmt = stmt.where(Case.assignee_id == int(f.officer))
    if f.overdue:
        stmt = stmt.where(overdue_clause(now))
    order = Case.created_at.asc() if f.status in ("open", "new", "routed", "acknowledged") \
        else Case.created_at.desc()
    return list((await db.execute(stmt.order_by(order, Case.id).limit(LIMIT))).scalars())
