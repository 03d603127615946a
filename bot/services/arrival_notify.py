"""Who hears of a declaration and what they read: the area officer (as for tips: the
officer role on the place's village or commune) and the village head, as delivery rows.
ID numbers appear masked in every one of these messages."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.messages import Choice, Reply, esc
from bot.i18n import t
from bot.services import audit, notify, routing
from broadcasts.outbox import PRIORITY_CASE, PRIORITY_STATUS
from storage.repos import areas
from storage.tables import Arrival, Guest, Person, Place


def reason_text(g: Guest, lang: str) -> str:
    text = t(lang, f"arrival.reason.{g.reason or 'other'}")
    return f"{text}: {g.reason_note}" if g.reason_note else text


def guest_line(g: Guest, lang: str, number: str | None = None) -> str:
    """One guest in one line; ``number`` (the plain ID) only in the officer's detail view."""
    kind = t(lang, f"arrival.id_kind.{g.id_kind}")
    born = f"{g.birth_date:%d/%m/%Y}" if g.birth_date else "—"
    parts = [f"<b>{esc(g.full_name)}</b> — {born}, {t(lang, f'arrival.gender.{g.gender}')}",
             f"{kind} <code>{esc(number or g.id_mask)}</code>"
             + (" ⚠️" if g.id_mismatch else "")]
    if g.id_kind == "passport":
        parts.append(g.nationality)
    parts.append(reason_text(g, lang))
    until = f"{g.stay_to:%d/%m/%Y}" if g.stay_to else "?"
    parts.append(f"{g.stay_from:%d/%m/%Y} → {until}")
    if g.room:
        parts.append(t(lang, "arrival.room_short", room=esc(g.room)))
    if g.ended_at is not None:
        parts.append(t(lang, "arrival.ended_mark"))
    return " · ".join(parts)


async def where(db: AsyncSession, area_id: int) -> str:
    area = await areas.by_id(db, area_id)
    chain = await areas.ancestors(db, area) if area else []
    return ", ".join(areas.label(a) for a in chain[:2])


def deadline_text(arrival: Arrival, lang: str, tz: ZoneInfo) -> str:
    due = f"{arrival.deadline_at.astimezone(tz):%H:%M %d/%m/%Y}"
    return t(lang, "arrival.on_time" if arrival.on_time else "arrival.late", due=due)


async def summary(db: AsyncSession, arrival: Arrival, place: Place | None, guests: list[Guest],
                  lang: str, tz: ZoneInfo, heading: str) -> str:
    host = await db.get(Person, arrival.host_id) if arrival.host_id else None
    kind = t(lang, f"arrival.place_kind.{place.kind}") if place else "—"
    lines = [f"{heading} · <b>{arrival.ref}</b>",
             t(lang, "arrival.place_line", kind=kind, address=esc(arrival.address),
               area=esc(await where(db, arrival.area_id))),
             t(lang, "arrival.host_line", name=esc(host.display_name or "—") if host else "—",
               phone=esc(host.phone or "—") if host else "—"),
             deadline_text(arrival, lang, tz)]
    lines += [f"{i}. {guest_line(g, lang)}" for i, g in enumerate(guests, 1)]
    if arrival.acknowledged_at is not None:
        lines.append(t(lang, "arrival.acked_mark"))
    return "\n".join(lines)


def officer_buttons(arrival: Arrival, lang: str) -> tuple[tuple[Choice, ...], ...]:
    return ((Choice(t(lang, "arrival.officer.ack"), f"!arr_ack:{arrival.id}"),
             Choice(t(lang, "arrival.officer.open"), f"!arr:{arrival.id}")),)


async def officers_for(db: AsyncSession, area_id: int) -> list[int]:
    """Officers of the most specific level (village, then commune); else leaders."""
    area = await areas.by_id(db, area_id)
    chain = await areas.ancestors(db, area) if area else []
    for level in (a for a in chain if a.level in ("village", "commune")):
        found = await routing.staff_on(db, [level.id], ("officer",))
        if found:
            return found
    return (await routing.staff_on(db, [a.id for a in chain], ("leader", "admin")))[:2]


async def notify_parties(db: AsyncSession, arrival: Arrival, place: Place, guests: list[Guest],
                         now: datetime, tz: ZoneInfo) -> tuple[list[int], list[int]]:
    """Queue the officer's and the village head's notices; returns (officers, heads)."""
    officers = await officers_for(db, arrival.area_id)
    heads = await routing.staff_on(db, [arrival.area_id], ("village_head",))
    for pid, kind in [(p, "arr_notify") for p in officers] + [(p, "arr_head") for p in heads]:
        lang = await notify.language_of(db, pid)
        text = await summary(db, arrival, place, guests, lang, tz,
                             t(lang, "arrival.officer.new" if kind == "arr_notify"
                               else "arrival.head.new"))
        buttons = officer_buttons(arrival, lang) if kind == "arr_notify" else ()
        await notify.to_person(db, pid, Reply(text=text, choices=buttons), kind=kind,
                               key=f"arr:{arrival.id}:n:{pid}", at=now, priority=PRIORITY_CASE)
    audit.record(db, "arrival.notify", at=now, actor_label="router", object_type="arrival",
                 object_id=arrival.ref, officers=len(officers), heads=len(heads))
    return officers, heads


async def tell_officers(db: AsyncSession, arrival: Arrival, guest: Guest, what: str,
                        now: datetime, tz: ZoneInfo) -> None:
    """A stay ended or was extended: one line to the officers of the area."""
    for pid in await officers_for(db, arrival.area_id):
        lang = await notify.language_of(db, pid)
        until = f"{guest.stay_to:%d/%m/%Y}" if guest.stay_to else "?"
        text = t(lang, f"arrival.officer.{what}", ref=arrival.ref, name=esc(guest.full_name),
                 until=until, at=f"{now.astimezone(tz):%H:%M %d/%m/%Y}")
        await notify.to_person(db, pid, Reply(text=text), kind="arr_status",
                               key=f"arr:{arrival.id}:{what}:{guest.id}:{until}:{pid}", at=now,
                               priority=PRIORITY_STATUS)


async def acknowledge(db: AsyncSession, arrival: Arrival, officer_id: int,
                      now: datetime) -> bool:
    """First acknowledgement wins; the host reads "received" (Đã tiếp nhận)."""
    if arrival.acknowledged_at is not None:
        return False
    arrival.acknowledged_at, arrival.acknowledged_by = now, officer_id
    audit.record(db, "arrival.ack", at=now, actor_id=officer_id, object_type="arrival",
                 object_id=arrival.ref)
    if arrival.host_id is not None:
        lang = await notify.language_of(db, arrival.host_id)
        await notify.to_person(db, arrival.host_id,
                               Reply(text=t(lang, "arrival.acked_host", ref=arrival.ref)),
                               kind="arr_status", key=f"arr:{arrival.id}:ack", at=now,
                               priority=PRIORITY_STATUS)
    return True
