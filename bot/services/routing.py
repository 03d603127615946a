"""Who handles a tip: rules per (area, category), most specific area first.

Order: a rule for this category on the area, its commune, its province; then an area
default rule (no category) at the same levels; then the officers invited for those areas
(an officer with no explicit rule handles every category there); then leaders. Each
answer names a backup so a tip never sits with someone on leave.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from storage.repos import areas
from storage.tables import Area, RoleGrant, RoutingRule

TEAM_ROLES = ("team",)


@dataclass(frozen=True)
class Target:
    officer_id: int | None
    backup_id: int | None
    group_chat_id: int | None
    reason: str  # "rule", "default", "officer", "leader", "none"


async def _rule(db: AsyncSession, area_id: int, category: str | None) -> RoutingRule | None:
    stmt = select(RoutingRule).where(RoutingRule.area_id == area_id)
    stmt = stmt.where(RoutingRule.category_code.is_(None) if category is None
                      else RoutingRule.category_code == category)
    return (await db.execute(stmt)).scalar_one_or_none()


async def staff_on(db: AsyncSession, area_ids: list[int], roles: tuple[str, ...]
                   ) -> list[int]:
    """Person ids holding one of ``roles`` on the areas, in the areas' order (duty shifts
    matter to SOS only: see bot.services.duty)."""
    stmt = select(RoleGrant.person_id, RoleGrant.area_id).where(
        RoleGrant.area_id.in_(area_ids), RoleGrant.role.in_(roles),
        RoleGrant.revoked_at.is_(None)).order_by(RoleGrant.id)
    rows = (await db.execute(stmt)).all()
    out: list[int] = []
    for area_id in area_ids:
        for pid, a in rows:
            if a == area_id and pid not in out:
                out.append(pid)
    return out


async def resolve(db: AsyncSession, area: Area, category: str,
                  team_visible: bool = False) -> Target:
    chain = await areas.ancestors(db, area)
    ids = [a.id for a in chain]
    # Every candidate rule in one query (up to six otherwise), then the precedence here.
    stmt = select(RoutingRule).where(
        RoutingRule.area_id.in_(ids),
        or_(RoutingRule.category_code == category, RoutingRule.category_code.is_(None)))
    found = {(r.area_id, r.category_code): r for r in (await db.execute(stmt)).scalars()}
    for cat, reason in ((category, "rule"), (None, "default")):
        for a in chain:
            rule = found.get((a.id, cat))
            if rule is not None and (rule.officer_id or rule.group_chat_id):
                return Target(rule.officer_id, rule.backup_id, rule.group_chat_id, reason)
    roles = ("officer", *TEAM_ROLES) if team_visible else ("officer",)
    officers = await staff_on(db, ids, roles)
    if officers:
        return Target(officers[0], officers[1] if len(officers) > 1 else None, None, "officer")
    leaders = await staff_on(db, ids, ("leader", "admin"))
    if leaders:
        return Target(leaders[0], leaders[1] if len(leaders) > 1 else None, None, "leader")
    return Target(None, None, None, "none")


async def set_rule(db: AsyncSession, *, area: Area, category: str | None, officer_id: int | None,
                   backup_id: int | None, group_chat_id: int | None, actor_id: int | None,
                   actor_label: str, at: datetime) -> RoutingRule:
    rule = await _rule(db, area.id, category)
    if rule is None:
        rule = RoutingRule(area_id=area.id, category_code=category)
        db.add(rule)
    rule.officer_id, rule.backup_id, rule.group_chat_id = officer_id, backup_id, group_chat_id
    rule.created_by = actor_id
    await db.flush()
    audit.record(db, "rule.set", at=at, actor_id=actor_id, actor_label=actor_label,
                 object_type="rule", object_id=rule.id, area=area.code,
                 category=category or "*", officer=officer_id, backup=backup_id,
                 group=group_chat_id)
    return rule


async def remove_rule(db: AsyncSession, *, area: Area, category: str | None,
                      actor_id: int | None, actor_label: str, at: datetime) -> bool:
    rule = await _rule(db, area.id, category)
    if rule is None:
        return False
    await db.delete(rule)
    audit.record(db, "rule.remove", at=at, actor_id=actor_id, actor_label=actor_label,
                 object_type="rule", object_id=rule.id, area=area.code, category=category or "*")
    return True


async def list_rules(db: AsyncSession, area_ids: list[int] | None = None
                     ) -> list[tuple[RoutingRule, Area]]:
    stmt = select(RoutingRule, Area).join(Area, Area.id == RoutingRule.area_id).order_by(
        Area.code, RoutingRule.category_code)
    if area_ids is not None:
        stmt = stmt.where(RoutingRule.area_id.in_(area_ids))
    return [(r, a) for r, a in (await db.execute(stmt)).all()]
