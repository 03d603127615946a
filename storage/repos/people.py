"""People, their channel identities and role grants. Never commits."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.tables import Area, Identity, Person, RoleGrant


async def by_identity(session: AsyncSession, channel: str, user_id: str) -> Person | None:
    stmt = (select(Person).join(Identity, Identity.person_id == Person.id)
            .where(Identity.channel == channel, Identity.user_id == user_id,
                   Person.erased_at.is_(None)))
    return (await session.execute(stmt)).scalar_one_or_none()


# Built once: the engine runs it for every update (see storage/repos/conversations.py).
_WITH_ROLES = (
    select(Person, Identity.reachable, RoleGrant.role, RoleGrant.area_id)
    .join(Identity, Identity.person_id == Person.id)
    .outerjoin(RoleGrant, and_(RoleGrant.person_id == Person.id, RoleGrant.revoked_at.is_(None)))
    .where(Identity.channel == bindparam("channel"), Identity.user_id == bindparam("user_id"),
           Person.erased_at.is_(None))
    .order_by(RoleGrant.id))


async def with_roles(session: AsyncSession, channel: str, user_id: str
                     ) -> tuple[Person | None, list[tuple[str, int]], bool]:
    """The person behind a channel identity, their active roles, and whether the identity
    is marked reachable, in one query."""
    rows = (await session.execute(_WITH_ROLES, {"channel": channel, "user_id": user_id})).all()
    if not rows:
        return None, [], True
    return rows[0][0], [(r, a) for _, _, r, a in rows if r is not None], bool(rows[0][1])


async def mark_reachable(session: AsyncSession, channel: str, user_id: str) -> None:
    """The account wrote to the bot: its chat works again (a 403 had marked it)."""
    await session.execute(update(Identity).where(Identity.channel == channel,
                                                 Identity.user_id == user_id)
                          .values(reachable=True))


async def identity(session: AsyncSession, channel: str, user_id: str) -> Identity | None:
    stmt = select(Identity).where(Identity.channel == channel, Identity.user_id == user_id)
    return (await session.execute(stmt)).scalar_one_or_none()


async def identities_of(session: AsyncSession, person_id: int) -> list[Identity]:
    stmt = select(Identity).where(Identity.person_id == person_id).order_by(Identity.id)
    return list((await session.execute(stmt)).scalars())


async def add_person(session: AsyncSession, *, channel: str, user_id: str, chat_id: str,
                     language: str, username: str | None = None,
                     display_name: str | None = None) -> Person:
    person = Person(language=language, display_name=display_name)
    session.add(person)
    await session.flush()
    session.add(Identity(person_id=person.id, channel=channel, user_id=user_id,
                         chat_id=chat_id, username=username))
    await session.flush()
    return person


async def active_roles(session: AsyncSession, person_id: int) -> list[tuple[str, int]]:
    stmt = select(RoleGrant.role, RoleGrant.area_id).where(
        RoleGrant.person_id == person_id, RoleGrant.revoked_at.is_(None)).order_by(RoleGrant.id)
    return [(r, a) for r, a in (await session.execute(stmt)).all()]


async def grant(session: AsyncSession, person_id: int, role: str, area_id: int,
                granted_by: int | None = None) -> RoleGrant:
    g = RoleGrant(person_id=person_id, role=role, area_id=area_id, granted_by=granted_by)
    session.add(g)
    await session.flush()
    return g


async def revoke_all(session: AsyncSession, person_id: int, at: datetime) -> int:
    grants = (await session.execute(select(RoleGrant).where(
        RoleGrant.person_id == person_id, RoleGrant.revoked_at.is_(None)))).scalars().all()
    for g in grants:
        g.revoked_at = at
    return len(grants)


async def staff(session: AsyncSession, area_ids: list[int] | None = None
                ) -> list[tuple[Person, RoleGrant, Area]]:
    stmt = (select(Person, RoleGrant, Area).join(RoleGrant, RoleGrant.person_id == Person.id)
            .join(Area, Area.id == RoleGrant.area_id).where(RoleGrant.revoked_at.is_(None))
            .order_by(Area.code, RoleGrant.role, Person.id))
    if area_ids is not None:
        stmt = stmt.where(RoleGrant.area_id.in_(area_ids))
    return [(p, g, a) for p, g, a in (await session.execute(stmt)).all()]
