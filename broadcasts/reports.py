"""Delivery reports: when an occurrence is finished its author gets the figures
(recipients, delivered, failed by reason, unreachable, how long sending took), and
``/thongke`` lists them for recent notices."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, tzinfo

from sqlalchemy import exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bot.domain.messages import Reply, esc
from bot.i18n import t
from bot.services import notify
from broadcasts import templates
from broadcasts.outbox import PRIORITY_STATUS
from storage.tables import Broadcast, BroadcastOccurrence, Delivery

OPEN = ("pending", "claimed", "held")  # a delivery that may still go out


@dataclass
class Figures:
    recipients: int = 0
    delivered: int = 0
    failed: int = 0
    unreachable: int = 0
    cancelled: int = 0
    reasons: Counter[str] = field(default_factory=Counter)
    duration: timedelta | None = None


def reason(error: str | None) -> str:
    """The kind of failure, without anything that could name a chat."""
    return ((error or "unknown").split(":", 1)[0].strip() or "unknown")[:40]


async def figures(db: AsyncSession, occ: BroadcastOccurrence) -> Figures:
    rows = (await db.execute(select(Delivery.state, Delivery.last_error, func.count(),
                                    func.max(Delivery.sent_at))
                             .where(Delivery.occurrence_id == occ.id)
                             .group_by(Delivery.state, Delivery.last_error))).all()
    f = Figures()
    last: datetime | None = None
    for state, error, n, sent_at in rows:
        f.recipients += n
        if state == "sent":
            f.delivered += n
            last = max(last, sent_at) if last and sent_at else (sent_at or last)
        elif state == "failed":
            f.failed += n
            f.reasons[reason(error)] += n
        elif state == "unreachable":
            f.unreachable += n
        elif state == "cancelled":
            f.cancelled += n
    end = occ.finished_at or last
    if occ.started_at and end:
        f.duration = max(end - occ.started_at, timedelta())
    return f


def duration(lang: str, d: timedelta | None) -> str:
    if d is None:
        return "—"
    s = int(d.total_seconds())
    if s < 120:
        return t(lang, "bc.seconds", n=s)
    return t(lang, "time.minutes", n=s // 60) if s < 7200 else t(lang, "time.hours", n=s // 3600)


def title(bc: Broadcast, lang: str) -> str:
    entry = templates.library().get(bc.template)
    return esc(entry.title(lang) if entry else bc.template)


def report_text(lang: str, bc: Broadcast, occ: BroadcastOccurrence, f: Figures,
                tz: tzinfo) -> str:
    reasons = "".join(t(lang, "bc.reason", reason=esc(r), n=n) for r, n in f.reasons.items())
    return t(lang, "bc.report", id=bc.id, title=title(bc, lang),
             due=f"{occ.due_at.astimezone(tz):%d/%m/%Y %H:%M}", recipients=f.recipients,
             delivered=f.delivered, failed=f.failed, reasons=reasons,
             unreachable=f.unreachable, duration=duration(lang, f.duration))


async def finish(db: AsyncSession, now: datetime, tz: tzinfo) -> int:
    """Close occurrences with nothing left to send and report them; returns how many."""
    still = exists().where(Delivery.occurrence_id == BroadcastOccurrence.id,
                           Delivery.state.in_(OPEN))
    done = list((await db.execute(select(BroadcastOccurrence).where(
        BroadcastOccurrence.state == "sending", ~still))).scalars())
    for occ in done:
        bc = await db.get(Broadcast, occ.broadcast_id)
        f = await figures(db, occ)
        occ.state, occ.reported_at = "done", now
        occ.finished_at = occ.started_at + f.duration if occ.started_at and f.duration else now
        if bc is not None and bc.author_id is not None:
            lang = await notify.language_of(db, bc.author_id)
            await notify.to_person(db, bc.author_id, Reply(report_text(lang, bc, occ, f, tz)),
                                   kind="bc_report", key=f"bcreport:{occ.id}", at=now,
                                   priority=PRIORITY_STATUS)
    # A notice with nothing ahead and nothing being sent is done.
    busy = exists().where(BroadcastOccurrence.broadcast_id == Broadcast.id,
                          BroadcastOccurrence.state.in_(("due", "sending")))
    for bc in (await db.execute(select(Broadcast).where(
            Broadcast.status == "scheduled", Broadcast.next_due_at.is_(None), ~busy))).scalars():
        bc.status, bc.updated_at = "done", now
    return len(done)


async def recent(db: AsyncSession, area_ids: set[int] | None, limit: int = 10
                 ) -> list[tuple[Broadcast, BroadcastOccurrence, Figures]]:
    """The latest occurrences that went out (in ``area_ids``' notices; None: all)."""
    stmt = (select(BroadcastOccurrence, Broadcast).join(
        Broadcast, Broadcast.id == BroadcastOccurrence.broadcast_id)
        .where(BroadcastOccurrence.state.in_(("sending", "done")))
        .order_by(BroadcastOccurrence.due_at.desc(), BroadcastOccurrence.id.desc()).limit(limit))
    if area_ids is not None:
        stmt = stmt.where(Broadcast.area_id.in_(area_ids))
    rows = (await db.execute(stmt)).all()
    return [(bc, occ, await figures(db, occ)) for occ, bc in rows]
