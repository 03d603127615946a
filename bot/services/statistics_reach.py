"""Figures beyond tips: declarations of guests per day and how far broadcasts reached.

Same conventions as :mod:`bot.services.statistics` (scope of area ids or ``None`` for all,
a :class:`Period`, a :class:`Table` of plain numbers).
"""

from __future__ import annotations

from collections import Counter, defaultdict

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.statistics import Period, Table
from storage.tables import Arrival, Broadcast, Delivery, GroupChat, Guest, Person

DELIVERY_STATES = ("sent", "failed", "unreachable", "pending", "cancelled")


async def arrivals_per_day(db: AsyncSession, scope: set[int] | None, period: Period) -> Table:
    """Declarations submitted per local day, the guests they named, and how many were late."""
    stmt = (select(Arrival.submitted_at, Arrival.on_time, func.count(Guest.id))
            .join(Guest, Guest.arrival_id == Arrival.id)
            .where(Arrival.submitted_at >= period.start, Arrival.submitted_at <= period.end)
            .group_by(Arrival.id, Arrival.submitted_at, Arrival.on_time))
    if scope is not None:
        stmt = stmt.where(Arrival.area_id.in_(scope))
    decl: Counter[str] = Counter()
    guests: Counter[str] = Counter()
    late: Counter[str] = Counter()
    for submitted, on_time, n in (await db.execute(stmt)).all():
        day = period.day_of(submitted).isoformat()
        decl[day] += 1
        guests[day] += int(n)
        late[day] += 0 if on_time else 1
    table = Table("arrivals_per_day", ["day", "declarations", "guests", "late"])
    for d in period.days():
        key = d.isoformat()
        table.rows.append([key, decl[key], guests[key], late[key]])
    return table


def _reach_stmt(scope: set[int] | None, period: Period):  # type: ignore[no-untyped-def]
    stmt = (select(Delivery.broadcast_id, Delivery.state, func.count())
            .where(Delivery.broadcast_id.is_not(None), Delivery.created_at >= period.start,
                   Delivery.created_at <= period.end)
            .group_by(Delivery.broadcast_id, Delivery.state))
    if scope is not None:
        # A resident counts where they live; a group chat where it is linked.
        stmt = (stmt.outerjoin(Person, Person.id == Delivery.person_id)
                .outerjoin(GroupChat, (GroupChat.channel == Delivery.channel)
                           & (GroupChat.chat_id == Delivery.chat_id) & Delivery.is_group)
                .where(or_(Person.home_area_id.in_(scope), GroupChat.area_id.in_(scope))))
    return stmt


async def broadcast_reach(db: AsyncSession, scope: set[int] | None, period: Period) -> Table:
    """Per broadcast: messages queued in the period and how each ended (within the scope)."""
    per: dict[int, Counter[str]] = defaultdict(Counter)
    for bid, state, n in (await db.execute(_reach_stmt(scope, period))).all():
        per[int(bid)]["claimed" if state == "claimed" else state] += int(n)
    topics = dict((await db.execute(select(Broadcast.id, Broadcast.topic).where(
        Broadcast.id.in_(list(per))))).all()) if per else {}
    table = Table("broadcast_reach", ["broadcast", "topic", "recipients", *DELIVERY_STATES])
    for bid in sorted(per):
        c = per[bid]
        pending = c["pending"] + c["claimed"]
        table.rows.append([bid, topics.get(bid, ""), sum(c.values()), c["sent"], c["failed"],
                           c["unreachable"], pending, c["cancelled"]])
    return table
