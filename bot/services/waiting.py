"""Cases that waited for someone: a tip filed where nobody receives tips stays "new"
(the reporter was told it will be passed on as soon as someone does). When an officer
becomes responsible for the area — an invitation taken up, a routing rule set — the open
cases nobody was given are routed now, through the normal routing and notification."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services import categories, timers, tips
from storage.repos import areas
from storage.tables import Area, Case


async def waiting_in(db: AsyncSession, area: Area) -> list[Case]:
    """Open cases in ``area`` and below that nobody was given, oldest first."""
    ids = await areas.descendant_ids(db, [area.id])
    stmt = (select(Case).where(Case.status == "new", Case.assignee_id.is_(None),
                               Case.area_id.in_(ids))
            .order_by(Case.created_at, Case.id))
    return list((await db.execute(stmt)).scalars())


async def route_waiting(db: AsyncSession, area: Area, now: datetime, *,
                        trigger: str) -> list[Case]:
    """Route every waiting case of ``area`` (and below) that now has someone; returns them.

    ``trigger`` names what made someone responsible (``role.grant``, ``rule.set``) for the
    audit log. A case whose acknowledge target passed while nobody could see it gets the
    category's full acknowledge time from now: the officer cannot have missed it, so the
    escalation clock starts when the case reaches them. Its close target is unchanged.
    """
    routed: list[Case] = []
    for case in await waiting_in(db, area):
        target = await tips.target_for(db, case)
        if target.officer_id is None and target.group_chat_id is None:
            continue  # e.g. a "3 in 1" member was granted and this is a crime tip
        cat = await categories.get(db, case.category_code, None)
        due = now + timedelta(minutes=cat.ack_minutes if cat else 60)
        if case.ack_due_at is None or case.ack_due_at < due:
            await timers.cancel(db, tips.ACK_TIMER, case.id)  # route_and_notify sets anew
            case.ack_due_at = due
        case.escalation_level = 0  # an earlier check found no one to escalate to
        await tips.route_and_notify(db, case, now, trigger=trigger)
        routed.append(case)
    return routed
