"""Stay declarations: a host's places, submitting a declaration, ending or extending a
stay. ID and passport numbers reach the database only encrypted (FieldCipher), with a
keyed hash for "seen before" look-ups and a masked form for display."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.config import Config
from bot.services import arrival_notify, arrival_timers, audit, cases
from bot.services.arrival_deadline import Deadline, deadline, earliest
from storage.crypto import FieldCipher
from storage.tables import Arrival, Guest, Person, Place

PLACE_KINDS = ("household", "rental", "dormitory", "tourist", "medical", "other")
REASONS = ("family", "tourism", "work", "study", "medical", "renting", "other")
ID_CONTEXT = "guests.id"
VISA_CONTEXT = "guests.visa"
DRAFT_CONTEXT = "arrivals.draft"  # numbers inside an unfinished declaration


def seal(cipher: FieldCipher, plain: str, context: str) -> str:
    """Encrypt for a JSON field (drafts, visa numbers)."""
    return base64.b64encode(cipher.encrypt(plain, context)).decode("ascii")


def unseal(cipher: FieldCipher, sealed: str, context: str, key_id: str | None = None) -> str:
    blob = base64.b64decode(sealed)
    if key_id:
        return cipher.decrypt(blob, context, key_id)
    return cipher.decrypt_any(blob, context)[0]  # sealed values carry no key id


def local_today(now: datetime, tz: ZoneInfo) -> date:
    return now.astimezone(tz).date()


async def places_of(db: AsyncSession, host_id: int) -> list[Place]:
    stmt = select(Place).where(Place.host_id == host_id).order_by(Place.id.desc()).limit(5)
    return list((await db.execute(stmt)).scalars())


async def add_place(db: AsyncSession, *, host_id: int, area_id: int, kind: str, address: str,
                    now: datetime) -> Place:
    place = Place(host_id=host_id, area_id=area_id, kind=kind, address=address, created_at=now)
    db.add(place)
    await db.flush()
    return place


def guest_deadline(g: dict[str, Any], config: Config) -> Deadline:
    return deadline(datetime.fromisoformat(g["arrived"]), foreign=bool(g.get("foreign")),
                    tz=config.bot.tz, foreign_hours=config.arrivals.foreigner_hours)


def _guest(g: dict[str, Any], cipher: FieldCipher, dl: Deadline) -> Guest:
    number = unseal(cipher, g["id_enc"], DRAFT_CONTEXT)
    visa = None
    if g.get("foreign"):
        v = dict(g.get("visa") or {})
        if v.get("no_enc"):
            v["number"] = seal(cipher, unseal(cipher, v.pop("no_enc"), DRAFT_CONTEXT),
                               VISA_CONTEXT)
        visa = v
    return Guest(full_name=g["name"], birth_date=date.fromisoformat(g["dob"]),
                 gender=g["gender"], nationality=g.get("nat") or "VN",
                 id_kind="passport" if g.get("foreign") else "cccd",
                 id_cipher=cipher.encrypt(number, ID_CONTEXT), id_hash=g["id_hash"],
                 id_last=number[-2:], id_mask=g["id_mask"], key_id=cipher.key_id,
                 id_mismatch=bool(g.get("id_confirmed")), visa=visa,
                 phone=g.get("phone") or None, reason=g["reason"],
                 reason_note=g.get("reason_note") or None, room=g.get("room") or None,
                 stay_from=date.fromisoformat(g["from"]), stay_to=date.fromisoformat(g["to"]),
                 arrived_at=datetime.fromisoformat(g["arrived"]), deadline_at=dl.at)


def purge_after(guests: list[Guest], tz: ZoneInfo, days: int) -> datetime:
    """Midnight after the last stay ended (or is due to end), plus the retention."""
    def end(g: Guest) -> date:
        if g.ended_at is not None:
            return g.ended_at.astimezone(tz).date()
        return g.stay_to or g.stay_from
    last = max(end(g) for g in guests)
    return datetime.combine(last + timedelta(days=1 + days), datetime.min.time(), tz)


async def guests_of(db: AsyncSession, arrival_id: int) -> list[Guest]:
    stmt = select(Guest).where(Guest.arrival_id == arrival_id).order_by(Guest.id)
    return list((await db.execute(stmt)).scalars())


@dataclass(frozen=True)
class Submitted:
    arrival: Arrival
    place: Place
    guests: list[Guest]
    deadline: Deadline
    officers: list[int]
    heads: list[int]


async def submit(db: AsyncSession, *, config: Config, cipher: FieldCipher, host: Person,
                 draft: dict[str, Any], now: datetime) -> Submitted:
    """Store the declaration, notify the officer and village head, start the reminders."""
    place = await db.get(Place, draft["place_id"])
    if place is None or place.host_id != host.id:
        raise ValueError("the place is not the host's")
    dls = [guest_deadline(g, config) for g in draft["guests"]]
    due = earliest(dls)
    guests = [_guest(g, cipher, dl) for g, dl in zip(draft["guests"], dls, strict=True)]
    arrival = Arrival(ref=await cases.next_ref(db, "LT", now), host_id=host.id,
                      place_id=place.id, area_id=place.area_id, address=place.address,
                      submitted_at=now, deadline_at=due.at, on_time=now <= due.at,
                      purge_after=purge_after(guests, config.bot.tz,
                                              config.arrivals.retention_days))
    db.add(arrival)
    await db.flush()
    for g in guests:
        g.arrival_id = arrival.id
        db.add(g)
    await db.flush()
    for g in guests:
        await arrival_timers.schedule_stay(db, g, config.bot.tz)
    await arrival_timers.cancel_draft(db, host.id)
    officers, heads = await arrival_notify.notify_parties(db, arrival, place, guests, now,
                                                         config.bot.tz)
    audit.record(db, "arrival.submit", at=now, actor_id=host.id, object_type="arrival",
                 object_id=arrival.ref, guests=len(guests), on_time=arrival.on_time)
    return Submitted(arrival, place, guests, due, officers, heads)


async def end_stay(db: AsyncSession, guest: Guest, arrival: Arrival, *, config: Config,
                   actor_id: int, now: datetime) -> None:
    """The guest left (early or on time): reminders stop, the officer is told."""
    guest.ended_at = now
    await arrival_timers.cancel_stay(db, guest.id)
    arrival.purge_after = purge_after(await guests_of(db, arrival.id), config.bot.tz,
                                      config.arrivals.retention_days)
    await arrival_notify.tell_officers(db, arrival, guest, "ended", now, config.bot.tz)
    audit.record(db, "arrival.end", at=now, actor_id=actor_id, object_type="arrival",
                 object_id=arrival.ref, guest=guest.id)


async def extend_stay(db: AsyncSession, guest: Guest, arrival: Arrival, new_to: date, *,
                      config: Config, actor_id: int, now: datetime) -> None:
    """A later end date: reminders move, the officer is told."""
    guest.stay_to = new_to
    await arrival_timers.cancel_stay(db, guest.id)
    await arrival_timers.schedule_stay(db, guest, config.bot.tz)
    arrival.purge_after = purge_after(await guests_of(db, arrival.id), config.bot.tz,
                                      config.arrivals.retention_days)
    await arrival_notify.tell_officers(db, arrival, guest, "extended", now, config.bot.tz)
    audit.record(db, "arrival.extend", at=now, actor_id=actor_id, object_type="arrival",
                 object_id=arrival.ref, guest=guest.id)
