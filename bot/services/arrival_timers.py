"""Reminders for stays, as timer rows the scheduler fires: an unfinished declaration near
its deadline, a stay passing 30 days (temporary-residence registration), a stay reaching
its end date (extend or end)."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.messages import Choice, Reply, esc
from bot.i18n import t
from bot.services import notify, timers
from broadcasts.outbox import PRIORITY_STATUS
from storage.tables import Arrival, Conversation, Guest, Identity, Timer

DRAFT = "arr_draft"
STAY_30 = "arr_30d"
STAY_END = "arr_end"
REMIND_AT = time(9, 0)  # local time of the stay reminders
TEMPORARY_RESIDENCE_DAYS = 30


async def _reschedule(db: AsyncSession, kind: str, ref: object, due: datetime,
                      **data: object) -> None:
    """One pending timer of ``kind`` for ``ref``, due at ``due`` (old ones replaced)."""
    await db.execute(delete(Timer).where(Timer.kind == kind, Timer.ref == str(ref),
                                         Timer.state.in_(("pending", "cancelled"))))
    await timers.schedule(db, kind, ref, due, **data)


async def schedule_draft(db: AsyncSession, person_id: int, token: str, at: datetime,
                         deadline_text: str) -> None:
    """Remind at ``at`` unless the draft ``token`` was submitted or dropped by then."""
    await _reschedule(db, DRAFT, person_id, at, token=token, deadline=deadline_text)


async def cancel_draft(db: AsyncSession, person_id: int) -> None:
    await timers.cancel(db, DRAFT, person_id)


async def schedule_stay(db: AsyncSession, guest: Guest, tz: ZoneInfo) -> None:
    if guest.stay_to is not None:
        await _reschedule(db, STAY_END, guest.id, datetime.combine(guest.stay_to, REMIND_AT, tz),
                          day=guest.stay_to.isoformat())
        day30 = guest.stay_from + timedelta(days=TEMPORARY_RESIDENCE_DAYS)
        if guest.stay_to >= day30:
            await _reschedule(db, STAY_30, guest.id, datetime.combine(day30, REMIND_AT, tz))


async def cancel_stay(db: AsyncSession, guest_id: int) -> None:
    await timers.cancel(db, STAY_END, guest_id)
    await timers.cancel(db, STAY_30, guest_id)


async def _host_of(db: AsyncSession, guest: Guest) -> tuple[Arrival | None, int | None]:
    arrival = await db.get(Arrival, guest.arrival_id)
    return arrival, arrival.host_id if arrival else None


def stay_buttons(guest_id: int, lang: str) -> tuple[tuple[Choice, ...], ...]:
    return ((Choice(t(lang, "arrival.host.extend"), f"!arr_ext:{guest_id}"),
             Choice(t(lang, "arrival.host.end"), f"!arr_end:{guest_id}")),)


async def on_stay_end(db: AsyncSession, timer: Timer, now: datetime) -> None:
    """The last planned day: ask the host to extend or end the stay."""
    guest = await db.get(Guest, int(timer.ref))
    if guest is None or guest.ended_at is not None or guest.stay_to is None \
            or guest.stay_to.isoformat() != timer.data.get("day"):
        return
    arrival, host_id = await _host_of(db, guest)
    if arrival is None or host_id is None:
        return
    lang = await notify.language_of(db, host_id)
    text = t(lang, "arrival.remind.end", name=esc(guest.full_name),
             day=f"{guest.stay_to:%d/%m/%Y}", ref=arrival.ref)
    await notify.to_person(db, host_id, Reply(text=text, choices=stay_buttons(guest.id, lang)),
                           kind="arr_remind", key=f"arr:{arrival.id}:end:{guest.id}:"
                           f"{guest.stay_to}", at=now, priority=PRIORITY_STATUS)


async def on_stay_30(db: AsyncSession, timer: Timer, now: datetime) -> None:
    """Day 30 of a stay that goes on: temporary residence must be registered."""
    guest = await db.get(Guest, int(timer.ref))
    if guest is None or guest.ended_at is not None:
        return
    arrival, host_id = await _host_of(db, guest)
    if arrival is None or host_id is None:
        return
    lang = await notify.language_of(db, host_id)
    text = t(lang, "arrival.remind.day30", name=esc(guest.full_name),
             since=f"{guest.stay_from:%d/%m/%Y}", ref=arrival.ref)
    await notify.to_person(db, host_id, Reply(text=text, choices=stay_buttons(guest.id, lang)),
                           kind="arr_remind", key=f"arr:{arrival.id}:d30:{guest.id}", at=now,
                           priority=PRIORITY_STATUS)


async def on_draft(db: AsyncSession, timer: Timer, now: datetime) -> None:
    """A declaration still unfinished near its deadline: remind the host where they were."""
    idents = (await db.execute(select(Identity).where(
        Identity.person_id == int(timer.ref), Identity.reachable.is_(True)))).scalars().all()
    lang = await notify.language_of(db, int(timer.ref))
    for ident in idents:
        conv = (await db.execute(select(Conversation).where(
            Conversation.channel == ident.channel, Conversation.chat_id == ident.chat_id,
            Conversation.user_id == ident.user_id))).scalar_one_or_none()
        draft = (conv.data or {}).get("draft", {}) if conv and conv.flow == "arrival" else {}
        if draft.get("token") != timer.data.get("token"):
            continue
        reply = Reply(text=t(lang, "arrival.remind.draft", n=len(draft.get("guests", [])),
                             due=timer.data.get("deadline", "")),
                      choices=((Choice(t(lang, "arrival.remind.resume"), "!arr_resume"),),))
        await notify.to_chat(db, ident.channel, ident.chat_id, reply, kind="arr_remind",
                             key=f"arrdraft:{timer.id}", at=now, person_id=int(timer.ref),
                             priority=PRIORITY_STATUS)


def handlers() -> dict[str, timers.TimerHandler]:
    return {DRAFT: on_draft, STAY_30: on_stay_30, STAY_END: on_stay_end}
