"""Case records: references, creation with the relay mapping, access checks, thread."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.messages import Inbound
from bot.services import categories
from storage import dialect
from storage.repos import areas
from storage.tables import Attachment, Case, CaseMessage, CaseRelay, Category, Counter

OPEN = ("new", "routed", "acknowledged")
OUTCOMES = ("resolved", "investigating", "not_actionable", "duplicate")
POLICE_ROLES = ("officer", "leader", "admin")  # may open every case of their areas


async def next_ref(db: AsyncSession, prefix: str, now: datetime) -> str:
    """``BY-26-000123``: a per-year sequence, safe under concurrent writers."""
    name = f"{prefix}-{now:%y}"
    stmt = dialect.insert(db, Counter).values(name=name, value=1)
    stmt = stmt.on_conflict_do_update(index_elements=["name"],
                                      set_={"value": Counter.value + 1})
    value = (await db.execute(stmt.returning(Counter.value))).scalar_one()
    return f"{name}-{value:06d}"


async def create(db: AsyncSession, *, kind: str, category: Category, area_id: int | None,
                 description: str, place: str | None, latitude: float | None,
                 longitude: float | None, occurred: str | None, anonymous: bool,
                 reporter_id: int | None, ev: Inbound, photos: list[tuple[str, str, int]],
                 now: datetime) -> Case:
    """Store the case, its first message, photos and the relay mapping (kept apart)."""
    case = Case(ref=await next_ref(db, "BY", now), kind=kind, category_code=category.code,
                area_id=area_id, description=description, place_text=place,
                latitude=latitude, longitude=longitude, occurred=occurred, anonymous=anonymous,
                reporter_id=reporter_id, status="new", channel=ev.channel, created_at=now,
                ack_due_at=now + timedelta(minutes=category.ack_minutes),
                close_due_at=now + timedelta(days=category.close_days))
    db.add(case)
    await db.flush()
    db.add(CaseRelay(case_id=case.id, person_id=reporter_id, channel=ev.channel,
                     chat_id=ev.chat_id))
    msg = CaseMessage(case_id=case.id, author="reporter", body=description, created_at=now)
    db.add(msg)
    await db.flush()
    for sha, mime, size in photos:
        db.add(Attachment(case_id=case.id, message_id=msg.id, owner_id=reporter_id, sha256=sha,
                          mime=mime, size=size, created_at=now))
    await db.flush()
    return case


async def relay_of(db: AsyncSession, case_id: int) -> CaseRelay | None:
    return (await db.execute(select(CaseRelay).where(CaseRelay.case_id == case_id,
                                                     CaseRelay.ended_at.is_(None))
                             )).scalar_one_or_none()


async def thread(db: AsyncSession, case_id: int, *, staff: bool
                 ) -> list[tuple[CaseMessage, list[Attachment]]]:
    stmt = select(CaseMessage).where(CaseMessage.case_id == case_id).order_by(CaseMessage.id)
    if not staff:
        stmt = stmt.where(CaseMessage.author != "note")
    msgs = list((await db.execute(stmt)).scalars())
    atts = (await db.execute(select(Attachment).where(Attachment.case_id == case_id))
            ).scalars().all()
    return [(m, [a for a in atts if a.message_id == m.id]) for m in msgs]


async def add_message(db: AsyncSession, case: Case, *, author: str, body: str, now: datetime,
                      staff_id: int | None = None, photo: tuple[str, str, int] | None = None,
                      owner_id: int | None = None) -> CaseMessage:
    msg = CaseMessage(case_id=case.id, author=author, body=body, staff_id=staff_id,
                      created_at=now)
    db.add(msg)
    await db.flush()
    if photo is not None:
        db.add(Attachment(case_id=case.id, message_id=msg.id, owner_id=owner_id,
                          sha256=photo[0], mime=photo[1], size=photo[2], created_at=now))
        await db.flush()
    return msg


async def can_handle(db: AsyncSession, case: Case, roles: list[tuple[str, int]],
                     person_id: int, team_visible: bool) -> bool:
    """Officers, leaders and admins of the case's area (or above); team only its categories."""
    if case.assignee_id == person_id:
        return True
    if case.area_id is None:
        return any(r == "admin" for r, _ in roles)
    area = await areas.by_id(db, case.area_id)
    if area is None:
        return False
    chain = {a.id for a in await areas.ancestors(db, area)}
    for role, area_id in roles:
        if area_id not in chain:
            continue
        if role in POLICE_ROLES or (role == "team" and team_visible):
            return True
    return False


async def openable_for(db: AsyncSession, roles: list[tuple[str, int]], person_id: int
                       ) -> list[Case]:
    """Open cases the person may open (the rules of :func:`can_handle`), oldest first:
    those assigned to them; every case in the areas (and below) of their officer, leader
    and admin roles; in those of a "3 in 1" team role only the team's categories (never a
    privacy request); cases without an area for admins. A village head's role shows none.
    """
    police = await areas.descendant_ids(db, [a for r, a in roles if r in POLICE_ROLES])
    team = await areas.descendant_ids(db, [a for r, a in roles if r == "team"]) - police
    allowed = Case.assignee_id == person_id
    if police:
        allowed = allowed | Case.area_id.in_(police)
    if team:
        codes = [c.code for c in await categories.for_area(db, None) if c.team_visible]
        allowed = allowed | (Case.area_id.in_(team) & Case.category_code.in_(codes)
                             & (Case.kind != "privacy"))
    if any(r == "admin" for r, _ in roles):
        allowed = allowed | Case.area_id.is_(None)
    stmt = select(Case).where(Case.status.in_(OPEN), allowed).order_by(Case.created_at,
                                                                      Case.id)
    return list((await db.execute(stmt)).scalars())


async def open_for(db: AsyncSession, area_ids: set[int], person_id: int) -> list[Case]:
    """Open cases in the areas or assigned to the person, oldest first (for leaders and
    admins, who may open all of them; staff lists use :func:`openable_for`)."""
    stmt = select(Case).where(Case.status.in_(OPEN)).where(
        Case.area_id.in_(area_ids) | (Case.assignee_id == person_id)).order_by(Case.created_at)
    return list((await db.execute(stmt)).scalars())


async def by_ref(db: AsyncSession, ref: str) -> Case | None:
    return (await db.execute(select(Case).where(Case.ref == ref))).scalar_one_or_none()
