"""Staff invitations: single use, expiring, stored only as a hash of the token."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import audit, waiting
from storage.repos import areas, people
from storage.tables import Area, Invite, Person

ROLES = ("officer", "leader", "village_head", "admin", "team")
PREFIX = "inv_"


class InviteError(Exception):
    """``reason`` is a catalogue key: invite.invalid or invite.expired."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class NewInvite:
    token: str  # shown once; only its hash is stored
    role: str
    area: Area
    expires_at: datetime


async def create(db: AsyncSession, *, role: str, area_code: str, name: str | None,
                 valid_for: timedelta, now: datetime, actor: str = "cli") -> NewInvite:
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} (one of {', '.join(ROLES)})")
    area = await areas.by_code(db, area_code)
    if area is None:
        raise ValueError(f"no area with code {area_code!r} (import it with `binhyen areas import`)")
    token = secrets.token_urlsafe(24)  # 32 characters: fits Telegram's 64-char start payload
    inv = Invite(token_hash=_hash(token), role=role, area_id=area.id, name=name,
                 expires_at=now + valid_for)
    db.add(inv)
    await db.flush()
    audit.record(db, "invite.create", at=now, actor_label=actor, object_type="invite",
                 object_id=inv.id, role=role, area=area.code)
    return NewInvite(token, role, area, inv.expires_at)


async def lookup(db: AsyncSession, token: str, now: datetime) -> tuple[Invite, Area]:
    """The invite behind ``token`` if it can still be used."""
    inv = (await db.execute(select(Invite).where(Invite.token_hash == _hash(token))
                            )).scalar_one_or_none()
    if inv is None or inv.used_at is not None:
        raise InviteError("invite.invalid")
    if inv.expires_at <= now:
        raise InviteError("invite.expired")
    area = await areas.by_id(db, inv.area_id)
    assert area is not None
    return inv, area


class Redeemed(NamedTuple):
    role: str
    area: Area
    routed: int  # waiting cases of the area passed on to the new staff member


async def redeem(db: AsyncSession, token: str, person: Person, now: datetime) -> Redeemed:
    """Use the invite once and grant its role to ``person``; the area's cases that waited
    for someone (no officer until now) are routed at once."""
    inv, area = await lookup(db, token, now)
    inv.used_at, inv.used_by = now, person.id
    if inv.name and not person.display_name:
        person.display_name = inv.name
    await people.grant(db, person.id, inv.role, area.id)
    audit.record(db, "role.grant", at=now, actor_id=person.id, object_type="invite",
                 object_id=inv.id, role=inv.role, area=area.code)
    routed = await waiting.route_waiting(db, area, now, trigger="role.grant")
    return Redeemed(inv.role, area, len(routed))
