"""SOS alerts: the on-duty officers of the area at once (most specific level first; with
nobody on duty, every officer, then the leaders), re-sent until acknowledged, then
escalated to the leaders. Priority 0: quiet hours and queues never delay them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.messages import Reply
from bot.i18n import t
from bot.services import audit, case_actions, duty, notify, timers, tips
from broadcasts.outbox import PRIORITY_SOS
from storage.repos import areas
from storage.tables import Case, Timer


async def on_duty(db: AsyncSession, case: Case) -> list[int]:
    """Who this round alerts: the on-duty officers nearest the case's area, or fallbacks
    (see :func:`bot.services.duty.sos_recipients`); nobody for a case without an area."""
    area = await areas.by_id(db, case.area_id) if case.area_id is not None else None
    return await duty.sos_recipients(db, area) if area is not None else []


async def alert(db: AsyncSession, case: Case, now: datetime, round_: int = 0) -> int:
    """Alert the on-duty officers (or the fallbacks); returns how many were alerted."""
    officers = await on_duty(db, case)
    for pid in officers:
        lang = await notify.language_of(db, pid)
        text = await tips.summary(db, case, lang, heading=t(lang, "sos.alert_heading"))
        await notify.to_person(db, pid, Reply(text=text, choices=tips.officer_buttons(case, lang)),
                               kind="sos_alert", key=f"case:{case.id}:sos:{round_}:{pid}",
                               at=now, case_id=case.id, priority=PRIORITY_SOS)
    case.status = "routed" if officers else "new"
    if officers and case.assignee_id is None:
        case.assignee_id = officers[0]
    if round_ < tips.SOS_MAX_RESENDS:
        await timers.schedule(db, tips.SOS_TIMER, case.id, now + tips.SOS_RESEND,
                              round=round_ + 1)
    audit.record(db, "case.sos_alert", at=now, actor_label="sos", object_type="case",
                 object_id=case.ref, officers=len(officers), round=round_)
    return len(officers)


async def on_timer(db: AsyncSession, timer: Timer, now: datetime) -> None:
    """Re-send while nobody acknowledged; after the last round, escalate."""
    case = await db.get(Case, int(timer.ref))
    if case is None or case.acknowledged_at is not None or case.status == "closed":
        return
    round_ = int(timer.data.get("round", 1))
    if round_ < tips.SOS_MAX_RESENDS:
        await alert(db, case, now, round_)
    else:
        await case_actions.escalate(db, case, now, reason="sos_unacknowledged")


async def on_ack_timer(db: AsyncSession, timer: Timer, now: datetime) -> None:
    """A tip passed its acknowledge target: remind and escalate one level."""
    case = await db.get(Case, int(timer.ref))
    if case is not None and case.acknowledged_at is None:
        await case_actions.escalate(db, case, now, reason="ack_overdue")
