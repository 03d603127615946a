"""A broadcast's delivery report over all its sendings, read from the delivery rows:
delivered, failed by reason (the broadcasts feature's own wording of a reason), unreachable,
waiting (pending, being sent, or held while paused), and messages sent per minute."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.services.statistics import Table
from broadcasts import outbox, reports
from storage.tables import BroadcastOccurrence, Delivery


@dataclass
class Report:
    states: dict[str, int]
    reasons: list[tuple[str, int]]
    occurrences: list[BroadcastOccurrence]
    rate: Table = field(default_factory=lambda: Table("rate", ["minute", "sent"]))

    @property
    def total(self) -> int:
        return sum(self.states.values())

    @property
    def delivered(self) -> int:
        return self.states.get("sent", 0)

    @property
    def waiting(self) -> int:
        return sum(self.states.get(s, 0) for s in reports.OPEN)


async def report(db: AsyncSession, broadcast_id: int, tz: object) -> Report:
    states = await outbox.counts(db, broadcast_id=broadcast_id)
    failed = (await db.execute(select(Delivery.last_error, func.count()).where(
        Delivery.broadcast_id == broadcast_id, Delivery.state == "failed")
        .group_by(Delivery.last_error))).all()
    reasons: Counter[str] = Counter()
    for error, n in failed:
        reasons[reports.reason(error)] += int(n)
    occ = list((await db.execute(select(BroadcastOccurrence).where(
        BroadcastOccurrence.broadcast_id == broadcast_id).order_by(BroadcastOccurrence.due_at)
        )).scalars())
    sent = (await db.execute(select(Delivery.sent_at).where(
        Delivery.broadcast_id == broadcast_id, Delivery.sent_at.is_not(None)))).scalars()
    per_minute = Counter(_minute(at, tz) for at in sent if at is not None)
    rep = Report(states, reasons.most_common(), occ)
    rep.rate.rows = [[m, n] for m, n in sorted(per_minute.items())]
    return rep


def _minute(at: datetime, tz: object) -> str:
    return at.astimezone(tz).strftime("%Y-%m-%d %H:%M")  # type: ignore[arg-type]
