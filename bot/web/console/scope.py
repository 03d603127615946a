"""What a staff member may see in the console: the same roles and areas as in chat.

An officer, leader or "3 in 1" team member sees the areas of their grants and everything
below them; a village head only their village; an admin everything. Each page names the
roles that open it.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.repos import areas
from storage.tables import Case, Category

PAGES: dict[str, tuple[str, ...]] = {
    "cases": ("officer", "leader", "admin", "team"),
    "arrivals": ("officer", "leader", "admin", "village_head"),
    "broadcasts": ("officer", "leader", "admin"),
    "stats": ("officer", "leader", "admin", "village_head"),
    "people": ("admin",),
    "areas": ("admin",),
    "audit": ("admin",),
}
NAV = ("cases", "arrivals", "broadcasts", "stats", "people", "areas", "audit")
CASE_ROLES = ("officer", "leader", "admin")


def allowed(roles: list[tuple[str, int]], page: str) -> bool:
    return any(r in PAGES[page] for r, _ in roles)


def nav(roles: list[tuple[str, int]]) -> list[str]:
    return [p for p in NAV if allowed(roles, p)]


def is_admin(roles: list[tuple[str, int]]) -> bool:
    return any(r == "admin" for r, _ in roles)


async def area_scope(db: AsyncSession, roles: list[tuple[str, int]], page: str
                     ) -> set[int] | None:
    """Area ids the page may show (``None``: all, for admins)."""
    if is_admin(roles):
        return None
    grant_areas = [a for r, a in roles if r in PAGES[page]]
    return await areas.descendant_ids(db, grant_areas) if grant_areas else set()


@dataclass(frozen=True)
class CaseScope:
    """Cases a person may see: their full areas, the team's categories in team areas, and
    whatever is assigned to them."""

    person_id: int
    full: set[int] | None
    team: set[int]
    team_codes: frozenset[str]

    def where(self) -> ColumnElement[bool]:
        if self.full is None:
            return Case.id.is_not(None)
        parts = [Case.assignee_id == self.person_id]
        if self.full:
            parts.append(Case.area_id.in_(self.full))
        if self.team and self.team_codes:
            parts.append(and_(Case.area_id.in_(self.team),
                              Case.category_code.in_(self.team_codes)))
        return or_(false(), *parts)


async def case_scope(db: AsyncSession, roles: list[tuple[str, int]], person_id: int
                     ) -> CaseScope:
    if is_admin(roles):
        return CaseScope(person_id, None, set(), frozenset())
    full = await areas.descendant_ids(db, [a for r, a in roles if r in CASE_ROLES])
    team = await areas.descendant_ids(db, [a for r, a in roles if r == "team"])
    codes = frozenset((await db.execute(select(Category.code).where(
        Category.team_visible.is_(True)))).scalars()) if team else frozenset()
    return CaseScope(person_id, full, team - full, codes)


async def scope_areas(db: AsyncSession, scope: set[int] | None, *, levels: tuple[str, ...] = (
        "commune", "village")) -> list[tuple[int, str]]:
    """(id, label) of the areas a filter may offer, communes first then their villages."""
    from storage.tables import Area
    stmt = select(Area).where(Area.level.in_(levels)).order_by(Area.code)
    if scope is not None:
        stmt = stmt.where(Area.id.in_(scope))
    rows = list((await db.execute(stmt.limit(500))).scalars())
    return [(a.id, f"{a.code} · {areas.label(a)}") for a in rows]
