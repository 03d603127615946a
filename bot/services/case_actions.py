"""Officer actions on a case (acknowledge, ask, close), escalation, and who may take a
case over; shared by chat and console. Reassigning and passing a case on live in
``handover``, the reporter's answers in ``relay``."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.messages import Choice, Reply, esc
from bot.i18n import t
from bot.services import audit, cases, categories, notify, routing, timers, tips
from broadcasts import outbox
from broadcasts.dispatcher import Claimed
from storage.repos import areas
from storage.tables import Case, RoleGrant


async def acknowledge(db: AsyncSession, case: Case, officer_id: int, now: datetime) -> bool:
    """First acknowledgement wins; the reporter hears it in plain words."""
    if case.acknowledged_at is not None or case.status not in cases.OPEN:
        return False
    case.status, case.acknowledged_at = "acknowledged", now
    if case.assignee_id is None:
        case.assignee_id = officer_id
    await timers.cancel(db, tips.ACK_TIMER, case.id)
    await timers.cancel(db, tips.SOS_TIMER, case.id)
    await outbox.cancel(db, case_id=case.id, kind="sos_alert")
    await cases.add_message(db, case, author="system", body="acknowledged", now=now,
                            staff_id=officer_id)
    audit.record(db, "case.ack", at=now, actor_id=officer_id, object_type="case",
                 object_id=case.ref)
    await tips.tell_reporter(db, case, "status.acknowledged", now)
    return True


async def ask_reporter(db: AsyncSession, case: Case, officer_id: int, text: str,
                       now: datetime, photo: tuple[str, str, int] | None = None) -> bool:
    """Relay a question; False when the reporter can no longer be reached."""
    msg = await cases.add_message(db, case, author="staff", body=text, now=now,
                                  staff_id=officer_id, photo=photo)
    lang = await tips.reporter_lang(db, case)
    body = t(lang, "relay.question", ref=case.ref, text=esc(text))
    reply = Reply(text=body, choices=((Choice(t(lang, "relay.answer"), f"!reply:{case.id}"),),))
    # Keyed by the message, not the time: two questions within a second are two messages.
    return await tips.tell_reporter(db, case, f"relay:{msg.id}", now, reply=reply,
                                    photo_sha=photo[0] if photo else "")


async def colleagues(db: AsyncSession, case: Case, exclude: int) -> list[int]:
    """Officers and leaders of the case's area chain, for reassignment."""
    if case.area_id is None:
        return []
    area = await areas.by_id(db, case.area_id)
    assert area is not None
    chain = [a.id for a in await areas.ancestors(db, area)]
    ids = await routing.staff_on(db, chain, ("officer", "leader"))
    return [i for i in ids if i != exclude]


async def close(db: AsyncSession, case: Case, outcome: str, note: str, actor_id: int,
                now: datetime) -> None:
    """Close with an outcome and a reason; the reporter is told and asked for a rating."""
    if outcome not in cases.OUTCOMES:
        raise ValueError(outcome)
    case.status, case.outcome, case.outcome_note, case.closed_at = "closed", outcome, note, now
    if case.acknowledged_at is None:
        case.acknowledged_at = now
    await timers.cancel(db, tips.ACK_TIMER, case.id)
    await timers.cancel(db, tips.SOS_TIMER, case.id)
    await cases.add_message(db, case, author="system", body=f"closed: {outcome}: {note}",
                            now=now, staff_id=actor_id)
    audit.record(db, "case.close", at=now, actor_id=actor_id, object_type="case",
                 object_id=case.ref, outcome=outcome)
    from bot.services import privacy  # it imports tips, which this module imports
    await privacy.on_case_closed(db, case, now)
    lang = await tips.reporter_lang(db, case)
    text = t(lang, "status.closed", ref=case.ref, outcome=t(lang, f"outcome.{outcome}"),
             note=esc(note)) + "\n\n" + t(lang, "status.rate")
    stars = tuple(Choice("⭐" * n, f"!rate:{case.id}:{n}") for n in range(1, 6))
    await tips.tell_reporter(db, case, "closed", now,
                             reply=Reply(text=text, choices=(stars[:3], stars[3:])))


