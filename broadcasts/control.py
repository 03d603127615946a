"""Running notices can be paused, resumed and cancelled (chat, CLI).

Pausing holds the notice's unsent delivery rows (state ``held``: the dispatcher never
claims them) and stops new occurrences; resuming releases them; cancelling drops them.
Messages already claimed by a worker at that moment still go out (at most one claim).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit
from broadcasts import compose
from storage import dialect
from storage.repos import areas as area_repo
from storage.tables import Broadcast, Delivery, Person

ACTIVE = ("pending", "scheduled", "paused")


class NotAllowed(ValueError):
    """The notice is not in a state (or not in a place) for this."""


async def _move(db: AsyncSession, bc: Broadcast, old: tuple[str, ...], new: str) -> int:
    return dialect.rowcount(await db.execute(update(Delivery).where(
        Delivery.broadcast_id == bc.id, Delivery.state.in_(old)).values(state=new)))


async def pause(db: AsyncSession, bc: Broadcast, now: datetime, actor_id: int | None,
                actor_label: str = "chat") -> int:
    if bc.status != "scheduled":
        raise NotAllowed(bc.status)
    bc.status, bc.updated_at = "paused", now
    n = await _move(db, bc, ("pending",), "held")
    audit.record(db, "broadcast.pause", at=now, actor_id=actor_id, actor_label=actor_label,
                 object_type="broadcast", object_id=bc.id, held=n)
    return n


async def resume(db: AsyncSession, bc: Broadcast, now: datetime, actor_id: int | None,
                 actor_label: str = "chat") -> int:
    if bc.status != "paused":
        raise NotAllowed(bc.status)
    bc.status, bc.updated_at = "scheduled", now
    # Whoever withdrew consent or was erased meanwhile does not get it.
    gone = select(Person.id).where(or_(Person.erased_at.is_not(None), Person.consent.is_(False)))
    await db.execute(update(Delivery).where(
        Delivery.broadcast_id == bc.id, Delivery.state == "held",
        Delivery.person_id.in_(gone)).values(state="cancelled"))
    n = await _move(db, bc, ("held",), "pending")
    audit.record(db, "broadcast.resume", at=now, actor_id=actor_id, actor_label=actor_label,
                 object_type="broadcast", object_id=bc.id, released=n)
    return n


async def cancel(db: AsyncSession, bc: Broadcast, now: datetime, actor_id: int | None,
                 actor_label: str = "chat") -> int:
    if bc.status not in ACTIVE:
        raise NotAllowed(bc.status)
    bc.status, bc.next_due_at, bc.updated_at = "cancelled", None, now
    n = await _move(db, bc, ("pending", "held"), "cancelled")
    audit.record(db, "broadcast.cancel", at=now, actor_id=actor_id, actor_label=actor_label,
                 object_type="broadcast", object_id=bc.id, dropped=n)
    return n


async def visible(db: AsyncSession, roles: compose.Roles, limit: int = 15) -> list[Broadcast]:
    """Notices of the staff member's units and the units below them, newest first."""
    scope = await compose.jurisdiction(db, roles)
    stmt = (select(Broadcast).where(Broadcast.area_id.in_(scope))
            .order_by(Broadcast.id.desc()).limit(limit))
    return list((await db.execute(stmt)).scalars())


async def may_manage(db: AsyncSession, bc: Broadcast, person_id: int,
                     roles: compose.Roles) -> bool:
    """The author, or a leader or admin of the notice's unit (or above)."""
    if bc.author_id == person_id:
        return True
    if bc.area_id is None:
        return False
    area = await area_repo.by_id(db, bc.area_id)
    above = {a.id for a in await area_repo.ancestors(db, area)} if area else set()
    return any(r in ("leader", "admin") and a in above for r, a in roles)
