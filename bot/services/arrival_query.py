"""Who may see which declarations, and the lists they see.

A host sees only their own guests; an officer, leader or admin every declaration in their
areas (with the ID number on request); a village head only their village, masked.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from storage.repos import areas
from storage.tables import Arrival, Guest

FULL_ROLES = ("officer", "leader", "admin")
HEAD_ROLES = ("village_head",)


@dataclass(frozen=True)
class Scope:
    full: frozenset[int]  # area ids with full access
    masked: frozenset[int]  # area ids seen as village head

    @property
    def all(self) -> frozenset[int]:
        return self.full | self.masked


async def scope_of(db: AsyncSession, roles: list[tuple[str, int]] | None) -> Scope:
    full = [a for r, a in roles or () if r in FULL_ROLES]
    heads = [a for r, a in roles or () if r in HEAD_ROLES]
    full_ids = await areas.descendant_ids(db, full) if full else set()
    head_ids = await areas.descendant_ids(db, heads) if heads else set()
    return Scope(frozenset(full_ids), frozenset(head_ids - full_ids))


async def access(db: AsyncSession, arrival: Arrival, roles: list[tuple[str, int]] | None,
                 person_id: int | None) -> str:
    """"full", "masked", "host" (the declaring host) or "" (no access)."""
    scope = await scope_of(db, roles)
    if arrival.area_id in scope.full:
        return "full"
    if arrival.area_id in scope.masked:
        return "masked"
    return "host" if person_id is not None and arrival.host_id == person_id else ""


@dataclass(frozen=True)
class Row:
    guest: Guest
    arrival: Arrival
    status: str  # arriving | staying | overdue


def status_of(g: Guest, today: date) -> str:
    if g.stay_from >= today:
        return "arriving"
    return "overdue" if g.stay_to is not None and g.stay_to < today else "staying"


async def current(db: AsyncSession, area_ids: frozenset[int] | set[int], today: date,
                  village_id: int | None = None) -> list[Row]:
    """Guests present (arriving today, staying, or overdue to leave), oldest first."""
    stmt = (select(Guest, Arrival).join(Arrival, Arrival.id == Guest.arrival_id)
            .where(Arrival.area_id.in_(area_ids), Guest.ended_at.is_(None),
                   Guest.stay_from <= today)
            .order_by(Guest.stay_from, Guest.id))
    if village_id is not None:
        stmt = stmt.where(Arrival.area_id == village_id)
    return [Row(g, a, status_of(g, today)) for g, a in (await db.execute(stmt)).all()]


async def host_guests(db: AsyncSession, host_id: int, today: date
                      ) -> tuple[list[Row], list[Guest]]:
    """The host's present guests, and earlier guests once each (by keyed hash)."""
    stmt = (select(Guest, Arrival).join(Arrival, Arrival.id == Guest.arrival_id)
            .where(Arrival.host_id == host_id).order_by(Guest.id.desc()))
    present: list[Row] = []
    past: list[Guest] = []
    seen: set[str] = set()
    for g, a in (await db.execute(stmt)).all():
        staying = g.ended_at is None and (g.stay_to is None or g.stay_to >= today)
        if staying:
            present.append(Row(g, a, status_of(g, today)))
        elif g.id_hash not in seen:
            past.append(g)
        seen.add(g.id_hash)
    present_hashes = {r.guest.id_hash for r in present}
    return present[::-1], [g for g in past if g.id_hash not in present_hashes]


async def own_guest(db: AsyncSession, guest_id: str, host_id: int
                    ) -> tuple[Guest, Arrival] | None:
    """The guest and its declaration if ``host_id`` declared it."""
    if not guest_id.isdigit():
        return None
    guest = await db.get(Guest, int(guest_id))
    arrival = await db.get(Arrival, guest.arrival_id) if guest else None
    if guest is None or arrival is None or arrival.host_id != host_id:
        return None
    return guest, arrival


async def seen_before(db: AsyncSession, id_hash: str, area_ids: frozenset[int],
                      before_arrival: int) -> int:
    """Earlier declarations of the same person in these areas (keyed-hash match)."""
    stmt = (select(func.count()).select_from(Guest).join(Arrival, Arrival.id == Guest.arrival_id)
            .where(Guest.id_hash == id_hash, Arrival.area_id.in_(area_ids),
                   Arrival.id < before_arrival))
    return int((await db.execute(stmt)).scalar_one())