async def escalate(db: AsyncSession, case: Case, now: datetime, reason: str, *,
                   remind: bool = True) -> bool:
    """Remind the assignee and alert the next level of leaders that has anyone reachable
    (a tier whose accounts all failed is skipped); schedule the next check."""
    if case.status not in ("new", "routed"):
        return False
    level = case.escalation_level + 1
    leaders = await _leaders_at_level(db, case, level)
    while leaders and not [p for p in leaders if await reachable(db, p)]:
        level += 1
        leaders = await _leaders_at_level(db, case, level)
    case.escalation_level = level
    if case.assignee_id and remind:
        lang = await notify.language_of(db, case.assignee_id)
        await notify.to_person(db, case.assignee_id, Reply(
            text=t(lang, "officer.reminder", ref=case.ref),
            choices=tips.officer_buttons(case, lang)), kind="case_escalate",
            key=f"case:{case.id}:remind:{level}", at=now, case_id=case.id,
            priority=outbox.PRIORITY_CASE)
    for pid in leaders:
        await tips._notify_staff(db, case, pid, now, kind="case_escalate",
                                 key=f"case:{case.id}:esc:{level}:{pid}",
                                 heading_key="officer.escalated")
    cat = await categories.get(db, case.category_code, None)
    wait = timedelta(minutes=cat.ack_minutes if cat else 60)
    if leaders:
        await timers.schedule(db, tips.ACK_TIMER, case.id, now + wait, level=level)
    audit.record(db, "case.escalate", at=now, actor_label="scheduler", object_type="case",
                 object_id=case.ref, level=level, reason=reason, leaders=len(leaders))
    return bool(leaders)


async def _leaders_at_level(db: AsyncSession, case: Case, level: int) -> list[int]:
    """Level 1: the nearest leaders above the case (village → commune); level 2: the next
    tier that has any (e.g. the province); beyond the top there is no one left."""
    if case.area_id is None:
        return []
    area = await areas.by_id(db, case.area_id)
    assert area is not None
    tiers: list[list[int]] = []
    seen: set[int] = {case.assignee_id or 0}
    for a in await areas.ancestors(db, area):
        ids = [i for i in await routing.staff_on(db, [a.id], ("leader", "admin"))
               if i not in seen]
        if ids:
            tiers.append(ids)
            seen.update(ids)
    return tiers[level - 1] if level <= len(tiers) else []


# --- dispatcher hooks ------------------------------------------------------------

async def on_notify_sent(db: AsyncSession, rows: Sequence[Claimed], now: datetime) -> None:
    """The officer really got the tip: only now does the reporter hear "received"."""
    for row in rows:
        case = await db.get(Case, row.case_id) if row.case_id else None
        if case is not None and case.delivered_at is None:
            case.delivered_at = now
            await tips.tell_reporter(db, case, "status.delivered", now)


async def backup_for(db: AsyncSession, case: Case, failed_person: int | None) -> int | None:
    cat = await categories.get(db, case.category_code, None)
    area = await areas.by_id(db, case.area_id) if case.area_id else None
    if area is None:
        return None
    target = await routing.resolve(db, area, case.category_code,
                                   team_visible=bool(cat and cat.team_visible))
    for pid in (target.officer_id, target.backup_id):
        if pid and pid != failed_person and await reachable(db, pid):
            return pid
    for pid in await colleagues(db, case, exclude=failed_person or 0):
        if await reachable(db, pid):
            return pid
    return None


async def reachable(db: AsyncSession, person_id: int) -> bool:
    from storage.tables import Identity
    row = (await db.execute(select(Identity.id).where(
        Identity.person_id == person_id, Identity.reachable.is_(True)).limit(1))).first()
    grant = (await db.execute(select(RoleGrant.id).where(
        RoleGrant.person_id == person_id, RoleGrant.revoked_at.is_(None)).limit(1))).first()
    return row is not None and grant is not None
