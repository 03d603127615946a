"""Duty shifts and who an SOS reaches.

Police staff (officers, leaders, admins) go on and off duty with /truc; the flag lives on
each of their role grants and is set on all of them at once. An SOS goes to the on-duty
officers of the most specific level of the case's area that has any (village → commune →
province, as routing looks), else to every officer of the nearest level that has one, else
to the nearest level's leaders and admins — so it never reaches nobody while anyone can
be reached. Only people with a reachable account count: an alert to nobody's chat is no
alert.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from storage.repos import areas
from storage.tables import Area, Identity, RoleGrant

DUTY_ROLES = ("officer", "leader", "admin")
_REACHABLE = exists().where(Identity.person_id == RoleGrant.person_id,
                            Identity.reachable.is_(True))


def _active(person_id: int) -> tuple[ColumnElement[bool], ...]:
    return (RoleGrant.person_id == person_id, RoleGrant.revoked_at.is_(None),
            RoleGrant.role.in_(DUTY_ROLES))


async def state(db: AsyncSession, person_id: int) -> bool | None:
    """True on duty, False off duty, None when the person holds no police role."""
    flags = (await db.execute(select(RoleGrant.on_duty).where(*_active(person_id))
                              )).scalars().all()
    return any(flags) if flags else None


async def set_state(db: AsyncSession, person_id: int, on: bool, now: datetime) -> bool:
    """Put the person on or off duty on every police grant; True when anything changed."""
    grants = (await db.execute(select(RoleGrant).where(*_active(person_id)))).scalars().all()
    changed = [g for g in grants if g.on_duty is not on]
    for g in changed:
        g.on_duty = on
    if changed:
        audit.record(db, "staff.duty", at=now, actor_id=person_id, object_type="person",
                     object_id=person_id, on_duty=on)
    return bool(changed)


async def areas_left_uncovered(db: AsyncSession, person_id: int) -> list[Area]:
    """The person's officer areas where no other reachable officer is on duty now."""
    mine = (await db.execute(select(RoleGrant.area_id).where(
        RoleGrant.person_id == person_id, RoleGrant.revoked_at.is_(None),
        RoleGrant.role == "officer"))).scalars().all()
    out: list[Area] = []
    for area_id in dict.fromkeys(mine):
        covered = (await db.execute(select(RoleGrant.id).where(
            RoleGrant.area_id == area_id, RoleGrant.role == "officer",
            RoleGrant.revoked_at.is_(None), RoleGrant.on_duty.is_(True),
            RoleGrant.person_id != person_id, _REACHABLE).limit(1))).first()
        area = await areas.by_id(db, area_id)
        if covered is None and area is not None:
            out.append(area)
    return out


async def sos_recipients(db: AsyncSession, area: Area) -> list[int]:
    """Who an SOS in ``area`` alerts (see the module docstring), earliest grant first."""
    chain = [a.id for a in await areas.ancestors(db, area)]
    rows = (await db.execute(select(RoleGrant.person_id, RoleGrant.area_id, RoleGrant.role,
                                    RoleGrant.on_duty).where(
        RoleGrant.area_id.in_(chain), RoleGrant.role.in_(DUTY_ROLES),
        RoleGrant.revoked_at.is_(None), _REACHABLE).order_by(RoleGrant.id))).all()
    tiers = ((("officer",), True), (("officer",), False), (("leader", "admin"), False))
    for roles, duty_only in tiers:
        for area_id in chain:
            ids = [pid for pid, a, role, on in rows
                   if a == area_id and role in roles and (on or not duty_only)]
            if ids:
                return list(dict.fromkeys(ids))
    return []
