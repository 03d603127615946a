"""The leaders' daily digest of overdue open cases in their areas."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.messages import Choice, Reply
from bot.i18n import t
from bot.services import cases, notify
from storage.repos import areas
from storage.tables import Case, RoleGrant


def overdue(case: Case, now: datetime) -> bool:
    late_ack = case.acknowledged_at is None and case.ack_due_at is not None \
        and case.ack_due_at < now
    late_close = case.close_due_at is not None and case.close_due_at < now
    return late_ack or late_close


async def send_daily(db: AsyncSession, now: datetime, tz_date: str) -> int:
    """Queue one digest per leader with overdue cases; returns how many were queued."""
    grants = (await db.execute(select(RoleGrant).where(
        RoleGrant.role.in_(("leader", "admin")), RoleGrant.revoked_at.is_(None)))).scalars().all()
    by_person: dict[int, set[int]] = {}
    for g in grants:
        by_person.setdefault(g.person_id, set()).add(g.area_id)
    sent = 0
    for person_id, area_ids in by_person.items():
        scope = await areas.descendant_ids(db, area_ids)
        late = [c for c in await cases.open_for(db, scope, person_id) if overdue(c, now)]
        if not late:
            continue
        lang = await notify.language_of(db, person_id)
        rows = tuple((Choice(f"⏰ {c.ref} · {c.category_code}", f"!case:{c.id}"),)
                     for c in late[:20])
        reply = Reply(text=t(lang, "digest.title", n=len(late), date=tz_date), choices=rows)
        sent += await notify.to_person(db, person_id, reply, kind="digest",
                                       key=f"digest:{tz_date}:{person_id}", at=now) > 0
    return sent
