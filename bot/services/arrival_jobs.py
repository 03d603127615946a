"""Daily jobs for declarations: the officers' list of guests in their areas, and the
purge of declarations kept past ``[arrivals] retention_days`` after the stay ended."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Config
from bot.domain.messages import Choice, Reply
from bot.i18n import t
from bot.services import arrival_query, arrival_timers, audit, notify
from bot.services.arrivals import local_today
from storage.tables import Arrival, Delivery, Guest, RoleGrant, Timer

log = logging.getLogger(__name__)
MAX_LOGGED_REFS = 200


async def digest(db: AsyncSession, config: Config, now: datetime) -> int:
    """One message per officer with anything to see; returns how many were queued."""
    today = local_today(now, config.bot.tz)
    grants = (await db.execute(select(RoleGrant.person_id, RoleGrant.role, RoleGrant.area_id)
                               .where(RoleGrant.role.in_(arrival_query.FULL_ROLES),
                                      RoleGrant.revoked_at.is_(None)))).all()
    by_person: dict[int, list[tuple[str, int]]] = {}
    for pid, role, area_id in grants:
        by_person.setdefault(pid, []).append((role, area_id))
    sent = 0
    for pid, roles in by_person.items():
        scope = await arrival_query.scope_of(db, roles)
        present = await arrival_query.current(db, scope.full, today)
        counts = {s: sum(r.status == s for r in present) for s in ("arriving", "staying",
                                                                   "overdue")}
        new = await _count(db, Arrival.area_id.in_(scope.full),
                           Arrival.submitted_at >= now - timedelta(days=1))
        waiting = await _count(db, Arrival.area_id.in_(scope.full),
                               Arrival.acknowledged_at.is_(None),
                               Arrival.submitted_at >= now - timedelta(days=7))
        if not (new or waiting or present):
            continue
        lang = await notify.language_of(db, pid)
        text = t(lang, "arrival.digest", date=f"{today:%d/%m/%Y}", new=new, waiting=waiting,
                 **counts)
        reply = Reply(text=text, choices=((Choice(t(lang, "arrival.officer.open_list"),
                                                  "!go:luutru"),),))
        sent += await notify.to_person(db, pid, reply, kind="arr_digest",
                                       key=f"arrdigest:{today}:{pid}", at=now) > 0
    return sent


async def _count(db: AsyncSession, *where: object) -> int:
    stmt = select(func.count()).select_from(Arrival).where(*where)  # type: ignore[arg-type]
    return int((await db.execute(stmt)).scalar_one())


async def purge(db: AsyncSession, now: datetime) -> int:
    """Delete declarations past their ``purge_after`` with their guests, reminders and
    notification rows; logs the count and references (never names or numbers)."""
    due = (await db.execute(select(Arrival.id, Arrival.ref)
                            .where(Arrival.purge_after <= now).order_by(Arrival.id))).all()
    if not due:
        return 0
    ids = [i for i, _ in due]
    refs = [r for _, r in due]
    guest_ids = [str(g) for g in (await db.execute(
        select(Guest.id).where(Guest.arrival_id.in_(ids)))).scalars()]
    await db.execute(delete(Timer).where(
        Timer.kind.in_((arrival_timers.STAY_END, arrival_timers.STAY_30)),
        Timer.ref.in_(guest_ids)))
    for arrival_id in ids:
        await db.execute(delete(Delivery).where(Delivery.dedupe_key.like(f"arr:{arrival_id}:%")))
    await db.execute(delete(Guest).where(Guest.arrival_id.in_(ids)))
    await db.execute(delete(Arrival).where(Arrival.id.in_(ids)))
    audit.record(db, "arrival.purge", at=now, actor_label="scheduler", object_type="arrival",
                 count=len(ids), guests=len(guest_ids), refs=refs[:MAX_LOGGED_REFS])
    log.info("declarations purged: %d (%d guests): %s", len(ids), len(guest_ids),
             ", ".join(refs[:MAX_LOGGED_REFS]))
    return len(ids)
